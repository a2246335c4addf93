/**
 * Attribution: which code an allocation belongs to. An allocation with a
 * JavaScript frame belongs to its innermost *user* JS frame — the
 * profiler's own frames and Deno's `ext:`/`node:` runtime frames are
 * skipped, so `encoder.encode(x)` is the user's line, not `encode
 * ext:core/…`. An allocation without one belongs to the runtime: the kind
 * of thread that made it plus the first named native frame.
 *
 * @module
 */

import { type Frame, JIT_MODULE } from "../symbols/symbolizer.ts";

/**
 * What an allocation is attributed to: user JavaScript; else a named native
 * function outside the runtime (a library the program loaded, e.g. with
 * `Deno.dlopen`); else the runtime itself, by kind of thread.
 */
export type Attribution =
  | { kind: "js"; frame: Frame; index: number; topLevel: boolean }
  | { kind: "native"; frame: Frame; thread: ThreadKind }
  | { kind: "runtime"; thread: ThreadKind };

/** The kinds of thread a Deno process runs, from the kernel thread name (`/proc/self/task/<tid>/comm`). */
export type ThreadKind = "main" | "v8-worker" | "tokio" | "other" | "unknown";

/** The profiler's own modules: its frames are never the answer. */
const OWN_FOLDERS = ["api/", "ffi/", "symbols/", "cli/", "cli.ts", "mod.ts"].map((part) =>
  new URL(`../${part}`, import.meta.url).href
);

/** True for frames of the profiler itself (this package's `api/`, `ffi/`, `symbols/`, CLI and `mod.ts`). */
export function isProfilerFrame(frame: Frame): boolean {
  const file = frame.file ?? "";
  return frame.kind === "js" && OWN_FOLDERS.some((prefix) => file.startsWith(prefix));
}

/** True for JS frames of Deno's own runtime (`ext:`, `node:`), not the user's code. */
export function isRuntimeScript(frame: Frame): boolean {
  return /^(ext|node):/.test(frame.file ?? "");
}

let denoPath: string | undefined;

/** The deno executable: its frames are the runtime's (it is stripped: they have no names). */
function denoExecutable(): string {
  denoPath ??= Deno.execPath();
  return denoPath;
}

/** Shared libraries whose frames are plumbing (the allocator, the C++ runtime, the loader), never a place to look. */
const PLUMBING = /^(libc|libstdc\+\+|libgcc_s|ld-linux[^/]*|libm|libpthread|libmod_alloc)[.-]/;

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** True for native frames in glibc, libstdc++, the loader or the profiler's library. */
export function isPlumbingFrame(frame: Frame): boolean {
  return PLUMBING.test(baseName(frame.module ?? ""));
}

/**
 * The innermost user JS frame, or undefined when the stack has none.
 * Frames are innermost first.
 */
function innermostUserFrame(frames: readonly Frame[]): { frame: Frame; index: number } | undefined {
  for (let index = 0; index < frames.length; index++) {
    const frame = frames[index];
    if (frame.kind === "js" && !isRuntimeScript(frame) && !isProfilerFrame(frame)) return { frame, index };
  }
  return undefined;
}

/**
 * Module top level code, labelled the same whether V8 named it `Script:`
 * (our "(top level)") or, as it does for a module's body, an anonymous
 * function: run through `GeneratorPrototypeNext`/`AsyncModuleEvaluate`
 * before a top-level `await`, resumed from a microtask at 1:1 after it. A
 * CommonJS module's body is Deno's wrapper function at 1:1, run by
 * node:module's `require`. No JS function of the user's calls any of them
 * directly.
 *
 * @param frames The stack, innermost first.
 * @param index The JS frame asked about.
 */
export function isTopLevel(frames: readonly Frame[], index: number): boolean {
  const frame = frames[index];
  if (frame.symbol === "(top level)") return true;
  if (frame.symbol !== "(anonymous)") return false;
  const outer = frames.slice(index + 1);
  const atStart = frame.line === 1 && frame.column === 1;
  const caller = outer.find((candidate) => candidate.kind === "js");
  if (atStart && caller !== undefined && isRuntimeScript(caller)) return true;
  const userCaller = outer.some((candidate) =>
    candidate.kind === "js" && !isRuntimeScript(candidate) && !isProfilerFrame(candidate)
  );
  if (userCaller) return false;
  return atStart || outer.some((candidate) => MODULE_EVALUATION.has(candidate.symbol ?? ""));
}

/** V8 builtins that run a module's body. */
const MODULE_EVALUATION = new Set(["Builtin:GeneratorPrototypeNext", "Builtin:AsyncModuleEvaluate"]);

/**
 * Whose allocation this stack is.
 *
 * @param frames The stack, innermost first.
 * @param threadName The kernel name of the allocating thread, when the core recorded it.
 */
export function attribute(frames: readonly Frame[], threadName?: string): Attribution {
  const user = innermostUserFrame(frames);
  if (user !== undefined) return { kind: "js", ...user, topLevel: isTopLevel(frames, user.index) };
  const thread = threadKind(threadName, frames);
  const native = firstNamedNative(frames);
  return native === undefined ? { kind: "runtime", thread } : { kind: "native", frame: native, thread };
}

/** The first native frame with a name, outside glibc, libstdc++, the loader, the profiler and the deno binary. */
export function firstNamedNative(frames: readonly Frame[]): Frame | undefined {
  return frames.find((frame) =>
    frame.kind === "native" && frame.symbol !== undefined && !isPlumbingFrame(frame) && !isRuntimeModule(frame.module)
  );
}

/** The deno binary and V8's generated code (builtins, stubs): the runtime, not a place to look. */
function isRuntimeModule(module: string | undefined): boolean {
  return module === JIT_MODULE || module === denoExecutable();
}

/** Describes a frame in one short string: `symbol file:line:column`, else `module+0xoffset`. */
export function describeFrame(frame: Frame): string {
  const where = frame.file === undefined
    ? ""
    : ` ${frame.file}${frame.line === undefined ? "" : `:${frame.line}`}${
      frame.line === undefined || frame.column === undefined ? "" : `:${frame.column}`
    }`;
  if (frame.symbol !== undefined) return `${frame.symbol}${where}`;
  return unnamedFrameText(frame);
}

/** A frame without a symbol: `module+0xoffset`, or `0xaddress (module)` when the offset is unknown. */
export function unnamedFrameText(frame: Frame): string {
  const module = frame.module === undefined ? "?" : baseName(frame.module);
  return frame.offset === undefined
    ? `0x${frame.address.toString(16)} (${module})`
    : `${module}+0x${frame.offset.toString(16)}`;
}

/**
 * The kind of thread, from its kernel name. Without one (the core does not
 * record it yet), a stack with JavaScript or V8's generated code on it, or
 * rooted in `__libc_start_main`, is the main thread (or a Worker: a thread
 * that runs JS); anything else is unknown — V8's background threads and
 * Tokio's cannot be told apart from a deep main-thread stack whose walk was
 * cut.
 */
export function threadKind(threadName: string | undefined, frames: readonly Frame[]): ThreadKind {
  if (threadName !== undefined) {
    if (threadName === "deno" || threadName === "main") return "main";
    if (threadName.startsWith("V8 ")) return "v8-worker";
    if (threadName.startsWith("tokio")) return "tokio";
    return "other";
  }
  const runsJs = frames.some((frame) => frame.kind === "js" || frame.module === JIT_MODULE);
  if (runsJs || /^(__libc_start_(call_)?main|_start)$/.test(frames.at(-1)?.symbol ?? "")) return "main";
  return "unknown";
}

/** How a kind of thread is named in reports. */
export function threadKindLabel(kind: ThreadKind, threadName?: string): string {
  switch (kind) {
    case "main":
      return threadName === undefined
        ? "main thread or a Worker: Deno's runtime and V8, no JS of yours on the stack"
        : "main thread: Deno's runtime and V8, no JS of yours on the stack";
    case "v8-worker":
      return "V8 background threads (GC, compilers)";
    case "tokio":
      return "Tokio worker threads (Deno's async I/O)";
    case "other":
      return `thread "${threadName ?? "?"}"`;
    case "unknown":
      return "native (thread unknown): V8's GC and compilers, Deno's runtime; no JS on the stack";
  }
}

/** A kind of thread in a few words, for a native row's suffix. */
export function threadShortLabel(kind: ThreadKind, threadName?: string): string {
  switch (kind) {
    case "main":
      return "main thread";
    case "v8-worker":
      return "V8 background thread";
    case "tokio":
      return "Tokio worker";
    case "other":
      return `thread "${threadName ?? "?"}"`;
    case "unknown":
      return "thread unknown";
  }
}

/** `npm:name@version` for a file of Deno's npm cache or a `node_modules` folder; undefined otherwise. */
export function packageOf(file: string): string | undefined {
  const cached = /\/npm\/[^/]+\/((?:@[^/]+\/)?[^/@]+)\/(\d[^/]*)\//.exec(file);
  if (cached !== null) return `npm:${cached[1]}@${cached[2]}`;
  const modules = /\/node_modules\/(?:\.deno\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)\//.exec(file);
  if (modules !== null) return `npm:${modules[1]}`;
  const jsr = /^https:\/\/jsr\.io\/(@[^/]+\/[^/]+)\/([^/]+)\//.exec(file);
  if (jsr !== null) return `jsr:${jsr[1]}@${jsr[2]}`;
  return undefined;
}

/**
 * A file as a reader wants it: a file of an npm package as
 * `npm:name@version/path`, anything else as it is.
 */
export function shortFile(file: string): string {
  const cached = /\/npm\/[^/]+\/((?:@[^/]+\/)?[^/@]+)\/(\d[^/]*)\/(.*)$/.exec(file);
  return cached === null ? file : `npm:${cached[1]}@${cached[2]}/${cached[3]}`;
}

/**
 * The name of thread `id` in the core's names table (`ffi/sites.ts`
 * `readThreadNames`, or a DHAT file's `modAlloc.threadNames`).
 *
 * @param names The table; index 0 is "unknown".
 * @param id The id a site or program point carries.
 * @returns The name, or undefined for id 0, an id out of range, or no table.
 */
export function threadNameOf(names: readonly string[] | undefined, id: number | undefined): string | undefined {
  if (names === undefined || id === undefined || id <= 0 || id >= names.length) return undefined;
  return names[id];
}

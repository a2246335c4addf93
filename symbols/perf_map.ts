/**
 * V8's perf map (`/tmp/perf-<pid>.map`, written with
 * `--perf-basic-prof`): JIT code address ranges and what they are.
 *
 * V8 reuses code addresses as it recompiles; entries are appended in time
 * order, so for an address the *latest* entry that covers it wins. A
 * report is made after the allocations it describes, so for code that
 * moved in between, the name is that of the newest code at that address.
 *
 * @module
 */

import { lastAtOrBelow } from "./search.ts";

/** One JIT code range. */
export interface PerfMapEntry {
  start: bigint;
  end: bigint;
  name: string;
  /** Order in the file: later entries replace earlier ones. */
  order: number;
}

/** A JIT frame, parsed from an entry's name. */
export interface JitFrame {
  kind: "js" | "native";
  symbol: string;
  file?: string;
  line?: number;
  column?: number;
}

/** Parses perf-map text. Malformed lines are skipped. */
export function parsePerfMap(text: string): PerfMapEntry[] {
  const entries: PerfMapEntry[] = [];
  let order = 0;
  for (const line of text.split("\n")) {
    const match = /^([0-9a-fA-F]+) ([0-9a-fA-F]+) (.+)$/.exec(line);
    if (match === null) continue;
    const start = BigInt(`0x${match[1]}`);
    const size = BigInt(`0x${match[2]}`);
    if (size === 0n) continue;
    entries.push({ start, end: start + size, name: match[3], order: order++ });
  }
  return entries;
}

/** A perf map larger than this is not read (V8's maps of big programs are tens of MiB). */
export const PERF_MAP_BYTES_MAX = 512 << 20;

/**
 * Where V8 wrote the perf map of process `pid`, given its V8 flags (or a
 * whole command line holding them): undefined unless `--perf-basic-prof`
 * is among them.
 */
export function perfMapPathOf(pid: number, flags: string): string | undefined {
  const asked = flags.split(/[\s,]+/).some((word) => /^(--v8-flags=)?--perf-basic-prof$/.test(word));
  if (!asked) return undefined;
  const directory = /--perf-basic-prof-path=([^\s,]+)/.exec(flags)?.[1] ?? "/tmp";
  return `${directory}/perf-${pid}.map`;
}

/** Where process `pid`'s perf map is, if it asked V8 for one (see {@linkcode PerfMap.forProcess}). */
export function perfMapPathFor(pid: number): string | undefined {
  return perfMapPathOf(pid, processV8Flags(pid));
}

/** The V8 flags process `pid` was started with, as one string ("" when unknown). */
function processV8Flags(pid: number): string {
  const parts: string[] = [];
  try {
    parts.push(Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " "));
    if (pid === Deno.pid) parts.push(Deno.env.get("DENO_V8_FLAGS") ?? "");
  } catch {
    // Not readable (no permission, or the process is gone): no map.
  }
  return parts.join(" ");
}

/** An index for lookups: entries sorted by start, latest entry wins. */
export class PerfMap {
  readonly #entries: PerfMapEntry[];
  readonly #maxSize: bigint;

  constructor(entries: PerfMapEntry[]) {
    this.#entries = [...entries].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.order - b.order));
    this.#maxSize = entries.reduce((max, entry) => (entry.end - entry.start > max ? entry.end - entry.start : max), 0n);
  }

  /**
   * The perf map of process `pid` if it asked V8 for one (`--perf-basic-prof`
   * in its command line, or in `DENO_V8_FLAGS` for this process), read from
   * the directory it named (`--perf-basic-prof-path`, default `/tmp`) by
   * {@linkcode PerfMap.fromFile}; an empty map otherwise. A process that
   * did not ask for a map is never given one: a stale map of a recycled
   * pid, or a file planted under its name, is not read.
   */
  static forProcess(pid: number): PerfMap {
    const path = perfMapPathFor(pid);
    return path === undefined ? new PerfMap([]) : PerfMap.fromFile(path);
  }

  /**
   * Reads a perf map only if it is a regular file owned by this user (or
   * root) and at most {@linkcode PERF_MAP_BYTES_MAX}: a FIFO planted under
   * the name is never opened (it would block), and a file planted by
   * another user is not trusted. A map that fails the checks or is missing
   * gives an empty map, with the reason in {@linkcode PerfMap.problem}.
   */
  static fromFile(path: string): PerfMap {
    const refused = (why: string) => Object.assign(new PerfMap([]), { problem: `${path} ${why}` });
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return new PerfMap([]);
      throw error;
    }
    if (!info.isFile) return refused("is not a regular file: not read");
    if (info.uid !== Deno.uid() && info.uid !== 0) return refused(`belongs to uid ${info.uid}: not read`);
    if (info.size > PERF_MAP_BYTES_MAX) return refused(`is larger than ${PERF_MAP_BYTES_MAX} bytes: not read`);
    using file = Deno.openSync(path, { read: true });
    const opened = file.statSync();
    // The name could have been swapped between the checks and the open.
    if (opened.ino !== info.ino || opened.dev !== info.dev) return refused("changed while being opened: not read");
    const bytes = new Uint8Array(Math.min(opened.size, PERF_MAP_BYTES_MAX));
    let done = 0;
    while (done < bytes.length) {
      const read = file.readSync(bytes.subarray(done));
      if (read === null || read === 0) break;
      done += read;
    }
    return new PerfMap(parsePerfMap(new TextDecoder().decode(bytes.subarray(0, done))));
  }

  /** Why a perf map was not read, when it was refused. */
  problem?: string;

  get size(): number {
    return this.#entries.length;
  }

  /** The latest entry covering `address`. */
  lookup(address: bigint): PerfMapEntry | undefined {
    // Entries that can cover `address` start in [address - maxSize, address].
    const last = lastAtOrBelow(this.#entries, (entry) => entry.start, address);
    let best: PerfMapEntry | undefined;
    for (let i = last; i >= 0; i--) {
      const entry = this.#entries[i];
      if (address - entry.start > this.#maxSize) break;
      if (address < entry.end && (best === undefined || entry.order > best.order)) best = entry;
    }
    return best;
  }
}

/**
 * `JS:~name file:///path.ts:12:3` (a function) or `Script:~ file:///…`
 * (top-level code) -> a JS frame; builtins, stubs and bytecode handlers
 * stay native. The character after the colon is V8's tier (~ interpreted,
 * ^ baseline, + Maglev, * TurboFan), with an `o` before it for code
 * entered on-stack (OSR) and a `'` after it for code specialised to its
 * context.
 */
export function parseJitName(name: string): JitFrame {
  const js = /^(JS|Script):(?:o?[~*^+-]'?)?(.*?)(?: ?(\S+?):(\d+):(\d+))?$/.exec(name);
  if (js === null) return { kind: "native", symbol: name };
  const [, type, fn, file, line, column] = js;
  return {
    kind: "js",
    symbol: fn !== "" ? fn : type === "Script" ? "(top level)" : "(anonymous)",
    file,
    line: line === undefined ? undefined : Number(line),
    column: column === undefined ? undefined : Number(column),
  };
}

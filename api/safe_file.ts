/**
 * The one way mod-alloc writes a file (DHAT files, flame graphs, bench
 * JSON), the same rule as the library's writer (`core/safe_file.zig`):
 *
 * - a regular or missing target is written to a randomly named staging
 *   file in its directory, created exclusively (`O_CREAT|O_EXCL`, which
 *   never follows a symlink) with mode 0600, then renamed over the target:
 *   the file appears whole or not at all, and a symlink planted in a shared
 *   directory is never written through;
 * - a character device (`/dev/null`, a terminal) is written in place;
 * - a directory, FIFO, socket or block device is refused, never replaced.
 *
 * Reports are private (0600) because they hold the program's command line
 * and memory map.
 *
 * @module
 */

import { ReportError } from "../types/errors.ts";

/** What is at a path, as far as writing to it goes. */
export type TargetKind = "missing" | "regular" | "device" | "directory" | "special";

/**
 * Characters of the target's name kept in a staging name: at most 4 bytes
 * each in UTF-8, plus the random part, stays under NAME_MAX (255 bytes).
 */
const STAGING_BASE_MAX = 50;

function kindOf(info: Deno.FileInfo): TargetKind {
  if (info.isFile) return "regular";
  if (info.isDirectory) return "directory";
  if (info.isCharDevice) return "device";
  return "special";
}

/**
 * What writing to `path` would do: replace a regular file (or create a
 * missing one), write a device in place, or refuse. A symlink owned by
 * someone other than the user or root is not followed (it would be
 * replaced, as rename replaces a link).
 *
 * @param path The file to be written.
 * @returns Its kind; `"directory"` and `"special"` are refused by {@linkcode writeFileSafely}.
 */
export function targetKind(path: string): TargetKind {
  let link: Deno.FileInfo;
  try {
    link = Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "missing";
    throw error;
  }
  if (!link.isSymlink) return kindOf(link);
  if (link.uid !== 0 && link.uid !== Deno.uid()) return "regular";
  try {
    return kindOf(Deno.statSync(path));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "missing";
    throw error;
  }
}

/** Why a kind of target is refused, for messages; undefined when it can be written. */
export function refusalOf(kind: TargetKind): string | undefined {
  if (kind === "directory") return "it is a directory: name a file in it";
  if (kind === "special") return "it is a FIFO, socket or block device, which is never replaced: name a regular file";
  return undefined;
}

function writeAll(file: Deno.FsFile, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += file.writeSync(bytes.subarray(done));
}

/**
 * A name beside `path` that no one can predict (`.<name>.<random>.<suffix>`
 * in its directory), for a staging or scratch file that needs the same
 * write permission as `path` itself.
 */
export function randomSibling(path: string, suffix: string): string {
  const slash = path.lastIndexOf("/");
  const directory = path.slice(0, slash + 1);
  const base = path.slice(slash + 1).slice(0, STAGING_BASE_MAX);
  const random = crypto.getRandomValues(new Uint32Array(2));
  return `${directory}.${base}.${random[0].toString(16)}${random[1].toString(16)}.${suffix}`;
}

/**
 * Writes `data` to `path` by the rule above.
 *
 * Needs `--allow-read` and `--allow-write` for the target's directory.
 *
 * @param path The file to write.
 * @param data Its contents (strings are written as UTF-8).
 * @param what What the file is, for messages ("the DHAT file").
 * @throws {ReportError} When the target is refused or cannot be written; nothing is left behind.
 *
 * @example
 * ```ts
 * import { writeFileSafely } from "./safe_file.ts";
 *
 * const dir = Deno.makeTempDirSync();
 * writeFileSafely(`${dir}/report.json`, "{}");
 * console.log((Deno.statSync(`${dir}/report.json`).mode! & 0o777).toString(8)); // "600"
 * ```
 */
export function writeFileSafely(path: string, data: string | Uint8Array, what = "the file"): void {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const fail = (why: string, cause?: unknown) => new ReportError(`Cannot write ${what} ${path}: ${why}.`, { cause });
  if (path === "") throw fail("the path is empty");
  let kind: TargetKind;
  try {
    kind = targetKind(path);
  } catch (error) {
    throw fail(describe(error), error);
  }
  const refusal = refusalOf(kind);
  if (refusal !== undefined) throw fail(refusal);
  if (kind === "device") {
    try {
      using device = Deno.openSync(path, { write: true });
      writeAll(device, bytes);
    } catch (error) {
      throw fail(describe(error), error);
    }
    return;
  }
  let staging = "";
  for (let attempt = 0; attempt < 4 && staging === ""; attempt++) {
    const candidate = randomSibling(path, "tmp");
    try {
      using file = Deno.openSync(candidate, { write: true, createNew: true, mode: 0o600 });
      staging = candidate;
      writeAll(file, bytes);
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) continue;
      if (staging !== "") Deno.removeSync(staging);
      throw fail(describe(error), error);
    }
  }
  if (staging === "") throw fail("no staging name was free");
  try {
    Deno.renameSync(staging, path);
  } catch (error) {
    Deno.removeSync(staging);
    throw fail(describe(error), error);
  }
}

function describe(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "its directory does not exist";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.NotCapable) return `${(error as Error).message} (grant --allow-write for it)`;
  return (error as Error).message;
}

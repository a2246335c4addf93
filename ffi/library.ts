/**
 * Finding and opening libmod_alloc.so, in this order:
 *
 * 1. `MOD_ALLOC_LIB`, an explicit path (then the only candidate: silently
 *    using another copy would hide a typo);
 * 2. a copy preloaded with `LD_PRELOAD` (or already mapped into the process:
 *    the preloaded library leaves LD_PRELOAD at start), so the module talks
 *    to the instance that is already counting;
 * 3. a build next to this module (`zig-out/lib/`, when imported from a
 *    `file:` checkout);
 * 4. the verified cache of the release's prebuilt library;
 * 5. a download of it ({@linkcode resolveLibrary}, asynchronous: see
 *    `ModAlloc.load()`), checked against the pinned SHA-256.
 *
 * The library is opened once per process and never closed: GOT slots may
 * point into it. Environment variables are read only when `--allow-env`
 * already grants them (no prompt); a variable that could not be read is
 * named in the error, with the flag that would let it be read.
 *
 * @module
 */

import { AbiMismatchError, LibraryNotFoundError, UnsupportedPlatformError } from "../types/errors.ts";
import { readEnvVar } from "./env.ts";
import { ABI_VERSION } from "./layout.ts";
import { cacheDirectory, downloadToCache, releaseAsset, releaseTarget, verifiedCachedCopy } from "./library_cache.ts";
import { type NativeLibrary, symbols } from "./symbols.ts";

/** File name of the library on Linux. */
export const LIBRARY_FILE = "libmod_alloc.so";

/** The one command that builds the library from a checkout, for error messages. */
export const BUILD_COMMAND = "bash tools/dev.sh build";

let opened: NativeLibrary | undefined;

/** A path to try, and where it came from. */
export interface LibraryCandidate {
  path: string;
  source: string;
}

/** The candidates found without downloading, and why others were passed over. */
export interface LibrarySearch {
  candidates: LibraryCandidate[];
  notes: string[];
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch (error) {
    // Without read permission, let dlopen be the judge.
    return error instanceof Deno.errors.NotCapable;
  }
}

/** The library's file name: a build's, or a release asset's (`libmod_alloc-x86_64-linux-gnu.so`). */
const LIBRARY_NAME = /(?:^|\/)libmod_alloc(?:-[a-z0-9_]+)*\.so$/;

function preloadedCopy(): string | undefined {
  // ld.so splits LD_PRELOAD on colons and spaces.
  return (readEnvVar("LD_PRELOAD").value ?? "").split(/[:\s]+/).find((entry) => LIBRARY_NAME.test(entry));
}

/**
 * A libmod_alloc.so already mapped into this process: the preloaded
 * library removes itself from LD_PRELOAD at start (so that children run
 * unprofiled). Read only when read permission is already granted (no prompt).
 */
function mappedCopy(): string | undefined {
  const maps = "/proc/self/maps";
  if (Deno.permissions.querySync({ name: "read", path: maps }).state !== "granted") return undefined;
  try {
    return Deno.readTextFileSync(maps).split("\n").map((line) => /\s(\/\S.*)$/.exec(line)?.[1])
      .find((path) => path !== undefined && LIBRARY_NAME.test(path));
  } catch {
    return undefined;
  }
}

function cachedCopy(notes: string[]): LibraryCandidate | undefined {
  const asset = releaseAsset();
  if (asset === undefined) {
    notes.push(`no prebuilt library is released for ${releaseTarget()}`);
    return undefined;
  }
  const directory = cacheDirectory();
  if (directory.path === undefined) {
    notes.push(directory.problem!);
    return undefined;
  }
  try {
    const copy = verifiedCachedCopy(directory.path, asset);
    if (copy.path !== undefined) return { path: copy.path, source: "cache" };
    notes.push(`cache: ${copy.problem}`);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
    notes.push(`cache: reading ${directory.path} needs --allow-read=${directory.path}`);
  }
  return undefined;
}

/**
 * The paths to try, in order, without downloading anything.
 *
 * @returns The candidates and notes on the places passed over.
 */
export function searchLibrary(): LibrarySearch {
  const notes: string[] = [];
  const explicit = readEnvVar("MOD_ALLOC_LIB");
  if (explicit.value !== undefined) return { candidates: [{ path: explicit.value, source: "MOD_ALLOC_LIB" }], notes };
  if (explicit.denied) notes.push("MOD_ALLOC_LIB was not read: it needs --allow-env=MOD_ALLOC_LIB");
  const candidates: LibraryCandidate[] = [];
  const preloaded = preloadedCopy();
  if (preloaded !== undefined) candidates.push({ path: preloaded, source: "LD_PRELOAD" });
  const mapped = mappedCopy();
  if (mapped !== undefined && mapped !== preloaded) candidates.push({ path: mapped, source: "loaded in this process" });
  const local = new URL(`../zig-out/lib/${LIBRARY_FILE}`, import.meta.url);
  if (local.protocol === "file:") {
    const path = decodeURIComponent(local.pathname);
    if (isFile(path)) candidates.push({ path, source: "next to the module" });
  }
  const cached = cachedCopy(notes);
  if (cached !== undefined) candidates.push(cached);
  return { candidates, notes };
}

/** The paths tried, in order, each with where it came from (no download). */
export function libraryCandidates(): LibraryCandidate[] {
  return searchLibrary().candidates;
}

function checkPlatform(): void {
  if (Deno.build.os !== "linux" || (Deno.build.arch !== "x86_64" && Deno.build.arch !== "aarch64")) {
    throw new UnsupportedPlatformError(
      `mod-alloc supports Linux on x86_64 and aarch64 with glibc; this is ${Deno.build.os}/${Deno.build.arch}.`,
    );
  }
}

function open(path: string): NativeLibrary {
  let library: NativeLibrary;
  try {
    library = Deno.dlopen(path, symbols);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) {
      throw new LibraryNotFoundError(
        `Opening ${path} needs FFI permission: run with --allow-ffi (plain --allow-ffi: reading the counters ` +
          `uses pointer views, which a path-scoped --allow-ffi=<file> does not cover).`,
        { cause: error },
      );
    }
    throw error;
  }
  const version = library.symbols.mod_alloc_abi_version();
  if (version !== ABI_VERSION) {
    library.close();
    throw new AbiMismatchError(
      `${path} speaks ABI version ${version}, but this module needs version ${ABI_VERSION}. ` +
        `Rebuild the library from this checkout with \`${BUILD_COMMAND}\`, or point MOD_ALLOC_LIB at a matching build.`,
    );
  }
  return library;
}

function notFound(tried: string[], notes: string[]): LibraryNotFoundError {
  const lines = [...tried, ...notes].map((line) => `  - ${line}`).join("\n") || "  (nothing)";
  return new LibraryNotFoundError(
    `Cannot load ${LIBRARY_FILE}. Looked at:\n${lines}\n` +
      `Call \`await ModAlloc.load()\` once before the first use: it downloads the prebuilt library of this release, ` +
      `checks its SHA-256 and caches it (needs --allow-net, and --allow-read/--allow-write on the cache directory). ` +
      `Or set MOD_ALLOC_LIB to a library you built (from a checkout: \`${BUILD_COMMAND}\`).`,
  );
}

/**
 * Opens the library once; later calls return the same instance. Never downloads.
 *
 * @returns The opened library.
 * @throws {LibraryNotFoundError} when no candidate can be opened (the message lists each and the fix).
 * @throws {AbiMismatchError} when the library was built for another version of this module.
 */
export function loadLibrary(): NativeLibrary {
  if (opened !== undefined) return opened;
  checkPlatform();
  const { candidates, notes } = searchLibrary();
  const tried: string[] = [];
  for (const { path, source } of candidates) {
    if (!isFile(path)) {
      tried.push(`${path} (${source}): no such file`);
      continue;
    }
    try {
      opened = open(path);
      return opened;
    } catch (error) {
      if (error instanceof AbiMismatchError || error instanceof LibraryNotFoundError) throw error;
      tried.push(`${path} (${source}): ${(error as Error).message}`);
    }
  }
  throw notFound(tried, notes);
}

/**
 * The path of a usable library, downloading and caching the release's
 * prebuilt one when nothing local is found. Does not open it.
 *
 * @returns The path and where it came from.
 * @throws {LibraryIntegrityError} when a downloaded file's digest is not the pinned one.
 * @throws {LibraryNotFoundError} when nothing is found and the download is impossible (the message names the flag).
 */
export async function resolveLibrary(): Promise<LibraryCandidate> {
  checkPlatform();
  const { candidates, notes } = searchLibrary();
  const found = candidates.find(({ path }) => isFile(path));
  if (found !== undefined) return found;
  if (candidates.some(({ source }) => source === "MOD_ALLOC_LIB")) {
    throw notFound([`${candidates[0].path} (MOD_ALLOC_LIB): no such file`], notes);
  }
  const asset = releaseAsset();
  const directory = cacheDirectory();
  if (asset === undefined || directory.path === undefined) throw notFound([], notes);
  try {
    return { path: await downloadToCache(directory.path, asset), source: "download" };
  } catch (error) {
    if (error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotADirectory) {
      throw new LibraryNotFoundError(
        `The mod-alloc cache directory ${directory.path} is not writable (${(error as Error).message}): ` +
          `set MOD_ALLOC_CACHE_DIR to a directory you can write, or MOD_ALLOC_LIB to a library you built.`,
        { cause: error },
      );
    }
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
    const message = (error as Error).message;
    const flag = /net access/i.test(message)
      ? `--allow-net (for the release server)`
      : `--allow-read=${directory.path} --allow-write=${directory.path}`;
    throw new LibraryNotFoundError(
      `Downloading the mod-alloc library needs ${flag}: ${message}. ` +
        `Or set MOD_ALLOC_LIB to a library you built.`,
      { cause: error },
    );
  }
}

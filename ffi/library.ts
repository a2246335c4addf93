/**
 * Finding and opening libmod_alloc.so: `MOD_ALLOC_LIB` names a path
 * explicitly; else a preloaded copy (`LD_PRELOAD`) is reused, so the module
 * talks to the instance that is already counting; else the build next to
 * this module (`zig-out/lib/`). The library is opened once per process and
 * never closed: GOT slots may point into it.
 *
 * @module
 */

import { AbiMismatchError, LibraryNotFoundError, UnsupportedPlatformError } from "../api/errors.ts";
import { ABI_VERSION } from "./layout.ts";
import { type NativeLibrary, symbols } from "./symbols.ts";

/** File name of the library on Linux. */
export const LIBRARY_FILE = "libmod_alloc.so";

/** The one command that builds the library, for error messages. */
export const BUILD_COMMAND = "bash tools/dev.sh build";

let opened: NativeLibrary | undefined;

function readEnv(name: string): string | undefined {
  try {
    const value = Deno.env.get(name);
    return value === "" ? undefined : value;
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) return undefined;
    throw error;
  }
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch (error) {
    // Without read permission, let dlopen be the judge.
    return error instanceof Deno.errors.NotCapable;
  }
}

/** The paths tried, in order, each with where it came from. */
export function libraryCandidates(): { path: string; source: string }[] {
  const candidates: { path: string; source: string }[] = [];
  const explicit = readEnv("MOD_ALLOC_LIB");
  if (explicit !== undefined) {
    // An explicit path is the only candidate: silently using another copy
    // would hide a typo.
    return [{ path: explicit, source: "MOD_ALLOC_LIB" }];
  }
  const preloaded = (readEnv("LD_PRELOAD") ?? "").split(/[:\s]+/).find((entry) =>
    entry.endsWith(`/${LIBRARY_FILE}`) || entry === LIBRARY_FILE
  );
  if (preloaded !== undefined) candidates.push({ path: preloaded, source: "LD_PRELOAD" });
  const local = new URL(`../zig-out/lib/${LIBRARY_FILE}`, import.meta.url);
  if (local.protocol === "file:") {
    candidates.push({ path: decodeURIComponent(local.pathname), source: "next to the module" });
  }
  return candidates;
}

function checkPlatform(): void {
  if (Deno.build.os !== "linux" || (Deno.build.arch !== "x86_64" && Deno.build.arch !== "aarch64")) {
    throw new UnsupportedPlatformError(
      `mod-alloc supports Linux on x86_64 and aarch64 with glibc; this is ${Deno.build.os}/${Deno.build.arch}.`,
    );
  }
}

function open(path: string): NativeLibrary {
  const library = Deno.dlopen(path, symbols);
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

/** Opens the library once; later calls return the same instance. */
export function loadLibrary(): NativeLibrary {
  if (opened !== undefined) return opened;
  checkPlatform();
  const candidates = libraryCandidates();
  const tried: string[] = [];
  for (const { path, source } of candidates) {
    if (!exists(path)) {
      tried.push(`${path} (${source}): no such file`);
      continue;
    }
    try {
      opened = open(path);
      return opened;
    } catch (error) {
      if (error instanceof AbiMismatchError || error instanceof Deno.errors.NotCapable) throw error;
      tried.push(`${path} (${source}): ${(error as Error).message}`);
    }
  }
  const list = tried.length > 0 ? tried.map((line) => `  - ${line}`).join("\n") : "  (none)";
  throw new LibraryNotFoundError(
    `Cannot load ${LIBRARY_FILE}. Tried:\n${list}\n` +
      `Build it with \`${BUILD_COMMAND}\` (output: zig-out/lib/${LIBRARY_FILE}), ` +
      `or set MOD_ALLOC_LIB to the path of a built library.`,
  );
}

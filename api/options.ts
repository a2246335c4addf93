/**
 * Validation of option values shared by the public API.
 *
 * @module
 */

import type { NativeLibrary } from "../ffi/symbols.ts";
import type { ThreadScope } from "../types/alloc_stats.ts";
import { OptionError } from "../types/errors.ts";

/** Options of `ModAlloc.install`. */
export interface InstallOptions {
  /** Record call sites (Tier 2). Default: `MOD_ALLOC_BACKTRACES`, else off. */
  backtraces?: boolean;
  /** Frames walked per allocation, 1-64. Default: `MOD_ALLOC_FRAMES`, else 16. */
  frames?: number;
  /** Site-table entries, 16 to 1048576. Default: `MOD_ALLOC_BUCKETS`, else 4096. */
  buckets?: number;
}

function integerOption(value: unknown, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new OptionError(
      `ModAlloc.install: option "${name}" must be a whole number from ${min} to ${max}; got ${JSON.stringify(value)}.`,
    );
  }
  return value;
}

/** Install options with the environment's settings as defaults. */
export function installSettings(options: InstallOptions, library: NativeLibrary): Required<InstallOptions> {
  const env = new Float64Array(3);
  library.symbols.mod_alloc_env_settings(env);
  if (options.backtraces !== undefined && typeof options.backtraces !== "boolean") {
    throw new OptionError(
      `ModAlloc.install: option "backtraces" must be true or false; got ${JSON.stringify(options.backtraces)}.`,
    );
  }
  return {
    backtraces: options.backtraces ?? env[0] === 1,
    frames: integerOption(options.frames, "frames", 1, 64, env[1]),
    buckets: integerOption(options.buckets, "buckets", 16, 1 << 20, env[2]),
  };
}

/** Checks a `thread` option; undefined means `fallback`. */
export function threadScope(value: unknown, where: string, fallback: ThreadScope): ThreadScope {
  if (value === undefined) return fallback;
  if (value === "all" || value === "current") return value;
  throw new OptionError(`${where}: option "thread" must be "all" or "current", got ${JSON.stringify(value)}.`);
}

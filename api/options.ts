/**
 * Validation of option values shared by the public API.
 *
 * @module
 */

import type { NativeLibrary } from "../ffi/symbols.ts";
import type { ThreadScope } from "../types/alloc_stats.ts";
import { OptionError } from "../types/errors.ts";

/**
 * Options of `ModAlloc.install`: call sites (Tier 2) and their table.
 * Each defaults to its environment variable, then to the value shown.
 */
export interface InstallOptions {
  /** Record call sites (Tier 2). Default: `MOD_ALLOC_BACKTRACES`, else off. */
  backtraces?: boolean;
  /** Frames walked per allocation, 1-64. Default: `MOD_ALLOC_FRAMES`, else 16. */
  frames?: number;
  /** Site-table entries, 16 to 1048576. Default: `MOD_ALLOC_BUCKETS`, else 4096. */
  buckets?: number;
  /**
   * Sampling mode: call sites for one allocation per this many bytes on
   * average (Poisson sampling by bytes; 524288 is Go's and jemalloc's
   * default), 1 to 1073741824. Per-site figures become unbiased estimates
   * with standard errors; allocation count and total bytes stay exact.
   * Implies call sites. Default: `MOD_ALLOC_SAMPLE`, else off.
   */
  sampleBytes?: number;
}

/** The largest `sampleBytes` (`sampler.interval_max` in the core). */
export const SAMPLE_BYTES_MAX = 1 << 30;

function integerOption(value: unknown, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new OptionError(
      `ModAlloc.install: option "${name}" must be a whole number from ${min} to ${max}; got ${JSON.stringify(value)}.`,
    );
  }
  return value;
}

/**
 * Install options with the environment's settings as defaults.
 *
 * @param options What the caller passed.
 * @param library The opened library (it parses the environment, as the preloaded copy does).
 * @returns Every setting, checked.
 * @throws {OptionError} When a value is out of range.
 */
export function installSettings(options: InstallOptions, library: NativeLibrary): Required<InstallOptions> {
  const env = new Float64Array(3);
  library.symbols.mod_alloc_env_settings(env);
  const sample = new Float64Array(3);
  library.symbols.mod_alloc_sample_settings(sample);
  if (options.backtraces !== undefined && typeof options.backtraces !== "boolean") {
    throw new OptionError(
      `ModAlloc.install: option "backtraces" must be true or false; got ${JSON.stringify(options.backtraces)}.`,
    );
  }
  return {
    backtraces: options.backtraces ?? env[0] === 1,
    frames: integerOption(options.frames, "frames", 1, 64, env[1]),
    buckets: integerOption(options.buckets, "buckets", 16, 1 << 20, env[2]),
    sampleBytes: integerOption(options.sampleBytes, "sampleBytes", 1, SAMPLE_BYTES_MAX, sample[1]),
  };
}

/**
 * Checks a `thread` option.
 *
 * @param value What the caller passed.
 * @param where The API, for the message.
 * @param fallback The value for `undefined`.
 * @returns The thread scope.
 * @throws {OptionError} When the value is not `"all"` or `"current"`.
 */
export function threadScope(value: unknown, where: string, fallback: ThreadScope): ThreadScope {
  if (value === undefined) return fallback;
  if (value === "all" || value === "current") return value;
  throw new OptionError(`${where}: option "thread" must be "all" or "current", got ${JSON.stringify(value)}.`);
}

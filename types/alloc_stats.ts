/**
 * The statistics types returned by snapshots and profilers.
 *
 * @module
 */

/**
 * Allocation counters. All values are plain numbers.
 *
 * Semantics: an allocation adds one event and its requested size to
 * `allocCount` and `totalBytes`; a free subtracts its size from
 * `currentBytes`; a realloc is one event and adds only its growth to
 * `totalBytes`. `peakBytes` / `peakLiveCount` are high-water marks of
 * `currentBytes` / `liveCount`.
 *
 * @example Reading a snapshot
 * ```ts
 * import { ModAlloc, type AllocStats } from "@mod-alloc/deno";
 *
 * const stats: AllocStats = ModAlloc.install().snapshot();
 * console.log(stats.allocCount, stats.currentBytes);
 * ```
 */
export interface AllocStats {
  /** Allocation events: malloc, calloc, realloc, memalign … each count 1. */
  allocCount: number;
  /** Frees of blocks the profiler knew (including realloc to size 0). */
  freeCount: number;
  /** Bytes requested in all: fresh blocks plus realloc growth. */
  totalBytes: number;
  /** Bytes live now (requested sizes, not what malloc rounded up to). */
  currentBytes: number;
  /** Highest `currentBytes` reached. */
  peakBytes: number;
  /** Blocks live now. */
  liveCount: number;
  /** Highest `liveCount` reached. */
  peakLiveCount: number;
  /**
   * Events on blocks the profiler had never seen (allocated before
   * install, or by the loader): forwarded untouched, counted only here.
   */
  foreignCount: number;
  /** Calls the real allocator failed (returned NULL). */
  failedCount: number;
}

/** Statistics of one profiler scope: deltas, plus the scope's own peak. */
export interface ScopeStats extends AllocStats {
  /**
   * Highest `currentBytes` reached inside the scope, above its value when
   * the scope started.
   */
  scopePeakBytes: number;
  /** Highest `liveCount` reached inside the scope, above its start value. */
  scopePeakLiveCount: number;
}

/** Which threads' allocations a reading covers. */
export type ThreadScope = "all" | "current";

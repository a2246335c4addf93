/**
 * The open measurement scopes of this isolate: the one owner of their
 * start counters and running peaks. `Profiler` opens and closes scopes
 * here; `ModAlloc.reset` re-bases them here.
 *
 * Peaks: the library keeps one high-water mark per thread scope for the
 * interval since its last mark. Whenever a scope opens or closes, the mark
 * of the interval that just ended is folded into every open scope of that
 * thread scope, so nested and overlapping scopes each get their own peak.
 *
 * @module
 */

import { FIELD, STATS_FIELDS } from "../ffi/layout.ts";
import { type CounterReader, counterReader } from "../ffi/stats.ts";
import type { NativeLibrary } from "../ffi/symbols.ts";
import type { ScopeStats, ThreadScope } from "../types/alloc_stats.ts";

/**
 * One measured scope: its counters at the start, its running peak, and the
 * native reads of its thread scope. The window is opened and closed by the
 * caller calling `markPeak` and `snapshot` directly (see
 * {@linkcode CounterReader}), so that no JavaScript function returns inside
 * it; the functions below do the rest outside the window.
 */
export class OpenScope {
  /** The thread scope counted. */
  readonly thread: ThreadScope;
  /** Counters at the start, in `STATS_FIELDS` order (re-based by `reset`). */
  readonly start: Float64Array = new Float64Array(STATS_FIELDS.length);
  /** Where `snapshot` writes. */
  readonly counters: Float64Array;
  /** Native read of the counters into `counters`. */
  readonly snapshot: () => void;
  /** Native close of the peak interval. */
  readonly markPeak: () => void;
  /** Highest live bytes of the intervals that ended while open. */
  peakBytes = 0;
  /** Highest live blocks of the intervals that ended while open. */
  peakBlocks = 0;
  readonly #reader: CounterReader;

  /**
   * @param library The opened library.
   * @param thread The thread scope to count.
   */
  constructor(library: NativeLibrary, thread: ThreadScope) {
    const reader = counterReader(library);
    this.thread = thread;
    this.counters = reader.counters;
    this.snapshot = reader.snapshot[thread];
    this.markPeak = reader.markPeak[thread];
    this.#reader = reader;
  }

  /** The interval mark the last `markPeak` wrote. */
  get peakMark(): Float64Array {
    return this.#reader.peakMark;
  }
}

const open: Record<ThreadScope, Set<OpenScope>> = { all: new Set(), current: new Set() };

/** The event counts that `mod_alloc_reset` zeroes for the all-threads scope. */
const RESET_FIELDS = [
  FIELD.alloc_count,
  FIELD.free_count,
  FIELD.total_bytes,
  FIELD.foreign_count,
  FIELD.failed_count,
] as const;

function foldMark(mark: Float64Array, thread: ThreadScope): void {
  const bytes = mark[0];
  const blocks = mark[1];
  for (const scope of open[thread]) {
    if (bytes > scope.peakBytes) scope.peakBytes = bytes;
    if (blocks > scope.peakBlocks) scope.peakBlocks = blocks;
  }
}

/**
 * Registers `scope` before its window opens: the peak interval so far is
 * closed into the scopes already open. The interval between this mark and
 * the one that opens the window holds only the profiler's own code; its
 * mark is not folded anywhere.
 *
 * @param scope A scope that is not open yet.
 */
export function prepareScope(scope: OpenScope): void {
  const scopes = open[scope.thread];
  if (scopes.has(scope)) throw new Error("prepareScope: the scope is already open"); // a bug, not a user error
  scope.markPeak();
  foldMark(scope.peakMark, scope.thread);
  scopes.add(scope);
}

/**
 * Finishes `scope` after its window closed (`snapshot` then `markPeak`):
 * folds the last interval into every open scope and computes the deltas.
 *
 * @param scope An open scope whose window the caller just closed.
 * @returns Deltas of the counts, absolute peaks, and the scope's own peak.
 */
export function finishScope(scope: OpenScope): ScopeStats {
  foldMark(scope.peakMark, scope.thread);
  const removed = open[scope.thread].delete(scope);
  if (!removed) throw new Error("finishScope: the scope was not open"); // a bug in Profiler, not a user error
  const end = scope.counters;
  const start = scope.start;
  const startBytes = start[FIELD.current_bytes];
  const startBlocks = start[FIELD.live_count];
  return {
    allocCount: end[FIELD.alloc_count] - start[FIELD.alloc_count],
    freeCount: end[FIELD.free_count] - start[FIELD.free_count],
    totalBytes: end[FIELD.total_bytes] - start[FIELD.total_bytes],
    currentBytes: end[FIELD.current_bytes] - startBytes,
    liveCount: end[FIELD.live_count] - startBlocks,
    foreignCount: end[FIELD.foreign_count] - start[FIELD.foreign_count],
    failedCount: end[FIELD.failed_count] - start[FIELD.failed_count],
    peakBytes: end[FIELD.peak_bytes],
    peakLiveCount: end[FIELD.peak_live_count],
    scopePeakBytes: Math.max(scope.peakBytes, startBytes) - startBytes,
    scopePeakLiveCount: Math.max(scope.peakBlocks, startBlocks) - startBlocks,
  };
}

/**
 * Forgets a scope that will never be closed (its profiler was garbage
 * collected while open), so later scopes stop folding peaks into it.
 *
 * @param scope A scope, open or not.
 */
export function dropScope(scope: OpenScope): void {
  open[scope.thread].delete(scope);
}

/** Number of open scopes of a thread scope (for tests and assertions). */
export function openScopeCount(thread: ThreadScope): number {
  return open[thread].size;
}

/**
 * Runs `reset` (which zeroes the all-threads event counts) and re-bases the
 * open all-threads scopes so that their deltas stay right: each start value
 * is lowered by what the counters held just before the reset. Events that
 * other threads make between that read and the reset itself are lost to
 * the open scopes (a window of two native calls). Calling-thread counters
 * are not reset, so `"current"` scopes need nothing.
 *
 * @param library The opened library.
 * @param reset The native reset.
 */
export function resetKeepingScopes(library: NativeLibrary, reset: () => void): void {
  const reader = counterReader(library);
  reader.snapshot.all();
  reset();
  const before = reader.counters; // the reset does not write the area
  for (const scope of open.all) {
    for (const field of RESET_FIELDS) scope.start[field] -= before[field];
  }
}

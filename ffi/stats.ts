/**
 * Decoding the counters the library writes into `Float64Array`s.
 *
 * @module
 */

import type { AllocStats, ThreadScope } from "../api/alloc_stats.ts";
import { FIELD, SCOPE, STATS_FIELDS } from "./layout.ts";
import type { NativeLibrary } from "./symbols.ts";

const snapshotBuffer = new Float64Array(STATS_FIELDS.length);
const markBuffer = new Float64Array(2);

/** Reads the counters of a scope as plain numbers. */
export function readStats(library: NativeLibrary, thread: ThreadScope): AllocStats {
  library.symbols.mod_alloc_snapshot(SCOPE[thread], snapshotBuffer);
  const value = (name: keyof typeof FIELD) => snapshotBuffer[FIELD[name]];
  return {
    allocCount: value("alloc_count"),
    freeCount: value("free_count"),
    totalBytes: value("total_bytes"),
    currentBytes: value("current_bytes"),
    peakBytes: value("peak_bytes"),
    liveCount: value("live_count"),
    peakLiveCount: value("peak_live_count"),
    foreignCount: value("foreign_count"),
    failedCount: value("failed_count"),
  };
}

/**
 * Highest live bytes and blocks since the previous mark of the same scope;
 * starts a new interval.
 */
export function readMarkPeak(library: NativeLibrary, thread: ThreadScope): { bytes: number; blocks: number } {
  library.symbols.mod_alloc_mark_peak(SCOPE[thread], markBuffer);
  return { bytes: markBuffer[0], blocks: markBuffer[1] };
}

/**
 * Reading the counters. The library writes them into the calling thread's
 * output area, which this isolate maps once as a `Float64Array`, so a read
 * is an FFI call without parameters: Deno's slow FFI path allocates for
 * every call that has parameters, and a thread-scoped profiler would count
 * that as noise of its own.
 *
 * @module
 */

import type { AllocStats, ThreadScope } from "../types/alloc_stats.ts";
import { FIELD, SCOPE, STATS_FIELDS } from "./layout.ts";
import type { NativeLibrary } from "./symbols.ts";

const AREA_VALUES = 16;

interface Reader {
  snapshot(thread: ThreadScope): Float64Array;
  mark(thread: ThreadScope): Float64Array;
}

let reader: Reader | undefined;

function makeReader(library: NativeLibrary): Reader {
  const { symbols } = library;
  const pointer = symbols.mod_alloc_out_area();
  if (pointer === null) {
    // No thread slot left for this thread: pass buffers (may count noise).
    const snapshot = new Float64Array(STATS_FIELDS.length);
    const mark = new Float64Array(2);
    return {
      snapshot: (thread) => (symbols.mod_alloc_snapshot(SCOPE[thread], snapshot), snapshot),
      mark: (thread) => (symbols.mod_alloc_mark_peak(SCOPE[thread], mark), mark),
    };
  }
  // One area per thread: a Deno isolate runs on one thread for its life.
  const area = new Float64Array(Deno.UnsafePointerView.getArrayBuffer(pointer, AREA_VALUES * 8));
  const snapshot = area.subarray(0, STATS_FIELDS.length);
  const mark = area.subarray(STATS_FIELDS.length, STATS_FIELDS.length + 2);
  return {
    snapshot: (thread) => {
      if (thread === "all") symbols.mod_alloc_snapshot_all();
      else symbols.mod_alloc_snapshot_current();
      return snapshot;
    },
    mark: (thread) => {
      if (thread === "all") symbols.mod_alloc_mark_peak_all();
      else symbols.mod_alloc_mark_peak_current();
      return mark;
    },
  };
}

function readerFor(library: NativeLibrary): Reader {
  reader ??= makeReader(library);
  return reader;
}

/** Reads the counters of a scope as plain numbers. */
export function readStats(library: NativeLibrary, thread: ThreadScope): AllocStats {
  const values = readerFor(library).snapshot(thread);
  return {
    allocCount: values[FIELD.alloc_count],
    freeCount: values[FIELD.free_count],
    totalBytes: values[FIELD.total_bytes],
    currentBytes: values[FIELD.current_bytes],
    peakBytes: values[FIELD.peak_bytes],
    liveCount: values[FIELD.live_count],
    peakLiveCount: values[FIELD.peak_live_count],
    foreignCount: values[FIELD.foreign_count],
    failedCount: values[FIELD.failed_count],
  };
}

/**
 * Highest live bytes and blocks since the previous mark of the same scope;
 * starts a new interval.
 */
export function readMarkPeak(library: NativeLibrary, thread: ThreadScope): { bytes: number; blocks: number } {
  const values = readerFor(library).mark(thread);
  return { bytes: values[0], blocks: values[1] };
}

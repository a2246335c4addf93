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

/**
 * The counters as the library writes them, and the native functions that
 * write them. A measured window is opened by `markPeak` then `snapshot`
 * and closed by `snapshot` then `markPeak`, called directly: on the area
 * path they are the bound native functions themselves, so no JavaScript
 * function of the profiler returns (and so none can be tiered up by V8)
 * between the two snapshots.
 */
export interface CounterReader {
  /** Snapshot values in {@linkcode STATS_FIELDS} order, as the last snapshot left them. */
  readonly counters: Float64Array;
  /** Highest live bytes `[0]` and blocks `[1]` of the peak interval the last mark closed. */
  readonly peakMark: Float64Array;
  /** True when reads go through the thread's own area (no allocation per read). */
  readonly allocationFree: boolean;
  /** Writes the counters of a thread scope into `counters`. */
  readonly snapshot: Readonly<Record<ThreadScope, () => void>>;
  /** Closes the peak interval of a thread scope into `peakMark` and starts the next. */
  readonly markPeak: Readonly<Record<ThreadScope, () => void>>;
}

let reader: CounterReader | undefined;

/** Reads through buffers passed as parameters: Deno's slow FFI path allocates a little on every call. */
function bufferReader(library: NativeLibrary): CounterReader {
  const { symbols } = library;
  const counters = new Float64Array(STATS_FIELDS.length);
  const peakMark = new Float64Array(2);
  return {
    counters,
    peakMark,
    allocationFree: false,
    snapshot: {
      all: () => symbols.mod_alloc_snapshot(SCOPE.all, counters),
      current: () => symbols.mod_alloc_snapshot(SCOPE.current, counters),
    },
    markPeak: {
      all: () => symbols.mod_alloc_mark_peak(SCOPE.all, peakMark),
      current: () => symbols.mod_alloc_mark_peak(SCOPE.current, peakMark),
    },
  };
}

/** Reads through the calling thread's output area: parameterless native calls only. */
function areaReader(library: NativeLibrary, pointer: Deno.PointerObject): CounterReader {
  const { symbols } = library;
  // One area per thread: a Deno isolate runs on one thread for its life.
  const area = new Float64Array(Deno.UnsafePointerView.getArrayBuffer(pointer, AREA_VALUES * 8));
  return {
    counters: area.subarray(0, STATS_FIELDS.length),
    peakMark: area.subarray(STATS_FIELDS.length, STATS_FIELDS.length + 2),
    allocationFree: true,
    snapshot: { all: symbols.mod_alloc_snapshot_all, current: symbols.mod_alloc_snapshot_current },
    markPeak: { all: symbols.mod_alloc_mark_peak_all, current: symbols.mod_alloc_mark_peak_current },
  };
}

/**
 * The isolate's counter reader. Its first use calls every native function
 * it binds once, with the results thrown away: V8 compiles an FFI
 * trampoline on a symbol's first call, which allocates on this thread, and
 * that must not happen inside the first measured scope.
 *
 * @param library The opened library.
 * @returns The reader; the same object on every call.
 */
export function counterReader(library: NativeLibrary): CounterReader {
  if (reader !== undefined) return reader;
  const pointer = library.symbols.mod_alloc_out_area();
  // No thread record could be had (no memory): pass buffers (may count noise).
  const made = pointer === null ? bufferReader(library) : areaReader(library, pointer);
  for (const thread of ["current", "all"] as const) {
    made.markPeak[thread]();
    made.snapshot[thread]();
  }
  reader = made;
  return made;
}

/**
 * Converts snapshot values to plain numbers.
 *
 * @param values Values in {@linkcode STATS_FIELDS} order.
 * @returns The counters by name.
 */
export function statsOf(values: Float64Array): AllocStats {
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
 * Reads the counters of a thread scope now.
 *
 * @param library The opened library.
 * @param thread Which threads' counters.
 * @returns The counters as plain numbers.
 */
export function readStats(library: NativeLibrary, thread: ThreadScope): AllocStats {
  const counters = counterReader(library);
  counters.snapshot[thread]();
  return statsOf(counters.counters);
}

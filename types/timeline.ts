/**
 * Memory over time: the types of {@linkcode Timeline} (public) and of the
 * raw timeline both sources share — the library's `mod_alloc_timeline`
 * (decoded by `ffi/timeline.ts`) and a DHAT file's `modAlloc.timeline`
 * (written by `core/timeline.zig`).
 *
 * @module
 */

/**
 * The raw timeline, as `core/timeline.zig` writes it into a DHAT file's
 * `modAlloc.timeline`. Times are on the allocation clock (events) and in
 * nanoseconds of CLOCK_MONOTONIC since the timeline's first sample.
 */
export interface RawTimeline {
  /** Intervals per series: the most points a series holds. */
  pointsMax: number;
  /** Samples dropped because another thread was sampling at the time. */
  skipped: number;
  /** Width of an interval of `byEvents`, in allocation events. */
  eventsWidth: number;
  /** Width of an interval of `byWall`, in nanoseconds. */
  wallWidthNs: number;
  /**
   * The counters' peak: `[events, bytes, blocks, wallNs]`; `wallNs` is -1
   * when no sample caught the peak (with call sites on it can be chosen
   * between samples).
   */
  peak: [number, number, number, number];
  /** The exact reading taken when the timeline was read: `[events, wallNs, bytes, blocks]`. */
  now: [number, number, number, number];
  /** Each interval's highest sample over the allocation clock: `[events, wallNs, bytes, blocks]`. */
  byEvents: [number, number, number, number][];
  /** The same samples over wall time. */
  byWall: [number, number, number, number][];
}

/** One point of a {@linkcode Timeline}. */
export interface TimelinePoint {
  /** When, on the allocation clock: allocation events since the timeline started (DHAT's time unit). */
  allocations: number;
  /** When, in milliseconds of wall time since the timeline's first sample. */
  timeMs: number;
  /** Bytes live in the whole process then. */
  bytes: number;
  /** Blocks live then. */
  blocks: number;
  /**
   * `"sample"`: the highest sample of its interval; `"peak"`: the counters'
   * peak (when no sample caught it, its `timeMs` is placed between the
   * samples around it by the allocation clock); `"end"`: the exact reading
   * taken when the timeline was read.
   */
  kind: "sample" | "peak" | "end";
}

/**
 * Live bytes and blocks of the whole process over time, sampled where
 * threads fold their counts into the shared sums (every 64 KiB or 64
 * blocks of change per thread) and when it is read. Each series holds at
 * most `pointsMax` points plus the peak and the end: a long run is held at
 * a coarser resolution, never dropped, and each point is the highest
 * sample of its interval, so the peak is never lost.
 */
export interface Timeline {
  /**
   * True when the allocation clock ran: it counts allocation events only
   * while call sites are recorded (as DHAT's clock), so without them every
   * point of `byAllocations` is at 0 and `byTime` is the series to read.
   */
  allocationClock: boolean;
  /** Points by the allocation clock, in time order (the peak and the end included). */
  byAllocations: TimelinePoint[];
  /** Points by wall time, in time order (the peak and the end included). */
  byTime: TimelinePoint[];
  /** The peak: its bytes are the counters' `peakBytes`. */
  peak: TimelinePoint;
  /** The reading taken when the timeline was read (live bytes now, or at the end). */
  end: TimelinePoint;
  /** Width of one interval of `byAllocations`, in allocation events. */
  allocationsPerPoint: number;
  /** Width of one interval of `byTime`, in milliseconds. */
  msPerPoint: number;
  /** The most sampled points a series holds. */
  pointsMax: number;
  /** Samples dropped because two threads sampled at once (each still counted in the sums). */
  skippedSamples: number;
}

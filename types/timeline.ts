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
  /**
   * Which sites held the live bytes (`core/site_history.zig`); null or
   * absent without call sites (or in a file of an older mod-alloc).
   */
  sites?: RawSiteHistory | null;
}

/** One site in a snapshot: `[row, bytes, blocks]`; `row` is the site table's, a DHAT program point's `site`. */
export type RawSiteLive = [number, number, number];

/**
 * One site snapshot: `[kind, events, wallNs, liveBytes, sitesBytes,
 * sitesBlocks, top]`, kind 0 a snapshot taken at a fold, 1 the sites at
 * the peak, 2 at the end; `wallNs` -1 when not known (the peak's, as for
 * the timeline's peak).
 */
export type RawSiteSnapshot = [number, number, number, number, number, number, RawSiteLive[]];

/** The site snapshots of a raw timeline. */
export interface RawSiteHistory {
  /** Sites listed per snapshot at most. */
  topMax: number;
  /** Allocation events between two snapshots now (it doubles as a run grows). */
  intervalEvents: number;
  /** The longest walk of the site table, in ns. */
  walkNsMax: number;
  /** Walks abandoned at 100 ms (their snapshots dropped): absent in files of before it was counted. */
  walksAbandoned?: number;
  /** The kept snapshots in time order, then the peak's and the end's. */
  snapshots: RawSiteSnapshot[];
}

/** One site's share of a {@linkcode SiteSnapshot}. */
export interface SiteLive {
  /** The site's row in the library's site table (a DHAT file's `pps[i].site`). */
  site: number;
  /** Its live bytes then: exact, summed over its lanes when its row was read. */
  bytes: number;
  /** Its live blocks then. */
  blocks: number;
}

/**
 * The heaviest sites at one moment: the profiler walks its site table at
 * most every `intervalEvents` allocations (64 snapshots kept, the interval
 * doubling when full), and once more at the peak (the sites' at-peak
 * values) and at the end.
 */
export interface SiteSnapshot {
  /** `"sample"`: taken during the run; `"peak"`: the sites at the peak; `"end"`: the sites when read. */
  kind: "sample" | "peak" | "end";
  /** When, on the allocation clock. */
  allocations: number;
  /** When, in milliseconds of wall time (the peak's placed as {@linkcode Timeline.peak}'s). */
  timeMs: number;
  /** The timeline's live bytes then (the counters' folded sum, within 64 KiB per thread). */
  liveBytes: number;
  /** The sum of every site's live bytes in the same walk: `top` plus everything else. */
  sitesBytes: number;
  /** The sum of every site's live blocks in the same walk. */
  sitesBlocks: number;
  /** The heaviest sites, heaviest first (at most {@linkcode Timeline.sitesPerSnapshot}). */
  top: SiteLive[];
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
  /** Which sites held the bytes over time, in time order (the peak and the end included); empty without call sites. */
  siteSnapshots: SiteSnapshot[];
  /** The most sites a snapshot lists (0 without call sites). */
  sitesPerSnapshot: number;
  /** Snapshots not taken because walking the site table passed 100 ms (a very large table). */
  siteWalksAbandoned: number;
}

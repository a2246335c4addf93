/**
 * Call sites (Tier 2): where native allocations came from, down to the
 * JavaScript function that caused them.
 *
 * @module
 */

import type { RawSite, SiteSummary } from "../ffi/sites.ts";
import type { Frame } from "../symbols/symbolizer.ts";
import { Symbolizer } from "../symbols/symbolizer.ts";
import { describeFrame, threadNameOf } from "./attribution.ts";
import { OptionError } from "./errors.ts";
import { type BytesByKind, bytesByKind } from "./report.ts";
import { checkGroupBy, type GroupBy, groupOf, groupSites, type RowKind } from "./grouping.ts";

export type { Frame, GroupBy, RowKind };
export { describeFrame };

/** One allocation site and what was allocated there. */
export interface CallSite {
  /** Innermost first: `frames[0]` called the allocator. */
  frames: Frame[];
  /**
   * A short name: the innermost JS frame of the user's code (the
   * profiler's own frames and Deno's `ext:` frames skipped), else the first
   * named native function outside the runtime, else the kind of thread
   * (Deno's and V8's own work).
   */
  label: string;
  /** What the row stands for: user JS, a named native function, the runtime, or the overflow row. */
  kind: RowKind;
  /** Sites (distinct stacks) in this row: 1 unless grouped. */
  siteCount: number;
  /** The kernel name of the thread that allocated here, when the core records it. */
  threadName?: string;
  /** True for the row that holds sites which did not fit the table. */
  overflow: boolean;
  /** Allocation events here (a realloc counts one, at its own site). */
  allocCount: number;
  /** Bytes requested here (a realloc adds its growth). */
  totalBytes: number;
  /** Bytes of this site's blocks live now. */
  currentBytes: number;
  /** This site's blocks live now. */
  liveCount: number;
  /** The site's own high-water mark of live bytes (of a group: the sum of its sites' peaks, an upper bound). */
  peakBytes: number;
  /** The site's own high-water mark of live blocks. */
  peakLiveCount: number;
  /** The largest single block allocated here. */
  maxBlockBytes: number;
  /** Blocks of this site freed so far. */
  freedCount: number;
  /** Summed lifetimes of the freed blocks, in allocation events: how many allocations the process made while each block lived (a logical clock, like DHAT's instruction count). */
  totalLifetime: number;
  /** Bytes live here when the whole process peaked (DHAT's t-gmax). */
  atPeakBytes: number;
  /** Blocks live here when the whole process peaked. */
  atPeakLiveCount: number;
  /**
   * Sampling mode only: one standard error of `totalBytes` and of
   * `allocCount`, which are then unbiased estimates (as are the live, peak
   * and freed figures). The exact value lies within 3 standard errors in
   * about 99% of runs for a site above 10 sampling intervals.
   */
  totalBytesStandardError?: number;
  /** Sampling mode only: one standard error of `allocCount`. */
  allocCountStandardError?: number;
}

/** What `callSites` can sort by. */
export type CallSiteOrder = "totalBytes" | "allocCount" | "currentBytes" | "peakBytes";

/** Options of {@linkcode ModAlloc.callSites}. */
export interface CallSitesOptions {
  /** Keep the first N sites after sorting (default: all). */
  limit?: number;
  /** Default `"totalBytes"`. */
  sortBy?: CallSiteOrder;
  /**
   * One row per distinct stack (`"stack"`, the default here), or grouped by
   * the innermost user JS function (`"function"`, the default of the text
   * reports), its `"file"`, its `"package"` (npm packages as one row each),
   * or the first named `"native"` function.
   */
  groupBy?: GroupBy;
}

/** The site table's state, for reports. */
export interface CallSiteTable {
  /** The sites, sorted and limited as asked. */
  sites: CallSite[];
  /** Site entries in use. */
  sitesUsed: number;
  /** The table's size (`MOD_ALLOC_BUCKETS`; one entry is the overflow row). */
  buckets: number;
  /** Frames walked per allocation (`MOD_ALLOC_FRAMES`). */
  frames: number;
  /** Allocations folded into the overflow row. */
  overflowEvents: number;
  /** An estimate of how many distinct sites those came from. */
  overflowSites: number;
  /** The process's peak of live bytes while call sites were on. */
  peakBytes: number;
  /** Live blocks at that peak. */
  peakLiveCount: number;
  /** Live bytes now, as the site table counts them. */
  currentBytes: number;
  /** Live blocks now, as the site table counts them. */
  liveCount: number;
  /** True when V8 wrote a perf map (JS frames can be named). */
  jsSymbols: boolean;
  /**
   * Sampling mode: the mean bytes between samples; the site figures are
   * estimates with standard errors. Absent when every allocation was
   * recorded.
   */
  sampleIntervalBytes?: number;
  /** Total bytes per kind of row, over every site: how much is user JS, native, runtime, overflow. */
  bytesByKind?: BytesByKind;
}

const ORDERS: readonly CallSiteOrder[] = ["totalBytes", "allocCount", "currentBytes", "peakBytes"];

/** Checks `callSites` options; returns them with defaults applied. */
export function callSitesOptions(options: CallSitesOptions): Required<CallSitesOptions> {
  const sortBy = options.sortBy ?? "totalBytes";
  if (!ORDERS.includes(sortBy)) {
    throw new OptionError(`callSites: sortBy must be one of ${ORDERS.join(", ")}; got ${JSON.stringify(sortBy)}.`);
  }
  const limit = options.limit ?? Infinity;
  if (!(limit === Infinity || (Number.isInteger(limit) && limit >= 0))) {
    throw new OptionError(`callSites: limit must be a whole number >= 0; got ${JSON.stringify(limit)}.`);
  }
  const groupBy = checkGroupBy(options.groupBy ?? "stack", "callSites: groupBy");
  return { sortBy, limit, groupBy };
}

/** The label of a single site (its row under `groupBy: "stack"`): see `CallSite.label`. */
export function labelOf(frames: Frame[], overflow: boolean, threadName?: string): string {
  return groupOf({ frames, overflow, threadName }, "stack").label;
}

const SUMMED = [
  "allocCount",
  "totalBytes",
  "currentBytes",
  "liveCount",
  "peakBytes",
  "peakLiveCount",
  "freedCount",
  "totalLifetime",
  "atPeakBytes",
  "atPeakLiveCount",
] as const;

/** One row per group: counts summed, the heaviest member's frames. */
export function groupCallSites(sites: CallSite[], by: GroupBy, order: CallSiteOrder = "totalBytes"): CallSite[] {
  if (by === "stack") return sites;
  return groupSites(sites, by, (site) => site[order]).map((group): CallSite => {
    const [heaviest] = group.members;
    const row: CallSite = { ...heaviest, label: group.label, kind: group.kind, siteCount: 0 };
    for (const field of SUMMED) row[field] = 0;
    const variances = { bytes: 0, blocks: 0 };
    for (const site of group.members) {
      for (const field of SUMMED) row[field] += site[field];
      // Sites are sampled independently: their variances add.
      variances.bytes += (site.totalBytesStandardError ?? 0) ** 2;
      variances.blocks += (site.allocCountStandardError ?? 0) ** 2;
      row.maxBlockBytes = Math.max(row.maxBlockBytes, site.maxBlockBytes);
      row.siteCount += site.siteCount;
    }
    if (heaviest.totalBytesStandardError !== undefined) {
      row.totalBytesStandardError = Math.sqrt(variances.bytes);
      row.allocCountStandardError = Math.sqrt(variances.blocks);
    }
    return row;
  });
}

/**
 * Symbolizes raw sites into `CallSite`s. `sampleIntervalBytes` (sampling
 * mode) turns each site's variance sums into standard errors.
 */
export function buildCallSites(
  raw: RawSite[],
  options: Required<CallSitesOptions>,
  symbolizer?: Symbolizer,
  threadNames: readonly string[] = [],
  sampleIntervalBytes = 0,
): CallSite[] {
  const owned = symbolizer === undefined;
  const resolver = symbolizer ?? new Symbolizer();
  const cache = new Map<bigint, Frame>();
  const frameOf = (address: bigint) => {
    let frame = cache.get(address);
    if (frame === undefined) {
      frame = resolver.frame(address);
      cache.set(address, frame);
    }
    return frame;
  };
  try {
    const rows = raw.map((site): CallSite => {
      const overflow = site.index === 0;
      const frames = site.frames.map(frameOf);
      const v = site.values;
      const threadName = threadNameOf(threadNames, v.thread_name);
      const row = groupOf({ frames, overflow, threadName }, "stack");
      return {
        frames,
        threadName,
        label: row.label,
        kind: row.kind,
        siteCount: 1,
        overflow,
        allocCount: v.alloc_count,
        totalBytes: v.total_bytes,
        currentBytes: v.current_bytes,
        liveCount: v.current_blocks,
        peakBytes: v.peak_bytes,
        peakLiveCount: v.peak_blocks,
        maxBlockBytes: v.max_block_bytes,
        freedCount: v.freed_count,
        totalLifetime: v.lifetime_total,
        atPeakBytes: v.gmax_bytes,
        atPeakLiveCount: v.gmax_blocks,
        ...(sampleIntervalBytes > 0 ? standardErrors(v, sampleIntervalBytes) : {}),
      };
    });
    const grouped = groupCallSites(rows, options.groupBy, options.sortBy);
    grouped.sort((a, b) => b[options.sortBy] - a[options.sortBy] || b.allocCount - a.allocCount);
    return grouped.slice(0, options.limit);
  } finally {
    if (owned) resolver.close();
  }
}

/**
 * One standard error of a sampled site's total bytes and blocks, from the
 * variance sums the core keeps (`core/sampler.zig`, `Weights`).
 */
function standardErrors(values: RawSite["values"], intervalBytes: number) {
  return {
    totalBytesStandardError: Math.sqrt(intervalBytes * values.variance_bytes_per_interval),
    allocCountStandardError: Math.sqrt(values.variance_blocks),
  };
}

/** The table summary around a list of sites (every site: `limit` keeps the first rows, after the shares are summed). */
export function siteTable(
  sites: CallSite[],
  summary: SiteSummary,
  jsSymbols: boolean,
  limit = Infinity,
  sampleIntervalBytes = 0,
): CallSiteTable {
  return {
    ...(sampleIntervalBytes > 0 ? { sampleIntervalBytes } : {}),
    sites: sites.slice(0, limit),
    bytesByKind: bytesByKind(sites, (site) => site.totalBytes),
    sitesUsed: summary.used,
    buckets: summary.buckets,
    frames: summary.frames,
    overflowEvents: summary.overflow_events,
    overflowSites: summary.overflow_sites,
    peakBytes: summary.peak_bytes,
    peakLiveCount: summary.peak_blocks,
    currentBytes: summary.current_bytes,
    liveCount: summary.current_blocks,
    jsSymbols,
  };
}

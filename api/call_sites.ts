/**
 * Call sites (Tier 2): where native allocations came from, down to the
 * JavaScript function that caused them.
 *
 * @module
 */

import type { RawSite, SiteSummary } from "../ffi/sites.ts";
import type { Frame } from "../symbols/symbolizer.ts";
import { Symbolizer } from "../symbols/symbolizer.ts";
import { OptionError } from "./errors.ts";

export type { Frame };

/** One allocation site and what was allocated there. */
export interface CallSite {
  /** Innermost first: `frames[0]` called the allocator. */
  frames: Frame[];
  /** A short name: the first JS frame, else the first frame outside the runtime. */
  label: string;
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
  /** The site's own high-water mark of live bytes. */
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
}

/** What `callSites` can sort by. */
export type CallSiteOrder = "totalBytes" | "allocCount" | "currentBytes" | "peakBytes";

/** Options of {@linkcode ModAlloc.callSites}. */
export interface CallSitesOptions {
  /** Keep the first N sites after sorting (default: all). */
  limit?: number;
  /** Default `"totalBytes"`. */
  sortBy?: CallSiteOrder;
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
  return { sortBy, limit };
}

/** The deno executable: its own frames are runtime, not a place to look. */
export function defaultRuntime(): Set<string> {
  return new Set([Deno.execPath()]);
}

/** Modules whose frames are plumbing rather than a place to look. */
function isRuntimeFrame(frame: Frame, runtimeModules: Set<string>): boolean {
  const module = frame.module ?? "";
  const base = module.slice(module.lastIndexOf("/") + 1);
  return runtimeModules.has(module) || /^(libc|libstdc\+\+|libgcc_s|ld-linux|libm|libpthread)[.-]/.test(base);
}

/** Describes a frame in one short string. */
export function describeFrame(frame: Frame): string {
  const where = frame.file === undefined
    ? ""
    : ` ${frame.file}${frame.line === undefined ? "" : `:${frame.line}`}${
      frame.column === undefined ? "" : `:${frame.column}`
    }`;
  if (frame.symbol !== undefined) return `${frame.symbol}${where}`;
  const module = frame.module === undefined ? "?" : frame.module.slice(frame.module.lastIndexOf("/") + 1);
  return frame.offset === undefined
    ? `0x${frame.address.toString(16)} (${module})`
    : `${module}+0x${frame.offset.toString(16)}`;
}

/** JS frames of Deno's own runtime (`ext:`, `node:`) rather than the user's code. */
function isRuntimeScript(frame: Frame): boolean {
  return /^(ext|node):/.test(frame.file ?? "");
}

/** The label of a site: see `CallSite.label`. */
export function labelOf(frames: Frame[], overflow: boolean, runtimeModules: Set<string> = defaultRuntime()): string {
  if (overflow) return "[overflow: sites that did not fit the table]";
  // The first JS frame of the user's code (else of the runtime); an
  // anonymous function is named after the first named caller.
  const scripts = frames.filter((frame) => frame.kind === "js");
  const user = scripts.filter((frame) => !isRuntimeScript(frame));
  const candidates = user.length > 0 ? user : scripts;
  if (candidates.length > 0) {
    const [first] = candidates;
    const named = candidates.find((frame) => frame.symbol !== "(anonymous)");
    const within = first.symbol === "(anonymous)" && named !== undefined && named !== first
      ? ` in ${named.symbol}`
      : "";
    return `JS ${describeFrame(first)}${within}`;
  }
  const own = frames.find((frame) => !isRuntimeFrame(frame, runtimeModules));
  return own !== undefined ? describeFrame(own) : frames.length > 0 ? describeFrame(frames[0]) : "[no frames]";
}

/** Symbolizes raw sites into `CallSite`s. */
export function buildCallSites(
  raw: RawSite[],
  options: Required<CallSitesOptions>,
  symbolizer?: Symbolizer,
): CallSite[] {
  const owned = symbolizer === undefined;
  const resolver = symbolizer ?? new Symbolizer();
  const runtimeModules = defaultRuntime();
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
      return {
        frames,
        label: labelOf(frames, overflow, runtimeModules),
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
      };
    });
    rows.sort((a, b) => b[options.sortBy] - a[options.sortBy] || b.allocCount - a.allocCount);
    return rows.slice(0, options.limit);
  } finally {
    if (owned) resolver.close();
  }
}

/** The table summary around a list of sites. */
export function siteTable(sites: CallSite[], summary: SiteSummary, jsSymbols: boolean): CallSiteTable {
  return {
    sites,
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

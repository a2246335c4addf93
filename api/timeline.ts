/**
 * Memory over time as the public API gives it: the raw timeline of the
 * library or of a DHAT file turned into points in milliseconds, with the
 * counters' peak and the final reading placed in each series.
 *
 * @module
 */

import type {
  RawSiteHistory,
  RawSiteSnapshot,
  RawTimeline,
  SiteSnapshot,
  Timeline,
  TimelinePoint,
} from "../types/timeline.ts";

/**
 * Series longer than this in a file are refused: the library writes at
 * most its `pointsMax` (512) points per series.
 */
const FILE_POINTS_MAX = 1 << 16;
/**
 * Site snapshots, and sites per snapshot, beyond these in a file are
 * refused: the library writes 66 snapshots of 16 sites.
 */
const FILE_SNAPSHOTS_MAX = 1 << 12;
const FILE_TOP_MAX = 1 << 10;

const SNAPSHOT_KINDS: SiteSnapshot["kind"][] = ["sample", "peak", "end"];

/** The public site snapshots, in time order; the peak's is placed where the timeline's peak is. */
function siteSnapshotsOf(history: RawSiteHistory | null | undefined, peak: TimelinePoint): SiteSnapshot[] {
  return (history?.snapshots ?? []).map((raw: RawSiteSnapshot): SiteSnapshot => {
    const kind = SNAPSHOT_KINDS[raw[0]];
    return {
      kind,
      allocations: raw[1],
      timeMs: kind === "peak" ? peak.timeMs : raw[2] / 1e6,
      liveBytes: raw[3],
      sitesBytes: raw[4],
      sitesBlocks: raw[5],
      top: raw[6].map(([site, bytes, blocks]) => ({ site, bytes, blocks })),
    };
  }).sort((a, b) => a.allocations - b.allocations);
}

type RawPoint = [number, number, number, number];

function point(raw: RawPoint, kind: TimelinePoint["kind"]): TimelinePoint {
  return { allocations: raw[0], timeMs: raw[1] / 1e6, bytes: raw[2], blocks: raw[3], kind };
}

/**
 * Wall time of an event time, placed linearly between the samples around
 * it (the peak is known by the allocation clock only: reading a clock
 * where the peak is chosen would cost every allocation that raises it).
 */
function wallNsAt(events: number, samples: RawPoint[]): number {
  const sorted = [...samples].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let before: RawPoint | undefined;
  for (const sample of sorted) {
    if (sample[0] === events) return sample[1];
    if (sample[0] < events) before = sample;
    else if (before === undefined) return sample[1];
    else return before[1] + ((sample[1] - before[1]) * (events - before[0])) / (sample[0] - before[0]);
  }
  return before?.[1] ?? 0;
}

/** Wall time of the highest sample: where a peak no sample caught lies, within one fold, without the allocation clock. */
function highestAt(samples: RawPoint[]): number {
  return samples.reduce((best, sample) => sample[2] > best[2] ? sample : best)[1];
}

/** `points` with `extra` placed in time order (`key` gives the time). */
function withPoints(points: TimelinePoint[], extra: TimelinePoint[], key: (p: TimelinePoint) => number) {
  return [...points, ...extra].sort((a, b) => key(a) - key(b));
}

/**
 * The public timeline of a raw one.
 *
 * @param raw The library's or a file's timeline.
 * @returns Points in milliseconds, the peak and the end in both series.
 */
export function timelineOf(raw: RawTimeline): Timeline {
  const samples = [...raw.byEvents, ...raw.byWall, raw.now];
  const allocationClock = samples.some((sample) => sample[0] !== samples[0][0]);
  const peakWallNs = raw.peak[3] >= 0
    ? raw.peak[3]
    : allocationClock
    ? wallNsAt(raw.peak[0], samples)
    : highestAt(samples);
  const peak = point([raw.peak[0], peakWallNs, raw.peak[1], raw.peak[2]], "peak");
  const end = point(raw.now, "end");
  return {
    allocationClock,
    byAllocations: withPoints(raw.byEvents.map((p) => point(p, "sample")), [peak, end], (p) => p.allocations),
    byTime: withPoints(raw.byWall.map((p) => point(p, "sample")), [peak, end], (p) => p.timeMs),
    peak,
    end,
    allocationsPerPoint: raw.eventsWidth,
    msPerPoint: raw.wallWidthNs / 1e6,
    pointsMax: raw.pointsMax,
    skippedSamples: raw.skipped,
    siteSnapshots: siteSnapshotsOf(raw.sites, peak),
    sitesPerSnapshot: raw.sites?.topMax ?? 0,
    siteWalksAbandoned: raw.sites?.walksAbandoned ?? 0,
  };
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0;
}

function isPoint(value: unknown, length: number): boolean {
  // Live bytes may dip below zero for a moment (a free counted before its allocation on another thread).
  return Array.isArray(value) && value.length === length &&
    value.every((v, i) => typeof v === "number" && Number.isFinite(v) && (i >= length - 2 || v >= 0));
}

/**
 * Checks a DHAT file's `modAlloc.timeline` (it may be hostile).
 *
 * @param value The field's value.
 * @returns What is wrong with it, or undefined when it is a timeline.
 */
export function rawTimelineProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return "it is not an object";
  const raw = value as Record<string, unknown>;
  for (const key of ["pointsMax", "skipped", "eventsWidth", "wallWidthNs"]) {
    if (!isCount(raw[key])) return `${key} is not a count`;
  }
  if (!isPoint(raw.peak, 4) || (raw.peak as number[])[3] < -1) return "peak is not [events, bytes, blocks, wallNs]";
  if (!isPoint(raw.now, 4)) return "now is not [events, wallNs, bytes, blocks]";
  for (const key of ["byEvents", "byWall"]) {
    const points = raw[key];
    if (!Array.isArray(points) || points.length > FILE_POINTS_MAX) return `${key} is not an array of points`;
    const bad = points.findIndex((p) => !isPoint(p, 4));
    if (bad >= 0) return `${key}[${bad}] is not [events, wallNs, bytes, blocks]`;
  }
  return raw.sites === undefined || raw.sites === null ? undefined : siteHistoryProblem(raw.sites);
}

function isNumbers(value: unknown, length: number): value is number[] {
  return Array.isArray(value) && value.length === length &&
    value.every((v) => typeof v === "number" && Number.isFinite(v));
}

/** What is wrong with a file's `modAlloc.timeline.sites`, or undefined. */
function siteHistoryProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return "sites is not an object";
  const history = value as Record<string, unknown>;
  for (const key of ["topMax", "intervalEvents", "walkNsMax"]) {
    if (!isCount(history[key])) return `sites.${key} is not a count`;
  }
  if (history.walksAbandoned !== undefined && !isCount(history.walksAbandoned)) {
    return "sites.walksAbandoned is not a count";
  }
  const snapshots = history.snapshots;
  if (!Array.isArray(snapshots) || snapshots.length > FILE_SNAPSHOTS_MAX) {
    return `sites.snapshots is not an array of at most ${FILE_SNAPSHOTS_MAX} snapshots`;
  }
  const what = "[kind, events, wallNs, liveBytes, sitesBytes, sitesBlocks, [[site, bytes, blocks], ...]]";
  for (const [i, snapshot] of snapshots.entries()) {
    if (!Array.isArray(snapshot) || snapshot.length !== 7 || !isNumbers(snapshot.slice(0, 6), 6)) {
      return `sites.snapshots[${i}] is not ${what}`;
    }
    const [kind, events, wallNs] = snapshot as number[];
    if (![0, 1, 2].includes(kind) || !isCount(events) || wallNs < -1) return `sites.snapshots[${i}] is not ${what}`;
    const top = snapshot[6];
    if (!Array.isArray(top) || top.length > FILE_TOP_MAX) return `sites.snapshots[${i}] lists no array of sites`;
    const bad = top.findIndex((site) => !isNumbers(site, 3) || !Number.isInteger(site[0]) || site[0] < 0);
    if (bad >= 0) return `sites.snapshots[${i}][6][${bad}] is not [site, bytes, blocks]`;
  }
  return undefined;
}

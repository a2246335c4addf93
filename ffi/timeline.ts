/**
 * Reading the library's timeline (`mod_alloc_timeline`) into the raw shape
 * a DHAT file holds: a header of `core/timeline.zig`'s `Header` fields,
 * then two series of `points_max` points of four values each, then
 * `snapshot_slots` site snapshots (`core/site_history.zig`).
 *
 * @module
 */

import type { RawSiteHistory, RawSiteLive, RawSiteSnapshot, RawTimeline } from "../types/timeline.ts";
import type { NativeLibrary } from "./symbols.ts";

/** `core/timeline.zig`'s `Header`, in order: `tests/abi_test.ts` checks the count against the library. */
export const TIMELINE_HEADER = [
  "points_max",
  "skipped",
  "events_used",
  "events_width",
  "wall_used",
  "wall_width_ns",
  "peak_events",
  "peak_bytes",
  "peak_blocks",
  "peak_wall_ns",
  "now_events",
  "now_wall_ns",
  "now_bytes",
  "now_blocks",
  "origin_events",
  "origin_ns",
  "snapshots_used",
  "snapshot_slots",
  "snapshot_top_max",
  "snapshot_interval_events",
  "snapshot_walk_ns_max",
  "snapshot_walks_abandoned",
] as const;

const POINT_VALUES = 4;

type Point = [number, number, number, number];

/** The used points of one series; intervals without a sample (bytes -1) are left out. */
function series(values: Float64Array, start: number, used: number): Point[] {
  const points: Point[] = [];
  for (let i = 0; i < used; i++) {
    const at = start + i * POINT_VALUES;
    if (values[at + 2] < 0) continue;
    points.push([values[at], values[at + 1], values[at + 2], values[at + 3]]);
  }
  return points;
}

/** Values of one site snapshot: kind, events, wall ns, live bytes, sites' bytes and blocks, count, then `topMax` x 3. */
export function snapshotValues(topMax: number): number {
  return 7 + 3 * topMax;
}

/** The written site snapshots (none without call sites). */
function siteHistory(values: Float64Array, start: number, field: (name: typeof TIMELINE_HEADER[number]) => number) {
  const topMax = field("snapshot_top_max");
  const size = snapshotValues(topMax);
  const snapshots: RawSiteSnapshot[] = [];
  for (let i = 0; i < field("snapshots_used"); i++) {
    const at = start + i * size;
    const top: RawSiteLive[] = [];
    for (let j = 0; j < values[at + 6]; j++) {
      top.push([values[at + 7 + 3 * j], values[at + 8 + 3 * j], values[at + 9 + 3 * j]]);
    }
    snapshots.push([values[at], values[at + 1], values[at + 2], values[at + 3], values[at + 4], values[at + 5], top]);
  }
  const history: RawSiteHistory = {
    topMax,
    intervalEvents: field("snapshot_interval_events"),
    walkNsMax: field("snapshot_walk_ns_max"),
    walksAbandoned: field("snapshot_walks_abandoned"),
    snapshots,
  };
  return snapshots.length === 0 ? null : history;
}

/**
 * The timeline as of now (the library takes an exact reading first).
 *
 * @param library The opened library.
 * @returns The raw timeline, or undefined when the library could not take
 *   its lock (a thread was stopped inside a sample).
 */
export function readTimeline(library: NativeLibrary): RawTimeline | undefined {
  const count = library.symbols.mod_alloc_timeline_values_count();
  const values = new Float64Array(count);
  library.symbols.mod_alloc_timeline(values);
  const field = (name: typeof TIMELINE_HEADER[number]) => values[TIMELINE_HEADER.indexOf(name)];
  const pointsMax = field("points_max");
  if (pointsMax === 0) return undefined;
  const eventsStart = TIMELINE_HEADER.length;
  const snapshotsStart = eventsStart + 2 * pointsMax * POINT_VALUES;
  return {
    pointsMax,
    skipped: field("skipped"),
    eventsWidth: field("events_width"),
    wallWidthNs: field("wall_width_ns"),
    peak: [field("peak_events"), field("peak_bytes"), field("peak_blocks"), field("peak_wall_ns")],
    now: [field("now_events"), field("now_wall_ns"), field("now_bytes"), field("now_blocks")],
    byEvents: series(values, eventsStart, field("events_used")),
    byWall: series(values, eventsStart + pointsMax * POINT_VALUES, field("wall_used")),
    sites: siteHistory(values, snapshotsStart, field),
  };
}

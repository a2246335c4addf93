/**
 * Which sites held the live bytes over time, as the report stacks them: the
 * timeline's site snapshots (`core/site_history.zig`) grouped the way the
 * report's tables group sites, the heaviest groups by their largest share
 * at any snapshot named, the rest "other".
 *
 * @module
 */

import type { DhatSite } from "./dhat.ts";
import { type GroupBy, groupSites } from "./grouping.ts";
import type { SiteSnapshot, Timeline } from "../types/timeline.ts";

/** One snapshot's bytes per layer. */
export interface LayeredSnapshot {
  kind: SiteSnapshot["kind"];
  timeMs: number;
  allocations: number;
  /** The timeline's live bytes there (the counters' folded sum). */
  liveBytes: number;
  /** Every site's live bytes in the same walk: the layers' sum. */
  sitesBytes: number;
  /** Bytes per layer, in `SiteLayers.labels` order; the last is "other". */
  bytes: number[];
}

/** The stacked layers of a timeline. */
export interface SiteLayers {
  /** The named groups, heaviest first (by their largest bytes at a snapshot), then "other". */
  labels: string[];
  snapshots: LayeredSnapshot[];
  /** The most sites a snapshot lists: the rest of its walk is in "other". */
  sitesPerSnapshot: number;
  /** Snapshots given up because the walk passed its time limit. */
  walksAbandoned: number;
}

/** Groups named in the chart; the rest is "other" (the palette has one colour each). */
export const LAYERS_NAMED_MAX = 8;

/**
 * The stacked layers of a timeline's site snapshots.
 *
 * @param timeline The timeline (of a DHAT file whose program points carry their `site` row).
 * @param sites The file's sites, frames named.
 * @param groupBy How the report groups sites into rows.
 * @returns The layers, or undefined when the timeline has no site snapshots
 *   (no call sites, or a file of an older mod-alloc).
 */
export function siteLayers(timeline: Timeline, sites: DhatSite[], groupBy: GroupBy): SiteLayers | undefined {
  const snapshots = timeline.siteSnapshots;
  const byRow = new Map<number, DhatSite>();
  for (const site of sites) if (site.pp.site !== undefined) byRow.set(site.pp.site, site);
  if (snapshots.length === 0 || byRow.size === 0) return undefined;
  // Each listed site's largest bytes at any snapshot orders the groups.
  const largest = new Map<DhatSite, number>();
  for (const snapshot of snapshots) {
    for (const { site: row, bytes } of snapshot.top) {
      const site = byRow.get(row);
      if (site !== undefined) largest.set(site, Math.max(largest.get(site) ?? 0, bytes));
    }
  }
  const groups = groupSites([...largest.keys()], groupBy, (site) => largest.get(site) ?? 0);
  const groupOf = new Map<number, number>();
  groups.forEach((group, i) => {
    for (const member of group.members) groupOf.set(member.pp.site!, i);
  });
  // A group's weight: its largest bytes at one snapshot (its members summed there).
  const perSnapshot = snapshots.map((snapshot) => {
    const bytes = new Array<number>(groups.length).fill(0);
    for (const { site: row, bytes: siteBytes } of snapshot.top) {
      const group = groupOf.get(row);
      if (group !== undefined) bytes[group] += siteBytes;
    }
    return bytes;
  });
  const order = groups.map((_, i) => i)
    .sort((a, b) => Math.max(...perSnapshot.map((s) => s[b])) - Math.max(...perSnapshot.map((s) => s[a])) || a - b)
    .slice(0, LAYERS_NAMED_MAX);
  return {
    labels: [...order.map((i) => groups[i].label), "other"],
    sitesPerSnapshot: timeline.sitesPerSnapshot,
    walksAbandoned: timeline.siteWalksAbandoned,
    snapshots: snapshots.map((snapshot, s) => {
      const named = order.map((i) => perSnapshot[s][i]);
      const namedBytes = named.reduce((sum, bytes) => sum + bytes, 0);
      return {
        kind: snapshot.kind,
        timeMs: snapshot.timeMs,
        allocations: snapshot.allocations,
        liveBytes: snapshot.liveBytes,
        sitesBytes: snapshot.sitesBytes,
        // The listed sites are part of the same walk's sum, so "other" is the rest of it; it is only
        // clamped when unlisted rows summed below zero (a free counted before its allocation on
        // another thread's lane, for a moment).
        bytes: [...named, Math.max(snapshot.sitesBytes - namedBytes, 0)],
      };
    }),
  };
}

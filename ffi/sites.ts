/**
 * Reading the site table (Tier 2) from the library: raw statistics and
 * frame addresses, in the order of `core/site_table.zig`'s `Stats`.
 *
 * @module
 */

import type { NativeLibrary } from "./symbols.ts";

/** Field order of `mod_alloc_site_read`'s statistics. */
export const SITE_FIELDS = [
  "alloc_count",
  "total_bytes",
  "current_bytes",
  "current_blocks",
  "peak_bytes",
  "peak_blocks",
  "max_block_bytes",
  "freed_count",
  "lifetime_total",
  "gmax_bytes",
  "gmax_blocks",
  "reserved",
] as const;

/** Field order of `mod_alloc_sites_summary`. */
export const SUMMARY_FIELDS = [
  "used",
  "overflow_events",
  "overflow_sites",
  "peak_bytes",
  "peak_blocks",
  "current_bytes",
  "current_blocks",
  "buckets",
  "frames",
] as const;

/** The most frames a site can hold (`options.frames_max`). */
export const FRAMES_MAX = 64;

/** One raw site: its row index (0 = overflow row), values and frames. */
export interface RawSite {
  index: number;
  values: Record<typeof SITE_FIELDS[number], number>;
  frames: bigint[];
}

/** The table's summary values. */
export type SiteSummary = Record<typeof SUMMARY_FIELDS[number], number>;

function record<K extends string>(names: readonly K[], values: Float64Array): Record<K, number> {
  return Object.fromEntries(names.map((name, i) => [name, values[i]])) as Record<K, number>;
}

export function readSummary(library: NativeLibrary): SiteSummary {
  const out = new Float64Array(SUMMARY_FIELDS.length);
  library.symbols.mod_alloc_sites_summary(out);
  return record(SUMMARY_FIELDS, out);
}

/** Every site that saw at least one event. */
export function readSites(library: NativeLibrary): RawSite[] {
  const buckets = readSummary(library).buckets;
  const stats = new Float64Array(SITE_FIELDS.length);
  const frames = new BigUint64Array(FRAMES_MAX);
  const sites: RawSite[] = [];
  for (let index = 0; index < buckets; index++) {
    const count = library.symbols.mod_alloc_site_read(index, stats, frames);
    if (count < 0) continue;
    const values = record(SITE_FIELDS, stats);
    if (values.alloc_count === 0 && values.current_blocks === 0 && values.freed_count === 0) continue;
    sites.push({ index, values, frames: Array.from(frames.subarray(0, count)) });
  }
  return sites;
}

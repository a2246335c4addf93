/**
 * Comparing two profiles of the same program (a base, say from `main`, and
 * a new one from a change): per-group changes in bytes, blocks and peak,
 * and a verdict for CI against a growth threshold.
 *
 * @module
 */

import type { DhatFile, DhatSite } from "./dhat.ts";
import { OptionError } from "../types/errors.ts";
import { formatBytes } from "./report.ts";

/** What one group allocated in one profile. */
export interface DiffSide {
  /** Bytes allocated over the run. */
  totalBytes: number;
  /** Blocks allocated over the run. */
  allocCount: number;
  /** Bytes live at the profile's global peak (DHAT t-gmax). */
  atPeakBytes: number;
  /** Bytes live at the end (DHAT t-end). */
  endBytes: number;
}

/** One group's change. */
export interface DiffRow {
  label: string;
  base: DiffSide;
  next: DiffSide;
}

/** A whole comparison. */
export interface ProfileDiff {
  /** Groups sorted by the absolute change of `totalBytes`, largest first. */
  rows: DiffRow[];
  /** Totals of each profile. */
  base: DiffSide & { peakBytes: number };
  next: DiffSide & { peakBytes: number };
}

/** A growth limit: an absolute number of bytes or a percentage of the base. */
export type GrowthLimit = { bytes: number } | { percent: number };

const EMPTY: DiffSide = { totalBytes: 0, allocCount: 0, atPeakBytes: 0, endBytes: 0 };

function sideOf(site: DhatSite): DiffSide {
  return { totalBytes: site.pp.tb, allocCount: site.pp.tbk, atPeakBytes: site.pp.gb, endBytes: site.pp.eb };
}

function add(a: DiffSide, b: DiffSide): DiffSide {
  return {
    totalBytes: a.totalBytes + b.totalBytes,
    allocCount: a.allocCount + b.allocCount,
    atPeakBytes: a.atPeakBytes + b.atPeakBytes,
    endBytes: a.endBytes + b.endBytes,
  };
}

function grouped(sites: readonly DhatSite[], keyOf: (site: DhatSite) => string): Map<string, DiffSide> {
  const groups = new Map<string, DiffSide>();
  for (const site of sites) {
    const key = keyOf(site);
    groups.set(key, add(groups.get(key) ?? EMPTY, sideOf(site)));
  }
  return groups;
}

function totals(data: DhatFile, sites: readonly DhatSite[]): DiffSide & { peakBytes: number } {
  const sum = sites.reduce((total, site) => add(total, sideOf(site)), EMPTY);
  return { ...sum, peakBytes: data.modAlloc?.peakBytes ?? sum.atPeakBytes };
}

/**
 * Compares two profiles group by group.
 *
 * @param base The earlier profile and its named sites.
 * @param next The later profile and its named sites.
 * @param groupOf The group of a site: a key to merge by and a label to show (default: its label for both).
 * @returns Rows sorted by the size of the change, and the totals.
 */
export function diffProfiles(
  base: { data: DhatFile; sites: readonly DhatSite[] },
  next: { data: DhatFile; sites: readonly DhatSite[] },
  groupOf: (site: DhatSite) => { key: string; label: string } = (site) => ({ key: site.label, label: site.label }),
): ProfileDiff {
  const labels = new Map<string, string>();
  const keyOf = (site: DhatSite) => {
    const group = groupOf(site);
    labels.set(group.key, group.label);
    return group.key;
  };
  const before = grouped(base.sites, keyOf);
  const after = grouped(next.sites, keyOf);
  const keys = new Set([...before.keys(), ...after.keys()]);
  const rows = [...keys].map((key) => ({
    label: labels.get(key)!,
    base: before.get(key) ?? EMPTY,
    next: after.get(key) ?? EMPTY,
  }));
  const change = (row: DiffRow) => Math.abs(row.next.totalBytes - row.base.totalBytes);
  rows.sort((a, b) => change(b) - change(a) || a.label.localeCompare(b.label));
  return { rows, base: totals(base.data, base.sites), next: totals(next.data, next.sites) };
}

/**
 * Parses a growth limit: `"1048576"` or `"64KiB"`/`"1MiB"` bytes, or `"5%"`.
 *
 * @param text The option's value.
 * @returns The limit.
 * @throws {OptionError} when the text is neither.
 */
export function parseGrowthLimit(text: string): GrowthLimit {
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(text.trim());
  if (percent !== null) return { percent: Number(percent[1]) };
  const bytes = /^(\d+)\s*(B|KiB|MiB|GiB)?$/.exec(text.trim());
  if (bytes !== null) {
    const scale = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }[bytes[2] ?? "B"]!;
    return { bytes: Number(bytes[1]) * scale };
  }
  throw new OptionError(
    `--fail-on-growth ${JSON.stringify(text)}: expected a byte count (e.g. 65536 or 64KiB) or a percentage (e.g. 5%).`,
  );
}

/**
 * The totals that grew beyond the limit: total and peak bytes, and with a percentage also the allocation count.
 *
 * @param diff A comparison.
 * @param limit The allowed growth.
 * @returns One line per breach; empty when within the limit.
 */
export function growthBreaches(diff: ProfileDiff, limit: GrowthLimit): string[] {
  // A byte limit applies to the byte totals; a percentage to every total.
  const checks: [string, number, number][] = [
    ["total bytes", diff.base.totalBytes, diff.next.totalBytes],
    ["peak bytes", diff.base.peakBytes, diff.next.peakBytes],
  ];
  if ("percent" in limit) checks.push(["allocations", diff.base.allocCount, diff.next.allocCount]);
  const breaches: string[] = [];
  for (const [what, before, after] of checks) {
    const allowed = "bytes" in limit ? limit.bytes : before * limit.percent / 100;
    if (after - before > allowed) {
      const shown = "bytes" in limit ? `${limit.bytes}` : `${limit.percent}%`;
      breaches.push(`${what} grew from ${before} to ${after} (+${after - before}), more than the allowed ${shown}`);
    }
  }
  return breaches;
}

function signed(value: number, format: (value: number) => string): string {
  if (value === 0) return "0";
  return value > 0 ? `+${format(value)}` : `-${format(-value)}`;
}

/**
 * The comparison as text: totals, then the `top` groups that changed most.
 *
 * @param diff A comparison from {@linkcode diffProfiles}.
 * @param top How many groups to list (default 10).
 * @returns Lines for a terminal.
 */
export function formatProfileDiff(diff: ProfileDiff, top = 10): string {
  const change = (before: number, after: number) => {
    const percent = before === 0 ? "" : ` (${signed(Math.round((after - before) / before * 1000) / 10, String)}%)`;
    return `${formatBytes(before)} → ${formatBytes(after)}, ${signed(after - before, formatBytes)}${percent}`;
  };
  const lines = [
    `  total bytes  ${change(diff.base.totalBytes, diff.next.totalBytes)}`,
    `  peak bytes   ${change(diff.base.peakBytes, diff.next.peakBytes)}`,
    `  allocations  ${diff.base.allocCount} → ${diff.next.allocCount}, ${
      signed(diff.next.allocCount - diff.base.allocCount, String)
    }`,
  ];
  const changed = diff.rows.filter((row) =>
    row.base.totalBytes !== row.next.totalBytes || row.base.allocCount !== row.next.allocCount ||
    row.base.atPeakBytes !== row.next.atPeakBytes || row.base.endBytes !== row.next.endBytes
  );
  lines.push(
    changed.length === 0
      ? "  no site changed"
      : `  top ${Math.min(top, changed.length)} of ${changed.length} changed sites by bytes allocated:`,
  );
  for (const row of changed.slice(0, top)) {
    const bytes = signed(row.next.totalBytes - row.base.totalBytes, formatBytes).padStart(12);
    const blocks = signed(row.next.allocCount - row.base.allocCount, String).padStart(8);
    lines.push(`    ${bytes} ${blocks} allocs  ${row.label}`);
  }
  return lines.join("\n");
}

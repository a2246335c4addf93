/**
 * The short text report of call sites.
 *
 * @module
 */

import type { CallSiteTable } from "./call_sites.ts";
import { type GroupableSite, type GroupBy, groupSites, type RowKind } from "./grouping.ts";

/**
 * Bytes in B/KiB/MiB/GiB with one decimal.
 *
 * @example
 * ```ts
 * import { formatBytes } from "@mod-alloc/deno";
 *
 * console.log(formatBytes(1536)); // "1.5 KiB"
 * ```
 */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

/**
 * The top sites as a table: rank, bytes, allocations, live bytes, label;
 * then how full the table is and, if sites overflowed, which variable to
 * raise.
 */
export function formatCallSiteTable(table: CallSiteTable, title = "Top allocation sites"): string {
  const sampled = table.sampleIntervalBytes !== undefined;
  const header = ["#", "total", ...(sampled ? ["± 1 s.e."] : []), "allocs", "live", "peak", "site"];
  const rows = table.sites.map((site, i) => [
    String(i + 1),
    formatBytes(site.totalBytes),
    ...(sampled ? [formatBytes(Math.round(site.totalBytesStandardError ?? 0))] : []),
    String(site.allocCount),
    formatBytes(site.currentBytes),
    formatBytes(site.peakBytes),
    site.label,
  ]);
  const widths = header.map((h, column) => Math.max(h.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]) =>
    cells.map((cell, column) => column === cells.length - 1 ? cell : pad(cell, widths[column], column > 0)).join("  ");
  const lines = [title, line(header), ...rows.map(line)];
  if (table.sampleIntervalBytes !== undefined) lines.push(samplingNote(table.sampleIntervalBytes));
  if (table.bytesByKind !== undefined) lines.push(...attributionNote(table.bytesByKind));
  lines.push(`${table.sitesUsed} of ${table.buckets - 1} site entries used; ${table.frames} frames per site.`);
  if (table.overflowEvents > 0) {
    lines.push(
      `The site table is full: ${table.overflowEvents} allocations from about ${table.overflowSites} more sites ` +
        `are in the overflow row. Raise MOD_ALLOC_BUCKETS (or the buckets option) to see them apart.`,
    );
  }
  if (!table.jsSymbols) {
    lines.push(
      "No V8 perf map: JS frames are unnamed. Run deno with --v8-flags=--perf-basic-prof,--interpreted-frames-native-stack,--logfile=/dev/null to name them.",
    );
  }
  return lines.join("\n");
}

/**
 * What sampled figures are: one line for the reports.
 *
 * @param intervalBytes The mean bytes between samples.
 * @returns The line.
 */
export function samplingNote(intervalBytes: number): string {
  return `Sampled: one allocation per ${formatBytes(intervalBytes)} on average (Poisson by bytes). Site figures are ` +
    `unbiased estimates, ± one standard error (the exact value lies within 3 s.e. in ~99% of runs for a site above ` +
    `10 intervals); allocation count and total bytes of the process are exact, its live and peak bytes estimates.`;
}

/** Bytes per kind of row, for {@linkcode attributionNote}. */
export type BytesByKind = Record<RowKind, number>;

/** Sums `bytes` of each row into its kind. */
export function bytesByKind<T extends { kind: RowKind }>(rows: readonly T[], bytes: (row: T) => number): BytesByKind {
  const sums: BytesByKind = { js: 0, native: 0, runtime: 0, overflow: 0 };
  for (const row of rows) sums[row.kind] += bytes(row);
  return sums;
}

function share(part: number, total: number): string {
  return `${total === 0 ? "0.0" : ((part / total) * 100).toFixed(1)}%`;
}

/**
 * What the rows mean and how much of the total each kind holds: user JS,
 * named native functions, the runtime's own work, the overflow row.
 */
export function attributionNote(sums: BytesByKind): string[] {
  const total = sums.js + sums.native + sums.runtime + sums.overflow;
  const parts: string[] = [];
  if (sums.js > 0) {
    parts.push(
      `${share(sums.js, total)} under a JS function of yours (rows "JS …": the innermost frame of your code or its ` +
        `packages; Deno's ext: frames and the profiler's own are skipped; \`file:line:col\` is where the function is ` +
        `defined, \`→ line L:C\` the call that allocated, known for compiled code)`,
    );
  }
  if (sums.native > 0) parts.push(`${share(sums.native, total)} in named native functions with no JS of yours above`);
  if (sums.runtime > 0) {
    parts.push(
      `${share(sums.runtime, total)} the runtime's own work, no JS of yours on the stack (V8's garbage collector and ` +
        `compilers on background threads, Deno's runtime): grouped by kind of thread`,
    );
  }
  if (sums.overflow > 0) parts.push(`${share(sums.overflow, total)} in the overflow row (the site table was full)`);
  return parts.map((part, i) => (i === 0 ? `By bytes: ${part}` : `  ${part}`));
}

/** What a summary needs of a site besides its frames. */
export interface CountedSite extends GroupableSite {
  totalBytes: number;
  allocCount: number;
  /** Sampling mode: one standard error of `totalBytes` (or a bound on it). */
  bytesStandardError?: number;
}

/**
 * The top rows of a profile as text lines (rank, bytes, allocations, sites
 * merged, label), grouped as asked, then what the kinds of row hold.
 *
 * @param sites Every site of the profile.
 * @param by The grouping.
 * @param top How many rows to show.
 * @param what What `totalBytes` holds, for the heading (default "bytes").
 */
export function formatTopRows(sites: readonly CountedSite[], by: GroupBy, top: number, what = "bytes"): string[] {
  const groups = groupSites(sites, by, (site) => site.totalBytes);
  const rows = groups.map((group) => ({
    label: group.label,
    kind: group.kind,
    totalBytes: group.members.reduce((sum, site) => sum + site.totalBytes, 0),
    allocCount: group.members.reduce((sum, site) => sum + site.allocCount, 0),
    siteCount: group.members.length,
    // Sites are sampled independently: their variances add.
    standardError: group.members.some((site) => site.bytesStandardError !== undefined)
      ? Math.sqrt(group.members.reduce((sum, site) => sum + (site.bytesStandardError ?? 0) ** 2, 0))
      : undefined,
  }));
  const shown = rows.slice(0, top);
  if (shown.length === 0) return [];
  const grouping = by === "stack" ? "sites" : `rows (grouped by ${by}; --group-by stack|function|file|package|native)`;
  const lines = [`  top ${shown.length} ${grouping}, by ${what}:`];
  shown.forEach((row, i) => {
    const merged = by === "stack" ? "" : `${String(row.siteCount).padStart(5)} sites `;
    const error = row.standardError === undefined ? "" : ` ± ${formatBytes(Math.round(row.standardError)).padEnd(9)}`;
    lines.push(
      `  ${String(i + 1).padStart(3)}. ${formatBytes(row.totalBytes).padStart(10)}${error} ${
        String(row.allocCount).padStart(7)
      } allocs ${merged} ${row.label}`,
    );
  });
  lines.push(...attributionNote(bytesByKind(rows, (row) => row.totalBytes)).map((line) => `  ${line}`));
  return lines;
}

let overflowAnnounced = false;

/**
 * Says once per process, on stderr, that call sites did not fit the site
 * table and how to raise its size; silent when nothing overflowed.
 *
 * @param overflowEvents Allocations folded into the overflow row.
 * @param buckets The table's size now.
 * @returns True when this call printed the message.
 */
export function announceOverflow(overflowEvents: number, buckets: number): boolean {
  if (overflowEvents <= 0 || overflowAnnounced) return false;
  overflowAnnounced = true;
  console.error(
    `mod-alloc: the call-site table is full (${buckets} entries): ${overflowEvents} allocations went into its ` +
      `overflow row without their stacks. Raise MOD_ALLOC_BUCKETS (ModAlloc.install({ buckets }), profile --buckets; ` +
      `up to 1048576) to see them apart.`,
  );
  return true;
}

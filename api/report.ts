/**
 * The short text report of call sites.
 *
 * @module
 */

import type { CallSiteTable } from "./call_sites.ts";

/**
 * Bytes in B/KiB/MiB/GiB with one decimal.
 *
 * @example
 * ```ts
 * import { formatBytes } from "../mod.ts";
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
  const header = ["#", "total", "allocs", "live", "peak", "site"];
  const rows = table.sites.map((site, i) => [
    String(i + 1),
    formatBytes(site.totalBytes),
    String(site.allocCount),
    formatBytes(site.currentBytes),
    formatBytes(site.peakBytes),
    site.label,
  ]);
  const widths = header.map((h, column) => Math.max(h.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]) =>
    cells.map((cell, column) => column === cells.length - 1 ? cell : pad(cell, widths[column], column > 0)).join("  ");
  const lines = [title, line(header), ...rows.map(line)];
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

/**
 * The summary the commands print on stderr: totals and the top rows by
 * bytes (sites grouped as `--group-by` says, api/grouping.ts), what the
 * kinds of row hold, and a hint when the site table overflowed.
 *
 * @module
 */

import type { DhatFile, DhatSite } from "../api/dhat.ts";
import { formatBytes, formatTopRows } from "../api/report.ts";
import { collapsedStacks, flameGraphHtml, type FlameGraphView } from "../api/flamegraph.ts";
import type { GroupBy } from "../api/grouping.ts";
import { writeFileSafely } from "../api/safe_file.ts";

/** The summary of one profile. */
export function summary(title: string, data: DhatFile, sites: DhatSite[], top: number, groupBy: GroupBy): string {
  const totals = data.modAlloc;
  const lines = [`mod-alloc: ${title}`];
  if (totals !== undefined) {
    lines.push(
      `  total  ${totals.totalBlocks} allocations, ${formatBytes(totals.totalBytes)}`,
      `  peak   ${formatBytes(totals.peakBytes)} in ${totals.peakBlocks} blocks`,
      `  at end ${formatBytes(totals.endBytes)} in ${totals.endBlocks} blocks`,
    );
  }
  const counted = sites.map((site) => ({ ...site, totalBytes: site.pp.tb, allocCount: site.pp.tbk }));
  lines.push(...formatTopRows(counted, groupBy, top));
  const overflow = sites.find((site) => site.label.startsWith("[mod-alloc overflow"));
  if (overflow !== undefined) {
    lines.push(`  ${overflow.pp.tbk} allocations did not fit the site table: raise --buckets.`);
  }
  return lines.join("\n");
}

/** Writes the flame graph (HTML) and its collapsed stacks (`<path>.folded`). */
export function writeFlameGraph(path: string, sites: DhatSite[], title: string, view: FlameGraphView): void {
  const stacks = sites.map((site) => ({ frames: [...site.frames].reverse(), bytes: site.pp.tb, blocks: site.pp.tbk }));
  writeFileSafely(path, flameGraphHtml(stacks, title, view));
  writeFileSafely(`${path}.folded`, collapsedStacks(stacks));
}

/** The lines that say where the report went. */
export function printWritten(output: string, flamegraph: string | undefined): void {
  console.error(`  DHAT file: ${output} (open in /usr/libexec/valgrind/dh_view.html)`);
  if (flamegraph !== undefined) console.error(`  flame graph: ${flamegraph} (collapsed stacks: ${flamegraph}.folded)`);
}

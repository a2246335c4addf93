/**
 * The summary the commands print on stderr: totals and the top sites by
 * bytes, with a hint when the site table overflowed.
 *
 * @module
 */

import type { DhatFile, DhatSite } from "../api/dhat.ts";
import { formatBytes } from "../api/report.ts";
import { collapsedStacks, flameGraphHtml } from "../api/flamegraph.ts";
import { writeFileSafely } from "../api/safe_file.ts";

/** The summary of one profile. */
export function summary(title: string, data: DhatFile, sites: DhatSite[], top: number): string {
  const totals = data.modAlloc;
  const lines = [`mod-alloc: ${title}`];
  if (totals !== undefined) {
    lines.push(
      `  total  ${totals.totalBlocks} allocations, ${formatBytes(totals.totalBytes)}`,
      `  peak   ${formatBytes(totals.peakBytes)} in ${totals.peakBlocks} blocks`,
      `  at end ${formatBytes(totals.endBytes)} in ${totals.endBlocks} blocks`,
    );
  }
  const ranked = [...sites].sort((a, b) => b.pp.tb - a.pp.tb).slice(0, top);
  if (ranked.length > 0) {
    lines.push(`  top ${ranked.length} sites by bytes:`);
    ranked.forEach((site, i) => {
      lines.push(
        `  ${String(i + 1).padStart(3)}. ${formatBytes(site.pp.tb).padStart(10)} ${
          String(site.pp.tbk).padStart(7)
        } allocs  ${site.label}`,
      );
    });
  }
  const overflow = sites.find((site) => site.label.startsWith("[mod-alloc overflow"));
  if (overflow !== undefined) {
    lines.push(`  ${overflow.pp.tbk} allocations did not fit the site table: raise --buckets.`);
  }
  return lines.join("\n");
}

/** Writes the flame graph (HTML) and its collapsed stacks (`<path>.folded`). */
export function writeFlameGraph(path: string, sites: DhatSite[], title: string): void {
  const stacks = sites.map((site) => ({ frames: [...site.frames].reverse(), bytes: site.pp.tb }));
  writeFileSafely(path, flameGraphHtml(stacks, title));
  writeFileSafely(`${path}.folded`, collapsedStacks(stacks));
}

/** The lines that say where the report went. */
export function printWritten(output: string, flamegraph: string | undefined): void {
  console.error(`  DHAT file: ${output} (open in /usr/libexec/valgrind/dh_view.html)`);
  if (flamegraph !== undefined) console.error(`  flame graph: ${flamegraph} (collapsed stacks: ${flamegraph}.folded)`);
}

/**
 * The summary the commands print on stderr: totals and the top rows by
 * bytes (sites grouped as `--group-by` says, api/grouping.ts), what the
 * kinds of row hold, and a hint when the site table overflowed.
 *
 * @module
 */

import type { DhatFile, DhatSite } from "../api/dhat.ts";
import { formatBytes, formatTopRows, samplingNote } from "../api/report.ts";
import { collapsedStacks, flameGraphHtml, type FlameGraphView } from "../api/flamegraph.ts";
import type { GroupBy } from "../api/grouping.ts";
import { writeFileSafely } from "../api/safe_file.ts";
import { measuredAt, measureWords, type SiteMeasure, standardErrorAt } from "../api/site_measure.ts";

/** The summary of one profile. */
export function summary(
  title: string,
  data: DhatFile,
  sites: DhatSite[],
  top: number,
  groupBy: GroupBy,
  measure: SiteMeasure = "total",
): string {
  const totals = data.modAlloc;
  const sampling = totals?.sampling;
  const lines = [`mod-alloc: ${title}`];
  if (sampling !== undefined) {
    lines.push(
      `  exact  ${sampling.exactBlocks} allocations, ${formatBytes(sampling.exactBytes)}, ${sampling.exactFrees} frees`,
      `  ${samplingNote(sampling.meanIntervalBytes)}`,
      "  estimated from the samples:",
    );
  }
  if (totals !== undefined) {
    lines.push(
      `  total  ${totals.totalBlocks} allocations, ${formatBytes(totals.totalBytes)}`,
      `  peak   ${formatBytes(totals.peakBytes)} in ${totals.peakBlocks} blocks`,
      `  at end ${formatBytes(totals.endBytes)} in ${totals.endBlocks} blocks`,
    );
  }
  const counted = sites.map((site) => {
    const { bytes, blocks } = measuredAt(site.pp, measure);
    return {
      ...site,
      totalBytes: bytes,
      allocCount: blocks,
      bytesStandardError: standardErrorAt(site.pp, measure, sampling),
    };
  }).filter((site) => measure === "total" || site.totalBytes > 0);
  lines.push(...formatTopRows(counted, groupBy, top, measure === "total" ? "bytes" : `bytes ${measureWords(measure)}`));
  if (sampling !== undefined && measure !== "total") {
    lines.push("  (± for live and peak bytes is a bound: sqrt(interval x bytes), the standard error of small blocks)");
  }
  const overflow = sites.find((site) => site.label.startsWith("[mod-alloc overflow"));
  if (overflow !== undefined) {
    lines.push(`  ${overflow.pp.tbk} allocations did not fit the site table: raise --buckets.`);
  }
  return lines.join("\n");
}

/**
 * Writes the flame graph (HTML) and its collapsed stacks (`<path>.folded`),
 * headed by what it weighs and `subject` (the program profiled).
 */
export function writeFlameGraph(
  path: string,
  sites: DhatSite[],
  subject: string,
  view: FlameGraphView,
  measure: SiteMeasure = "total",
): void {
  const sampled = sites.some((site) => site.pp.tbSe !== undefined);
  const title = `Bytes ${measureWords(measure)}${sampled ? " (estimated from samples)" : ""}: ${subject}`;
  const stacks = sites.map((site) => {
    const { bytes, blocks } = measuredAt(site.pp, measure);
    return { frames: [...site.frames].reverse(), bytes, blocks, threadName: site.threadName };
  }).filter((stack) => stack.bytes > 0);
  writeFileSafely(path, flameGraphHtml(stacks, title, view, `bytes ${measureWords(measure)}`));
  writeFileSafely(`${path}.folded`, collapsedStacks(stacks));
}

/** The lines that say where the report went. */
export function printWritten(output: string | undefined, flamegraph: string | undefined): void {
  if (output !== undefined) console.error(`  DHAT file: ${output} (open in /usr/libexec/valgrind/dh_view.html)`);
  if (flamegraph !== undefined) console.error(`  flame graph: ${flamegraph} (collapsed stacks: ${flamegraph}.folded)`);
}

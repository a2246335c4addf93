/**
 * One self-contained HTML report of a profile: the summary, live bytes over
 * time with the peak marked and the sites that held them stacked beneath,
 * the top rows by bytes allocated, live at the peak and
 * live at the end, and the flame graph of each of the three (all frames or
 * your JS only, upright or inverted). Inline style, data and script: the
 * page fetches nothing.
 *
 * @module
 */

import type { DhatFile, DhatSampling, DhatSite } from "./dhat.ts";
import { escapeHtml, type FlameGraphMeasure, flameGraphSection, type FlameGraphView } from "./flamegraph.ts";
import { FLAME_GRAPH_STYLE } from "./flamegraph_page.ts";
import { type GroupBy, groupSites } from "./grouping.ts";
import { formatBytes, samplingNote } from "./report.ts";
import { measuredAt, measureWords, SITE_MEASURES, type SiteMeasure, standardErrorAt } from "./site_measure.ts";
import { layersLegend, timelineChartSvg } from "./timeline_chart.ts";
import { LAYERS_NAMED_MAX, type SiteLayers, siteLayers } from "./timeline_sites.ts";
import { timelineOf } from "./timeline.ts";

/** How the report's rows and flame graph are shaped. */
export interface HtmlReportOptions {
  /** The page's heading: the program profiled. */
  title: string;
  /** Rows per table (default 20). */
  top?: number;
  /** How sites are grouped into rows (default `"function"`). */
  groupBy?: GroupBy;
  /** The flame graph's first view (default `"js"`). */
  view?: FlameGraphView;
}

const REPORT_STYLE = `${FLAME_GRAPH_STYLE}
h1{font-size:20px;margin:0 0 8px}h2{font-size:16px;margin:22px 0 6px}
#summary,#sampling{display:grid;grid-template-columns:max-content max-content;gap:2px 18px;margin:0}
#summary dt,#sampling dt{color:#555}#summary dd,#sampling dd{margin:0;font-weight:bold}
svg.timeline .grid{stroke:#e4e4e4}svg .tick{font:11px sans-serif;fill:#555}
svg.timeline .area{fill:rgba(78,121,167,.18)}svg.timeline .line{fill:none;stroke:#1d2733;stroke-width:1.2}
svg.timeline .layer{opacity:.8}svg.timeline .snapshot{stroke:#555}
svg.timeline .peak{fill:#e15759}svg.timeline .end{fill:#555}svg.timeline .peak-label{font:bold 12px sans-serif;fill:#e15759}
.legend{list-style:none;padding:0;margin:4px 0 0 78px;columns:2;font-size:12px}
.swatch{display:inline-block;width:10px;height:10px;margin-right:6px}
table.top{border-collapse:collapse;font-size:12px;margin-bottom:6px}
table.top th,table.top td{padding:2px 8px;text-align:right;border-bottom:1px solid #eee}
table.top td.label,table.top th.label{text-align:left;font-family:monospace}
.tables{display:flex;flex-direction:column}.note{color:#555;font-size:12px;max-width:1160px}`;

/** What a site weighs under each measure. */
function siteRows(sites: DhatSite[], measure: SiteMeasure) {
  return sites.map((site) => ({ ...site, ...measuredAt(site.pp, measure) }))
    .filter((site) => site.bytes > 0);
}

function topTable(
  sites: DhatSite[],
  measure: SiteMeasure,
  groupBy: GroupBy,
  top: number,
  sampling: DhatSampling | undefined,
): string {
  const groups = groupSites(siteRows(sites, measure), groupBy, (site) => site.bytes).slice(0, top);
  const rows = groups.map((group, i) => {
    const bytes = group.members.reduce((sum, site) => sum + site.bytes, 0);
    const blocks = group.members.reduce((sum, site) => sum + site.blocks, 0);
    // Sites are sampled independently: their variances add.
    const variance = group.members.reduce(
      (sum, site) => sum + (standardErrorAt(site.pp, measure, sampling) ?? 0) ** 2,
      0,
    );
    const error = sampling === undefined
      ? ""
      : `<td data-se="${Math.round(Math.sqrt(variance))}">± ${formatBytes(Math.round(Math.sqrt(variance)))}</td>`;
    return `<tr data-bytes="${bytes}" data-blocks="${blocks}"><td>${i + 1}</td><td>${formatBytes(bytes)}</td>${error}` +
      `<td>${blocks}</td><td>${group.members.length}</td><td class="label">${escapeHtml(group.label)}</td></tr>`;
  });
  const what = measure === "total" ? "allocations" : "blocks";
  const columns = sampling === undefined ? 5 : 6;
  const empty = rows.length === 0
    ? `<tr><td colspan="${columns}" class="label">nothing ${measureWords(measure)}</td></tr>`
    : "";
  const errorHeading = sampling === undefined ? "" : `<th>${measure === "total" ? "± 1 s.e." : "± s.e. bound"}</th>`;
  return `<h2>Top ${groups.length} by bytes ${measureWords(measure)}${sampling === undefined ? "" : " (estimated)"}</h2>
<table class="top" id="top-${measure}"><tr><th>#</th><th>bytes</th>${errorHeading}<th>${what}</th><th>sites</th>` +
    `<th class="label">${escapeHtml(groupBy === "stack" ? "site" : `grouped by ${groupBy}`)}</th></tr>${
      rows.join("")
    }${empty}</table>`;
}

function summaryList(data: DhatFile, sites: DhatSite[]): string {
  const totals = data.modAlloc;
  const counterPeak = typeof data.modAlloc?.countersPeakBytes === "number"
    ? data.modAlloc.countersPeakBytes
    : totals?.peakBytes;
  const item = (field: string, label: string, value: number | undefined, text: string) =>
    value === undefined ? "" : `<dt>${label}</dt><dd data-field="${field}" data-value="${value}">${text}</dd>`;
  return `<dl id="summary">${
    [
      item("totalBlocks", "allocations", totals?.totalBlocks, String(totals?.totalBlocks)),
      item("totalBytes", "bytes allocated", totals?.totalBytes, formatBytes(totals?.totalBytes ?? 0)),
      item("peakBytes", "peak live bytes (counters)", counterPeak, formatBytes(counterPeak ?? 0)),
      item("sitesPeakBytes", "live at the peak (sum of sites)", totals?.peakBytes, formatBytes(totals?.peakBytes ?? 0)),
      item(
        "endBytes",
        "live at the end",
        totals?.endBytes,
        `${formatBytes(totals?.endBytes ?? 0)} in ${totals?.endBlocks} blocks`,
      ),
      item("sites", "call sites", sites.length, String(sites.length)),
    ].join("")
  }</dl>${samplingSummary(totals?.sampling)}`;
}

/** Sampled profiles: the exact figures beside the estimates, and what the estimates are. */
function samplingSummary(sampling: DhatSampling | undefined): string {
  if (sampling === undefined) return "";
  return `<dl id="sampling"><dt>exact allocations</dt><dd data-field="exactBlocks" data-value="${sampling.exactBlocks}">${sampling.exactBlocks}</dd><dt>exact bytes allocated</dt><dd data-field="exactBytes" data-value="${sampling.exactBytes}">${
    formatBytes(sampling.exactBytes)
  }</dd><dt>exact frees</dt><dd>${sampling.exactFrees}</dd></dl>
<p class="note" id="sampling-note">${escapeHtml(samplingNote(sampling.meanIntervalBytes))} The figures above the ` +
    `exact ones, the timeline and the tables below are estimates; "± s.e. bound" for live bytes is sqrt(interval × ` +
    `bytes), the standard error of small blocks.</p>`;
}

function timelineSection(data: DhatFile, sites: DhatSite[], groupBy: GroupBy): string {
  const raw = data.modAlloc?.timeline;
  if (raw === undefined || raw === null) {
    return `<h2>Live bytes over time</h2><p class="note" id="no-timeline">This profile has no timeline (written by an ` +
      `older mod-alloc, or the library could not read it at exit).</p>`;
  }
  const timeline = timelineOf(raw);
  const clock = timeline.allocationClock
    ? `<label><input type="radio" name="axis" value="time" checked> wall time</label> <label><input type="radio" ` +
      `name="axis" value="allocations"> allocation clock</label>`
    : "";
  const layers = siteLayers(timeline, sites, groupBy);
  return `<h2>Live bytes over time</h2>
<form id="axis">${clock}</form>
<div id="charts">${timelineChartSvg(timeline, "time", layers)}${
    timeline.allocationClock
      ? timelineChartSvg(timeline, "allocations", layers).replace("<svg ", '<svg style="display:none" ')
      : ""
  }</div>
${layers === undefined ? "" : layersLegend(layers)}
<p class="note">Live bytes of the whole process, sampled whenever a thread's count moved by 64 KiB or 64 blocks ` +
    `(${timeline.byTime.length} points; each the highest sample of ${timeline.msPerPoint.toFixed(3)} ms), so a ` +
    `point is within 64 KiB per thread of the exact sum. The red point is the counters' peak.</p>
${layersNote(layers, data.modAlloc?.sampling !== undefined)}
<script>"use strict";
for (const input of document.querySelectorAll('input[name="axis"]')) input.addEventListener("change", () => {
  for (const svg of document.querySelectorAll("svg.timeline")) svg.style.display = svg.id === "timeline-" + input.value ? "" : "none";
});
</script>`;
}

/** What the stacked layers are, and how exact. */
function layersNote(layers: SiteLayers | undefined, sampled: boolean): string {
  if (layers === undefined) {
    return `<p class="note" id="no-layers">No sites are stacked: this profile has no call sites, or was written by ` +
      `an older mod-alloc that kept no site snapshots.</p>`;
  }
  const samples = layers.snapshots.filter((snapshot) => snapshot.kind === "sample").length;
  return `<p class="note" id="layers-note">Beneath the line, the sites that held the bytes, grouped as in the tables ` +
    `(the ${LAYERS_NAMED_MAX} heaviest groups by their largest share, the rest "other"), from ${samples} ` +
    `snapshot${samples === 1 ? "" : "s"} taken during the run and one each at the peak and at the end (the ticks ` +
    `under the axis; straight lines between them: between snapshots nothing is known per site). Snapshots are ` +
    `spaced so that walking the site table takes at most 2% of the run. A snapshot lists up to ${layers.sitesPerSnapshot} ` +
    `heaviest sites, each exact as its row of the site table was read; a group holds only its listed sites, ` +
    `the rest of the walk's sum is "other". The stack's height is every site's bytes in that walk, so it can ` +
    `stand above or below the line by the line's own error (64 KiB per thread).${
      sampled ? " Sampling mode: each site's bytes are estimates from its samples, as in the tables." : ""
    }${
      layers.walksAbandoned > 0
        ? ` ${layers.walksAbandoned} snapshot${layers.walksAbandoned === 1 ? " was" : "s were"} given up: the walk ` +
          `passed 100 ms (a very large site table).`
        : ""
    }</p>`;
}

/**
 * The report as one HTML page.
 *
 * @param data The profile (a named DHAT file).
 * @param sites Its sites, frames named.
 * @param options Heading, rows and the flame graph's first view.
 * @returns The page: nothing in it is fetched.
 */
export function htmlReport(data: DhatFile, sites: DhatSite[], options: HtmlReportOptions): string {
  const groupBy = options.groupBy ?? "function";
  const top = options.top ?? 20;
  const measures: FlameGraphMeasure[] = SITE_MEASURES.map((measure) => ({
    key: measure,
    label: `bytes ${measureWords(measure)}`,
    stacks: siteRows(sites, measure).map((site) => ({
      frames: [...site.frames].reverse(),
      bytes: site.bytes,
      blocks: site.blocks,
      threadName: site.threadName,
    })),
  }));
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>mod-alloc: ${escapeHtml(options.title)}</title>
<style>${REPORT_STYLE}</style></head>
<body><h1>mod-alloc: ${escapeHtml(options.title)}</h1>
${summaryList(data, sites)}
${timelineSection(data, sites, groupBy)}
<div class="tables">${
    SITE_MEASURES.map((measure) => topTable(sites, measure, groupBy, top, data.modAlloc?.sampling)).join("\n")
  }</div>
<h2>Flame graph</h2>
${flameGraphSection(measures, options.view ?? "js")}
</body></html>
`;
}

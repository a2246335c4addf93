/**
 * The timeline as an SVG chart (drawn here, no script needed): live bytes
 * over wall time or over the allocation clock, with the peak and the end
 * marked, and the sites that held them stacked beneath the line, from the
 * timeline's site snapshots (`timeline_sites.ts`).
 *
 * @module
 */

import type { Timeline, TimelinePoint } from "../types/timeline.ts";
import { escapeHtml } from "./flamegraph.ts";
import { formatBytes } from "./report.ts";
import type { LayeredSnapshot, SiteLayers } from "./timeline_sites.ts";

/** The axis a chart runs along. */
export type TimelineAxis = "time" | "allocations";

const WIDTH = 1160;
const HEIGHT = 260;
const LEFT = 78;
const RIGHT = 16;
const TOP = 24;
const BOTTOM = 30;

/** 1, 2 or 5 times a power of ten, at least `value`: a tick step. */
function niceStep(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= value) ?? 10 * power;
}

/** A power-of-two byte step (1 KiB, 2 MiB …) near `value`, so tick labels are round. */
function byteStep(value: number): number {
  if (!(value > 0)) return 1;
  return 2 ** Math.ceil(Math.log2(value));
}

function timeLabel(ms: number): string {
  return ms >= 10_000
    ? `${(ms / 1000).toFixed(0)} s`
    : ms >= 1000
    ? `${(ms / 1000).toFixed(1)} s`
    : `${ms.toFixed(0)} ms`;
}

function allocationsLabel(count: number): string {
  return count >= 1e6 ? `${(count / 1e6).toFixed(1)}M` : count >= 1e3 ? `${(count / 1e3).toFixed(0)}k` : String(count);
}

/** A colour per named layer, then "other"'s grey. */
export const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7"];
const OTHER_COLOUR = "#bab0ac";

function layerColour(layers: SiteLayers, index: number): string {
  return index === layers.labels.length - 1 ? OTHER_COLOUR : PALETTE[index % PALETTE.length];
}

/**
 * The stacked layers (heaviest at the bottom, "other" on top) through the
 * snapshots, straight lines between them, and a tick under each snapshot
 * whose tooltip lists its layers.
 */
function layerParts(
  layers: SiteLayers,
  x: (snapshot: LayeredSnapshot) => number,
  y: (bytes: number) => number,
  axis: TimelineAxis,
): string[] {
  const snapshots = [...layers.snapshots].sort((a, b) => x(a) - x(b));
  const below = snapshots.map(() => 0);
  const parts = layers.labels.map((label, layer) => {
    const lower = snapshots.map((snapshot, i) => `${x(snapshot).toFixed(1)},${y(below[i]).toFixed(1)}`);
    snapshots.forEach((snapshot, i) => below[i] += snapshot.bytes[layer]);
    const upper = snapshots.map((snapshot, i) => `${x(snapshot).toFixed(1)},${y(below[i]).toFixed(1)}`);
    return `<path class="layer" data-layer="${layer}" fill="${layerColour(layers, layer)}" d="M${upper.join(" L")} L${
      lower.reverse().join(" L")
    } Z"><title>${escapeHtml(label)}</title></path>`;
  });
  for (const snapshot of snapshots) {
    const at = x(snapshot).toFixed(1);
    const lines = layers.labels.map((label, layer) => `${formatBytes(snapshot.bytes[layer])} ${label}`)
      .filter((_, layer) => snapshot.bytes[layer] > 0);
    const when = axis === "time" ? timeLabel(snapshot.timeMs) : `${allocationsLabel(snapshot.allocations)} allocations`;
    parts.push(
      `<line class="snapshot" x1="${at}" x2="${at}" y1="${y(0).toFixed(1)}" y2="${(y(0) + 5).toFixed(1)}" ` +
        `data-kind="${snapshot.kind}" data-live-bytes="${snapshot.liveBytes}" data-sites-bytes="${snapshot.sitesBytes}" ` +
        `data-layers="${snapshot.bytes.join(",")}"><title>${
          escapeHtml(
            `${snapshot.kind === "sample" ? "sites" : `sites at the ${snapshot.kind}`} at ${when}: ${
              formatBytes(snapshot.sitesBytes)
            }\n${lines.join("\n")}`,
          )
        }</title></line>`,
    );
  }
  return parts;
}

/**
 * The live-bytes chart of one axis.
 *
 * @param timeline The timeline.
 * @param axis Wall time or the allocation clock.
 * @param layers The sites stacked beneath the line, when the timeline has site snapshots.
 * @returns An `<svg>` element with the points' count, the peak's and the
 *   end's bytes in `data-` attributes.
 */
export function timelineChartSvg(timeline: Timeline, axis: TimelineAxis, layers?: SiteLayers): string {
  const points = axis === "time" ? timeline.byTime : timeline.byAllocations;
  const key = (p: { timeMs: number; allocations: number }) => (axis === "time" ? p.timeMs : p.allocations);
  const first = key(points[0]);
  const span = Math.max(key(points[points.length - 1]) - first, axis === "time" ? 1 : 1);
  const stackTop = Math.max(0, ...(layers?.snapshots ?? []).map((s) => s.bytes.reduce((sum, b) => sum + b, 0)));
  const top = Math.max(timeline.peak.bytes, stackTop, 1);
  const yStep = byteStep(top / 5);
  const yMax = Math.ceil(top / yStep) * yStep;
  const plotWidth = WIDTH - LEFT - RIGHT;
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const x = (p: TimelinePoint) => LEFT + ((key(p) - first) / span) * plotWidth;
  const y = (bytes: number) => TOP + plotHeight - (Math.max(bytes, 0) / yMax) * plotHeight;
  const parts: string[] = [];
  for (let value = 0; value <= yMax; value += yStep) {
    parts.push(
      `<line class="grid" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${y(value).toFixed(1)}" y2="${y(value).toFixed(1)}"/>`,
      `<text class="tick" x="${LEFT - 6}" y="${(y(value) + 4).toFixed(1)}" text-anchor="end">${
        formatBytes(value)
      }</text>`,
    );
  }
  const xStep = niceStep(span / 8);
  for (let value = 0; value <= span; value += xStep) {
    const at = LEFT + (value / span) * plotWidth;
    const label = axis === "time" ? timeLabel(value) : allocationsLabel(value);
    parts.push(`<text class="tick" x="${at.toFixed(1)}" y="${HEIGHT - 10}" text-anchor="middle">${label}</text>`);
  }
  const line = points.map((p, i) => `${i === 0 ? "M" : "L"}${x(p).toFixed(1)},${y(p.bytes).toFixed(1)}`).join(" ");
  const baseline = y(0).toFixed(1);
  const area = `${line} L${x(points[points.length - 1]).toFixed(1)},${baseline} L${
    x(points[0]).toFixed(1)
  },${baseline} Z`;
  if (layers === undefined) parts.push(`<path class="area" d="${area}"/>`);
  else parts.push(...layerParts(layers, (s) => LEFT + ((key(s) - first) / span) * plotWidth, y, axis));
  parts.push(`<path class="line" d="${line}"/>`);
  const { peak, end } = timeline;
  const when = axis === "time" ? timeLabel(peak.timeMs) : `${allocationsLabel(peak.allocations)} allocations`;
  const peakX = x(peak);
  const anchor = peakX > WIDTH - 260 ? "end" : "start";
  parts.push(
    `<circle class="end" cx="${x(end).toFixed(1)}" cy="${y(end.bytes).toFixed(1)}" r="4" data-bytes="${end.bytes}">` +
      `<title>end: ${formatBytes(end.bytes)} live in ${end.blocks} blocks</title></circle>`,
    `<circle class="peak" cx="${peakX.toFixed(1)}" cy="${y(peak.bytes).toFixed(1)}" r="5" data-bytes="${peak.bytes}">` +
      `<title>peak: ${formatBytes(peak.bytes)} live in ${peak.blocks} blocks at ${when}</title></circle>`,
    `<text class="peak-label" x="${(peakX + (anchor === "end" ? -9 : 9)).toFixed(1)}" y="${
      (y(peak.bytes) + 4).toFixed(1)
    }" text-anchor="${anchor}">peak ${formatBytes(peak.bytes)} at ${when}</text>`,
  );
  return `<svg class="timeline" id="timeline-${axis}" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" ` +
    `data-points="${points.length}" data-peak-bytes="${peak.bytes}" data-end-bytes="${end.bytes}">${
      parts.join("")
    }</svg>`;
}

/**
 * The legend of the stacked layers: each named group with its largest
 * bytes at a snapshot and its bytes at the peak.
 *
 * @param layers The layers.
 * @returns A `<ul>`.
 */
export function layersLegend(layers: SiteLayers): string {
  const atPeak = layers.snapshots.find((snapshot) => snapshot.kind === "peak");
  const items = layers.labels.map((label, layer) => {
    const largest = Math.max(...layers.snapshots.map((snapshot) => snapshot.bytes[layer]));
    const peak = atPeak === undefined ? "" : `, ${formatBytes(atPeak.bytes[layer])} at the peak`;
    return `<li data-layer="${layer}"><span class="swatch" style="background:${layerColour(layers, layer)}"></span>${
      escapeHtml(label)
    } <small>(up to ${formatBytes(largest)}${peak})</small></li>`;
  });
  return `<ul class="legend" id="layers-legend">${items.join("")}</ul>`;
}

/**
 * The timeline as an SVG chart (drawn here, no script needed): live bytes
 * over wall time or over the allocation clock, with the peak and the end
 * marked, and the sites that held the bytes at those two moments as
 * stacked bars. The core records per-site values at the peak and at the
 * end only, not a per-site history, so the bars say exactly that.
 *
 * @module
 */

import type { Timeline, TimelinePoint } from "../types/timeline.ts";
import { escapeHtml } from "./flamegraph.ts";
import { formatBytes } from "./report.ts";

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

/**
 * The live-bytes chart of one axis.
 *
 * @param timeline The timeline.
 * @param axis Wall time or the allocation clock.
 * @returns An `<svg>` element with the points' count, the peak's and the
 *   end's bytes in `data-` attributes.
 */
export function timelineChartSvg(timeline: Timeline, axis: TimelineAxis): string {
  const points = axis === "time" ? timeline.byTime : timeline.byAllocations;
  const key = (p: TimelinePoint) => (axis === "time" ? p.timeMs : p.allocations);
  const first = key(points[0]);
  const span = Math.max(key(points[points.length - 1]) - first, axis === "time" ? 1 : 1);
  const top = Math.max(timeline.peak.bytes, 1);
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
  parts.push(`<path class="area" d="${area}"/>`, `<path class="line" d="${line}"/>`);
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

/** A group of sites and its bytes at the peak and at the end. */
export interface HeldBytes {
  label: string;
  peakBytes: number;
  endBytes: number;
}

const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"];
const OTHER_COLOUR = "#bab0ac";

/**
 * Two stacked bars, at the peak and at the end, split by the rows that
 * held the most bytes then; the rest is one grey "other" segment.
 *
 * @param rows Rows with their bytes at the peak and at the end (heaviest first).
 * @param scaleBytes The bytes the full width stands for (the peak).
 * @returns The bars as an `<svg>` and a legend.
 */
export function heldBytesBars(rows: HeldBytes[], scaleBytes: number): string {
  const shown = rows.slice(0, PALETTE.length);
  const other = rows.slice(PALETTE.length);
  const sum = (list: HeldBytes[], pick: (row: HeldBytes) => number) => list.reduce((s, row) => s + pick(row), 0);
  const segments = [
    ...shown.map((row, i) => ({ ...row, colour: PALETTE[i] })),
    {
      label: "other",
      peakBytes: sum(other, (r) => r.peakBytes),
      endBytes: sum(other, (r) => r.endBytes),
      colour: OTHER_COLOUR,
    },
  ];
  const plotWidth = WIDTH - LEFT - RIGHT;
  const scale = Math.max(scaleBytes, 1);
  const bar = (name: "peak" | "end", row: number) => {
    let at = LEFT;
    const boxes = segments.map((segment) => {
      const bytes = name === "peak" ? segment.peakBytes : segment.endBytes;
      const width = (bytes / scale) * plotWidth;
      const box = `<rect x="${at.toFixed(1)}" y="${row * 30 + 4}" width="${
        width.toFixed(1)
      }" height="22" fill="${segment.colour}"><title>${escapeHtml(segment.label)}: ${
        formatBytes(bytes)
      } live at the ${name}</title></rect>`;
      at += width;
      return box;
    });
    return `<text class="tick" x="${LEFT - 6}" y="${row * 30 + 20}" text-anchor="end">at ${name}</text>${
      boxes.join("")
    }`;
  };
  const legend = segments.filter((s) => s.peakBytes > 0 || s.endBytes > 0).map((segment) =>
    `<li><span class="swatch" style="background:${segment.colour}"></span>${escapeHtml(segment.label)} <small>(${
      formatBytes(segment.peakBytes)
    } at the peak, ${formatBytes(segment.endBytes)} at the end)</small></li>`
  ).join("");
  return `<svg class="held" width="${WIDTH}" height="64" viewBox="0 0 ${WIDTH} 64">${bar("peak", 0)}${
    bar("end", 1)
  }</svg><ul class="legend">${legend}</ul>`;
}

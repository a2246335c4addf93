/**
 * Which bytes a view of a profile weighs: everything allocated at a site
 * (DHAT's totals), what was live there at the process's global peak
 * (t-gmax: what made the peak), or what was still live at the end (t-end:
 * the leak view).
 *
 * @module
 */

import type { DhatProgramPoint, DhatSampling } from "./dhat.ts";

/** `"total"`: allocated; `"peak"`: live at the global peak; `"end"`: live at the end. */
export type SiteMeasure = "total" | "peak" | "end";

/** Every measure, for option parsers. */
export const SITE_MEASURES: readonly SiteMeasure[] = ["total", "peak", "end"];

/**
 * A program point's bytes and blocks under a measure.
 *
 * @param pp The program point.
 * @param measure Which bytes.
 * @returns Its bytes and blocks.
 */
export function measuredAt(pp: DhatProgramPoint, measure: SiteMeasure): { bytes: number; blocks: number } {
  if (measure === "peak") return { bytes: pp.gb, blocks: pp.gbk };
  if (measure === "end") return { bytes: pp.eb, blocks: pp.ebk };
  return { bytes: pp.tb, blocks: pp.tbk };
}

/**
 * The measure in words, for headings.
 *
 * @param measure Which bytes.
 * @returns For example `"live at the end"`.
 */
export function measureWords(measure: SiteMeasure): string {
  return measure === "peak" ? "live at the global peak" : measure === "end" ? "live at the end" : "allocated";
}

/**
 * One standard error of a sampled program point's bytes under a measure:
 * the file's own for the total (`tbSe`); for live or peak bytes the bound
 * sqrt(R x bytes) (each sample adds at most R x its estimate to the
 * variance: `core/sampler.zig`). Undefined when the profile is not sampled.
 *
 * @param pp The program point.
 * @param measure Which bytes.
 * @param sampling The file's `modAlloc.sampling`, if any.
 * @returns The standard error in bytes, or undefined.
 */
export function standardErrorAt(
  pp: DhatProgramPoint,
  measure: SiteMeasure,
  sampling: DhatSampling | undefined,
): number | undefined {
  if (sampling === undefined) return undefined;
  if (measure === "total") return pp.tbSe;
  return Math.sqrt(sampling.meanIntervalBytes * measuredAt(pp, measure).bytes);
}

/**
 * DHAT files: the library writes the site table with raw addresses and the
 * process's memory map (`core/dhat_writer.zig`); this names the frames and
 * writes the file valgrind's `dh_view.html` loads.
 *
 * @module
 */

import { PerfMap } from "../symbols/perf_map.ts";
import { parseMaps } from "../symbols/proc_maps.ts";
import { type Frame, Symbolizer } from "../symbols/symbolizer.ts";
import { labelOf } from "./call_sites.ts";

/** One program point of a DHAT file (heap mode). */
export interface DhatProgramPoint {
  tb: number;
  tbk: number;
  tl: number;
  mb: number;
  mbk: number;
  gb: number;
  gbk: number;
  eb: number;
  ebk: number;
  fs: number[];
}

/** The fields of a DHAT file that this module reads and writes. */
export interface DhatFile {
  dhatFileVersion: number;
  mode: string;
  cmd: string;
  pid: number;
  te: number;
  tg?: number;
  pps: DhatProgramPoint[];
  ftbl: string[];
  modAlloc?: {
    callSites: boolean;
    totalBlocks: number;
    totalBytes: number;
    peakBytes: number;
    peakBlocks: number;
    endBytes: number;
    endBlocks: number;
    maps?: string;
  };
  [other: string]: unknown;
}

/** A program point with its symbolized frames and label. */
export interface DhatSite {
  pp: DhatProgramPoint;
  frames: Frame[];
  label: string;
}

const RAW_FRAME = /^0x([0-9a-f]+)$/;

/** A frame as DHAT's frame table writes it (`0xADDR: function (file:line)`). */
export function dhatFrameText(frame: Frame): string {
  const address = `0x${frame.address.toString(16).toUpperCase()}`;
  if (frame.kind === "js") {
    const where = frame.file === undefined ? "" : ` (${frame.file}:${frame.line ?? 0}:${frame.column ?? 0})`;
    return `${address}: JS ${frame.symbol ?? "(anonymous)"}${where}`;
  }
  const name = frame.symbol ?? "???";
  if (frame.file !== undefined && frame.line !== undefined) return `${address}: ${name} (${frame.file}:${frame.line})`;
  return `${address}: ${name} (in ${frame.module ?? "?"})`;
}

/**
 * Names the raw frames of a file written by the library, with the memory
 * map it embeds and V8's perf map of its process, and drops the map.
 * Frames that are already names are left as they are.
 */
export function symbolizeDhat(data: DhatFile): { data: DhatFile; sites: DhatSite[] } {
  const maps = data.modAlloc?.maps;
  const symbolizer = new Symbolizer(data.pid, {
    maps: maps === undefined ? undefined : parseMaps(maps),
    perfMap: PerfMap.forProcess(data.pid),
  });
  try {
    const frames = data.ftbl.map((text): Frame | undefined => {
      const raw = RAW_FRAME.exec(text);
      return raw === null ? undefined : symbolizer.frame(BigInt(`0x${raw[1]}`));
    });
    const ftbl = data.ftbl.map((text, i) => (frames[i] === undefined ? text : dhatFrameText(frames[i]!)));
    const sites = data.pps.map((pp) => {
      const siteFrames = pp.fs.map((index) => frames[index]).filter((frame): frame is Frame => frame !== undefined);
      const overflow = pp.fs.length === 1 && data.ftbl[pp.fs[0]].startsWith("[mod-alloc overflow");
      const label = siteFrames.length === 0 && pp.fs.length > 0 ? data.ftbl[pp.fs[0]] : labelOf(siteFrames, overflow);
      return { pp, frames: siteFrames, label };
    });
    const modAlloc = data.modAlloc === undefined ? undefined : { ...data.modAlloc, maps: undefined };
    return { data: { ...data, ftbl, modAlloc }, sites };
  } finally {
    symbolizer.close();
  }
}

/** Writes `text` to `path` whole or not at all (a temporary file, then rename). */
export function writeFileAtomically(path: string, text: string): void {
  const temporary = `${path}.tmp-${Deno.pid}`;
  try {
    Deno.writeTextFileSync(temporary, text);
    Deno.renameSync(temporary, path);
  } catch (error) {
    try {
      Deno.removeSync(temporary);
    } catch {
      // nothing was written
    }
    throw error;
  }
}

/** Reads a raw file written by the library, names its frames and writes it to `path`. */
export function finishDhatFile(rawPath: string, path: string): DhatSite[] {
  const { data, sites } = symbolizeDhat(JSON.parse(Deno.readTextFileSync(rawPath)) as DhatFile);
  writeFileAtomically(path, JSON.stringify(data));
  return sites;
}

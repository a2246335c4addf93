/**
 * DHAT files: the library writes the site table with raw addresses and the
 * process's memory map (`core/dhat_writer.zig`); this names the frames and
 * writes the file valgrind's `dh_view.html` loads.
 *
 * @module
 */

import { type JitDump, readJitDump } from "../symbols/jitdump.ts";
import { PerfMap, perfMapPathOf } from "../symbols/perf_map.ts";
import { parseMaps } from "../symbols/proc_maps.ts";
import { type Frame, Symbolizer } from "../symbols/symbolizer.ts";
import { threadNameOf } from "./attribution.ts";
import { labelOf } from "./call_sites.ts";
import { readDhatFile } from "./dhat_input.ts";
import { writeFileSafely } from "./safe_file.ts";
import type { RawTimeline } from "../types/timeline.ts";

/** One program point of a DHAT file (heap mode): a call site and its figures. */
export interface DhatProgramPoint {
  /** Total bytes allocated here. */
  tb: number;
  /** Total blocks allocated here. */
  tbk: number;
  /** Total lifetime of the blocks, in allocation events. */
  tl: number;
  /** Most bytes live at once from here. */
  mb: number;
  /** Blocks live at that moment. */
  mbk: number;
  /** Bytes live at the process-wide peak ("at t-gmax"). */
  gb: number;
  /** Blocks live at the process-wide peak. */
  gbk: number;
  /** Bytes still live at the end. */
  eb: number;
  /** Blocks still live at the end. */
  ebk: number;
  /** The stack: indices into `ftbl`, innermost frame first. */
  fs: number[];
  /** The allocating thread's name: an index into `modAlloc.threadNames` (0: unknown). */
  thread?: number;
  /** The site's row in the library's site table, which `modAlloc.timeline.sites` snapshots name. */
  site?: number;
  /** Sampling mode: one standard error of `tb` (an estimate then). */
  tbSe?: number;
  /** Sampling mode: one standard error of `tbk`. */
  tbkSe?: number;
}

/** A sampled profile's header (`modAlloc.sampling`): the rate and the exact figures. */
export interface DhatSampling {
  /** Mean bytes between samples. */
  meanIntervalBytes: number;
  /** Allocation events, counted exactly. */
  exactBlocks: number;
  /** Bytes allocated, counted exactly (a realloc counts its new size). */
  exactBytes: number;
  /** Frees, counted exactly. */
  exactFrees: number;
}

/** The fields of a DHAT file that this module reads and writes. */
export interface DhatFile {
  /** Always 2. */
  dhatFileVersion: number;
  /** `"heap"` for the library's files, `"ad-hoc"` for `writeAdHocDhat`'s. */
  mode: string;
  /** The profiled command line (bytes that are not UTF-8 written as `\xHH`). */
  cmd: string;
  /** The profiled process's id. */
  pid: number;
  /** The time at the end, in allocation events. */
  te: number;
  /** The time of the global peak, in allocation events. */
  tg?: number;
  /** The program points. */
  pps: DhatProgramPoint[];
  /** The frame table: `"[root]"`, then each frame as text (raw `0x…` before naming). */
  ftbl: string[];
  /** mod-alloc's own totals, and the process's memory map in a raw file. */
  modAlloc?: {
    callSites: boolean;
    totalBlocks: number;
    totalBytes: number;
    peakBytes: number;
    peakBlocks: number;
    endBytes: number;
    endBlocks: number;
    maps?: string;
    /** Kernel names of the threads that allocated (`pp.thread` indexes it; index 0 is "unknown"). */
    threadNames?: string[];
    /** The counters' peak (the sites' `peakBytes` differ from it by less than `peakDriftBytes`). */
    countersPeakBytes?: number;
    peakDriftBytes?: number;
    /** Live bytes over time (null when the library could not read it at exit). */
    timeline?: RawTimeline | null;
    /** Present when the profile was sampled: the program points' figures are estimates. */
    sampling?: DhatSampling;
  };
  /** Other fields DHAT defines (verb, units, thresholds), kept as they are. */
  [other: string]: unknown;
}

/** A program point with its symbolized frames and label. */
export interface DhatSite {
  /** The program point as the file has it. */
  pp: DhatProgramPoint;
  /** Its frames, named, innermost first. */
  frames: Frame[];
  /** One line naming the site (as a call site's `label`). */
  label: string;
  /** True for the row of sites that did not fit the table. */
  overflow: boolean;
  /** The kernel name of the thread that allocated here, when the file records it. */
  threadName?: string;
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
 * The perf map of the process a file describes: the one at `path` if
 * given, else the one its command line asked V8 for; read under
 * {@linkcode PerfMap.fromFile}'s checks, empty when there is none.
 */
function perfMapFor(data: DhatFile, path: string | undefined): PerfMap {
  const chosen = path ?? perfMapPathOf(data.pid, data.cmd);
  return chosen === undefined ? new PerfMap([]) : PerfMap.fromFile(chosen);
}

/**
 * Names the raw frames of a file written by the library, with the memory
 * map it embeds and the V8 perf map given (default: the one its process
 * asked for, see {@linkcode FinishDhatOptions.perfMap}), and drops the
 * memory map. Frames that are already names are left as they are.
 */
export function symbolizeDhat(
  data: DhatFile,
  perfMap: PerfMap = perfMapFor(data, undefined),
  jitDump?: JitDump,
): { data: DhatFile; sites: DhatSite[] } {
  const maps = data.modAlloc?.maps;
  // A file without its memory map (already named, or not ours) is read as
  // it is: the live map of whatever process has that pid now is not its.
  // A jitdump, when given, names JIT code instead of the perf map.
  const symbolizer = new Symbolizer(data.pid, {
    maps: maps === undefined ? [] : parseMaps(maps),
    perfMap: jitDump === undefined ? perfMap : undefined,
    jitDump,
  });
  try {
    const frames = data.ftbl.map((text): Frame | undefined => {
      const raw = RAW_FRAME.exec(text);
      return raw === null ? undefined : symbolizer.frame(BigInt(`0x${raw[1]}`));
    });
    const ftbl = data.ftbl.map((text, i) => (frames[i] === undefined ? text : dhatFrameText(frames[i]!)));
    const sites = data.pps.map((pp) => {
      const siteFrames = pp.fs.map((index) => frames[index] ?? namedFrame(ftbl[index]));
      // The overflow row and the no-call-sites row hold one pseudo-frame,
      // a sentence in brackets: it is the label.
      const pseudo = pp.fs.length > 0 && data.ftbl[pp.fs[0]].startsWith("[");
      const overflow = pseudo && data.ftbl[pp.fs[0]].startsWith("[mod-alloc overflow");
      const threadName = threadNameOf(data.modAlloc?.threadNames, pp.thread);
      const label = pseudo ? data.ftbl[pp.fs[0]] : labelOf(siteFrames, false, threadName);
      return { pp, frames: pseudo ? [] : siteFrames, label, overflow, threadName };
    });
    const modAlloc = data.modAlloc === undefined ? undefined : { ...data.modAlloc, maps: undefined };
    return { data: { ...data, ftbl, modAlloc }, sites };
  } finally {
    symbolizer.close();
  }
}

const NAMED_FRAME = /^0x([0-9A-Fa-f]+): (JS )?(.*?)(?: \((?:in (.*)|(.*?):(\d+)(?::(\d+))?)\))?$/;

/** A frame of a DHAT file that is already named (`0xADDR: name (file:line)`), back as a {@linkcode Frame}. */
function namedFrame(text: string): Frame {
  const match = NAMED_FRAME.exec(text);
  if (match === null) return { address: 0, kind: "native", symbol: text };
  const [, address, js, symbol, module, file, line, column] = match;
  return {
    address: Number.parseInt(address, 16),
    kind: js === undefined ? "native" : "js",
    symbol: symbol === "???" ? undefined : symbol,
    module,
    file,
    line: line === undefined ? undefined : Number(line),
    column: column === undefined ? undefined : Number(column),
  };
}

/** Options of {@linkcode finishDhatFile}. */
export interface FinishDhatOptions {
  /**
   * V8's perf map of the profiled process. Default: the one it asked V8
   * for in its command line (`--perf-basic-prof`), read only if it is a
   * regular file owned by this user; none otherwise.
   */
  perfMap?: string;
  /**
   * A directory where V8 wrote the process's jitdump (`--perf-prof`,
   * `--perf-prof-path`): when it holds `jit-<pid>.dump`, JIT frames are
   * named from it, with the line of each compiled frame, instead of from
   * the perf map.
   */
  jitDumpDirectory?: string;
}

/**
 * Names the frames of a raw DHAT file written by the library (the
 * `MOD_ALLOC_OUT` file of any program run with the library preloaded, or
 * an already named file, which is read as it is) and writes the result to
 * `path`, safely (see {@linkcode writeFileSafely}). Returns the sites,
 * each with its frames and a one-line label.
 *
 * Needs `--allow-read` (the raw file, the binaries its frames point into,
 * the perf map) and `--allow-write` for `path`'s directory.
 *
 * @param rawPath The file the library wrote.
 * @param path The DHAT file to write (valgrind's `dh_view.html` loads it).
 * @param options Where the perf map is.
 * @returns The sites of the file, in file order.
 * @throws {ReportError} When the raw file is missing, too big, not JSON or not a DHAT file, or `path` cannot be written.
 *
 * @example
 * ```ts
 * import { finishDhatFile } from "@mod-alloc/deno";
 *
 * const dir = Deno.makeTempDirSync();
 * const raw = `${dir}/raw.json`;
 * Deno.writeTextFileSync(raw, JSON.stringify({
 *   dhatFileVersion: 2, mode: "heap", cmd: "demo", pid: 1, te: 1,
 *   pps: [{ tb: 64, tbk: 1, tl: 0, mb: 64, mbk: 1, gb: 64, gbk: 1, eb: 0, ebk: 0, fs: [1] }],
 *   ftbl: ["[root]", "0x1000: main (main.c:3)"],
 * }));
 * const sites = finishDhatFile(raw, `${dir}/dhat.json`);
 * console.log(sites[0].label, sites[0].pp.tb); // "main (main.c:3)" 64
 * ```
 */
export function finishDhatFile(rawPath: string, path: string, options: FinishDhatOptions = {}): DhatSite[] {
  return nameDhatFile(rawPath, path, options).sites;
}

/** {@linkcode finishDhatFile}, returning the named file's data too. */
export function nameDhatFile(
  rawPath: string,
  path: string,
  options: FinishDhatOptions = {},
): { data: DhatFile; sites: DhatSite[] } {
  const raw = readDhatFile(rawPath);
  const jitDump = options.jitDumpDirectory === undefined ? undefined : readJitDump(options.jitDumpDirectory, raw.pid);
  const named = symbolizeDhat(raw, jitDump === undefined ? perfMapFor(raw, options.perfMap) : new PerfMap([]), jitDump);
  writeFileSafely(path, JSON.stringify(named.data), "the DHAT file");
  return named;
}

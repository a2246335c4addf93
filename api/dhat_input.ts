/**
 * Reading a DHAT file that may be hostile or truncated: bounded size, and
 * every field the report uses checked, with a {@linkcode ReportError}
 * that says where the file is wrong instead of a `TypeError` later.
 *
 * @module
 */

import type { DhatFile } from "./dhat.ts";
import { ReportError } from "../types/errors.ts";
import { rawTimelineProblem } from "./timeline.ts";

/**
 * Files above this are refused before they are read: a DHAT file is read
 * whole, and V8 cannot hold a string much beyond 512 MiB. The library's
 * own files are far smaller (a full 2^20-site table with 64 frames is
 * about 300 MiB).
 */
export const DHAT_FILE_BYTES_MAX = 400 << 20;

const COUNTS = ["tb", "tbk", "tl", "mb", "mbk", "gb", "gbk", "eb", "ebk"] as const;

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0;
}

/**
 * Checks that `value` has the shape of a heap-mode DHAT file this module
 * can report on, and returns it typed.
 *
 * @param value Parsed JSON.
 * @param source What it was read from, for messages.
 * @returns `value` as a {@linkcode DhatFile}.
 * @throws {ReportError} Naming the first field that is wrong.
 */
export function checkDhatFile(value: unknown, source: string): DhatFile {
  const wrong = (what: string) =>
    new ReportError(
      `${source} is not a DHAT file mod-alloc can read: ${what}. Give the file written by MOD_ALLOC_OUT or writeDhat.`,
    );
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw wrong("it is not a JSON object");
  const data = value as Record<string, unknown>;
  if (data.dhatFileVersion !== 2) throw wrong(`dhatFileVersion is ${JSON.stringify(data.dhatFileVersion)}, not 2`);
  if (typeof data.mode !== "string") throw wrong("mode is missing");
  if (typeof data.cmd !== "string") throw wrong("cmd is not a string");
  if (!Number.isSafeInteger(data.pid)) throw wrong("pid is not an integer");
  if (!isCount(data.te)) throw wrong("te is not a count");
  if (!Array.isArray(data.ftbl) || data.ftbl.length === 0) throw wrong("ftbl is not a non-empty array");
  const badFrame = data.ftbl.findIndex((frame) => typeof frame !== "string");
  if (badFrame >= 0) throw wrong(`ftbl[${badFrame}] is not a string`);
  if (!Array.isArray(data.pps)) throw wrong("pps is not an array");
  data.pps.forEach((pp: unknown, i) => {
    if (typeof pp !== "object" || pp === null) throw wrong(`pps[${i}] is not an object`);
    const point = pp as Record<string, unknown>;
    for (const count of COUNTS) {
      // Ad-hoc files carry only tb and tbk; heap files carry all.
      if (point[count] === undefined && data.mode !== "heap") continue;
      if (!isCount(point[count])) throw wrong(`pps[${i}].${count} is not a count`);
    }
    for (const error of ["tbSe", "tbkSe"]) {
      if (point[error] !== undefined && !isCount(point[error])) throw wrong(`pps[${i}].${error} is not a count`);
    }
    if (point.site !== undefined && !(Number.isSafeInteger(point.site) && (point.site as number) >= 0)) {
      throw wrong(`pps[${i}].site is not a row number`);
    }
    if (!Array.isArray(point.fs)) throw wrong(`pps[${i}].fs is not an array`);
    const badIndex = point.fs.findIndex((index) =>
      !Number.isSafeInteger(index) || index < 0 || index >= (data.ftbl as unknown[]).length
    );
    if (badIndex >= 0) {
      throw wrong(`pps[${i}].fs[${badIndex}] is ${JSON.stringify(point.fs[badIndex])}, not an index into ftbl`);
    }
  });
  const modAlloc = data.modAlloc;
  if (modAlloc !== undefined) {
    if (typeof modAlloc !== "object" || modAlloc === null) throw wrong("modAlloc is not an object");
    const maps = (modAlloc as Record<string, unknown>).maps;
    if (maps !== undefined && typeof maps !== "string") throw wrong("modAlloc.maps is not a string");
    const timeline = (modAlloc as Record<string, unknown>).timeline;
    // null: the library could not read its timeline when it wrote the file.
    const problem = timeline === undefined || timeline === null ? undefined : rawTimelineProblem(timeline);
    if (problem !== undefined) throw wrong(`modAlloc.timeline: ${problem}`);
    const sampling = (modAlloc as Record<string, unknown>).sampling;
    if (sampling !== undefined) {
      if (typeof sampling !== "object" || sampling === null) throw wrong("modAlloc.sampling is not an object");
      for (const field of ["meanIntervalBytes", "exactBlocks", "exactBytes", "exactFrees"]) {
        if (!isCount((sampling as Record<string, unknown>)[field])) {
          throw wrong(`modAlloc.sampling.${field} is not a count`);
        }
      }
    }
  }
  return data as DhatFile;
}

/**
 * Reads and checks a DHAT file (at most {@linkcode DHAT_FILE_BYTES_MAX}).
 *
 * @param path The file.
 * @returns Its contents, checked.
 * @throws {ReportError} When it is missing, too big, not JSON or not a DHAT file.
 */
export function readDhatFile(path: string): DhatFile {
  let text: string;
  try {
    const info = Deno.statSync(path);
    if (!info.isFile) throw new ReportError(`${path} is not a regular file: give the DHAT file itself.`);
    if (info.size > DHAT_FILE_BYTES_MAX) {
      throw new ReportError(
        `${path} is ${info.size} bytes, more than the ${DHAT_FILE_BYTES_MAX} this reader takes: profile with fewer ` +
          `--buckets or --frames.`,
      );
    }
    text = Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof ReportError) throw error;
    if (error instanceof Deno.errors.NotFound) throw new ReportError(`${path} does not exist.`, { cause: error });
    throw new ReportError(`Cannot read ${path}: ${(error as Error).message}.`, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ReportError(
      `${path} is not valid JSON (${(error as Error).message}): the file is truncated or not a DHAT file.`,
      { cause: error },
    );
  }
  return checkDhatFile(parsed, path);
}

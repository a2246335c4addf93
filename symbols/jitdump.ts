/**
 * V8's jitdump (`jit-<pid>.dump`, written with `--perf-prof`; the format
 * of Linux perf's `jitdump` ABI): a code-load record per compiled function
 * (address, size, the same name as the perf map's) and, for code V8
 * compiled (Sparkplug, Maglev, TurboFan), a debug-info record mapping
 * instruction addresses to the script's line and column. That gives the
 * *line that allocated* for compiled frames, where the perf map only knows
 * where the function is defined. Interpreted code has no such record.
 *
 * The file is untrusted input: records are bounds-checked, a record of an
 * unknown kind or a size that does not fit ends the parse (V8 may still be
 * appending when the process is killed), and counts are capped.
 *
 * @module
 */

import type { PerfMapEntry } from "./perf_map.ts";
import { lastAtOrBelow } from "./search.ts";

/** One address of compiled code and the script position it came from (1-based). */
export interface JitLine {
  address: bigint;
  line: number;
  column: number;
}

/** The parsed file: code ranges (as a perf map has them) and line tables by code start. */
export interface JitDump {
  entries: PerfMapEntry[];
  lines: Map<bigint, JitLine[]>;
}

const MAGIC = 0x4a695444; // "JiTD"
const HEADER_BYTES_MIN = 40;
const RECORD_CODE_LOAD = 0;
const RECORD_DEBUG_INFO = 2;
const RECORD_KIND_MAX = 5; // JIT_CODE_LOAD .. JIT_CODE_CLOSE (4 is unwinding info, 5 close)
/** V8 adds the size of the ELF header perf inject prepends to every debug-info address. */
const ELF_HEADER_BYTES = 0x40n;
/** Bounds on hostile or runaway input. */
const RECORDS_MAX = 5_000_000;
const DEBUG_ENTRIES_MAX = 1 << 20;

const decoder = new TextDecoder();

function cStringAt(bytes: Uint8Array, start: number, end: number): { text: string; next: number } | undefined {
  let at = start;
  while (at < end && bytes[at] !== 0) at++;
  if (at >= end) return undefined;
  return { text: decoder.decode(bytes.subarray(start, at)), next: at + 1 };
}

/** Parses a jitdump; throws on a file that is not one. */
export function parseJitDump(bytes: Uint8Array): JitDump {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < HEADER_BYTES_MIN || view.getUint32(0, true) !== MAGIC) {
    throw new Error("not a jitdump file (no JiTD magic)");
  }
  const entries: PerfMapEntry[] = [];
  const lines = new Map<bigint, JitLine[]>();
  let at = view.getUint32(8, true);
  for (let records = 0; records < RECORDS_MAX && at + 16 <= bytes.length; records++) {
    const kind = view.getUint32(at, true);
    const size = view.getUint32(at + 4, true);
    if (kind > RECORD_KIND_MAX || size < 16 || at + size > bytes.length) break;
    const end = at + size;
    if (kind === RECORD_CODE_LOAD && size >= 56) {
      const start = view.getBigUint64(at + 32, true);
      const codeBytes = view.getBigUint64(at + 40, true);
      const name = cStringAt(bytes, at + 56, end);
      if (name !== undefined && codeBytes > 0n) {
        entries.push({ start, end: start + codeBytes, name: name.text, order: entries.length });
      }
    } else if (kind === RECORD_DEBUG_INFO && size >= 32) {
      const code = view.getBigUint64(at + 16, true);
      const count = Number(view.getBigUint64(at + 24, true));
      lines.set(code, debugEntries(bytes, view, at + 32, end, Math.min(count, DEBUG_ENTRIES_MAX)));
    }
    at = end;
  }
  return { entries, lines };
}

function debugEntries(bytes: Uint8Array, view: DataView, start: number, end: number, count: number): JitLine[] {
  const result: JitLine[] = [];
  let at = start;
  for (let i = 0; i < count && at + 16 < end; i++) {
    const address = view.getBigUint64(at, true) - ELF_HEADER_BYTES;
    const line = view.getInt32(at + 8, true);
    const column = view.getInt32(at + 12, true);
    // The file name: a C string, or 0xff 0x00 for "same as before".
    const name = bytes[at + 16] === 0xff ? { next: at + 18 } : cStringAt(bytes, at + 16, end);
    if (name === undefined) break;
    at = name.next;
    if (line > 0) result.push({ address, line, column: Math.max(column, 1) });
  }
  result.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  return result;
}

/**
 * The script position of the instruction at `address` in the code that
 * starts at `codeStart`: the last line-table entry at or below it.
 */
export function jitLineAt(dump: JitDump, codeStart: bigint, address: bigint): JitLine | undefined {
  const table = dump.lines.get(codeStart);
  if (table === undefined || table.length === 0) return undefined;
  const index = lastAtOrBelow(table, (entry) => entry.address, address);
  return index < 0 ? undefined : table[index];
}

/** Reads `<directory>/jit-<pid>.dump`; undefined when there is none. */
export function readJitDump(directory: string, pid: number): JitDump | undefined {
  try {
    return parseJitDump(Deno.readFileSync(`${directory}/jit-${pid}.dump`));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

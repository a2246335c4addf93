/**
 * V8's perf map (`/tmp/perf-<pid>.map`, written with
 * `--perf-basic-prof`): JIT code address ranges and what they are.
 *
 * V8 reuses code addresses as it recompiles; entries are appended in time
 * order, so for an address the *latest* entry that covers it wins. A
 * report is made after the allocations it describes, so for code that
 * moved in between, the name is that of the newest code at that address.
 *
 * @module
 */

import { lastAtOrBelow } from "./search.ts";

/** One JIT code range. */
export interface PerfMapEntry {
  start: bigint;
  end: bigint;
  name: string;
  /** Order in the file: later entries replace earlier ones. */
  order: number;
}

/** A JIT frame, parsed from an entry's name. */
export interface JitFrame {
  kind: "js" | "native";
  symbol: string;
  file?: string;
  line?: number;
  column?: number;
}

/** Parses perf-map text. Malformed lines are skipped. */
export function parsePerfMap(text: string): PerfMapEntry[] {
  const entries: PerfMapEntry[] = [];
  let order = 0;
  for (const line of text.split("\n")) {
    const match = /^([0-9a-fA-F]+) ([0-9a-fA-F]+) (.+)$/.exec(line);
    if (match === null) continue;
    const start = BigInt(`0x${match[1]}`);
    const size = BigInt(`0x${match[2]}`);
    if (size === 0n) continue;
    entries.push({ start, end: start + size, name: match[3], order: order++ });
  }
  return entries;
}

/** An index for lookups: entries sorted by start, latest entry wins. */
export class PerfMap {
  readonly #entries: PerfMapEntry[];
  readonly #maxSize: bigint;

  constructor(entries: PerfMapEntry[]) {
    this.#entries = [...entries].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.order - b.order));
    this.#maxSize = entries.reduce((max, entry) => (entry.end - entry.start > max ? entry.end - entry.start : max), 0n);
  }

  /** Reads `/tmp/perf-<pid>.map`; an empty map when there is none. */
  static forProcess(pid: number): PerfMap {
    try {
      return new PerfMap(parsePerfMap(Deno.readTextFileSync(`/tmp/perf-${pid}.map`)));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return new PerfMap([]);
      throw error;
    }
  }

  get size(): number {
    return this.#entries.length;
  }

  /** The latest entry covering `address`. */
  lookup(address: bigint): PerfMapEntry | undefined {
    // Entries that can cover `address` start in [address - maxSize, address].
    const last = lastAtOrBelow(this.#entries, (entry) => entry.start, address);
    let best: PerfMapEntry | undefined;
    for (let i = last; i >= 0; i--) {
      const entry = this.#entries[i];
      if (address - entry.start > this.#maxSize) break;
      if (address < entry.end && (best === undefined || entry.order > best.order)) best = entry;
    }
    return best;
  }
}

/**
 * `JS:~name file:///path.ts:12:3` (a function) or `Script:~ file:///…`
 * (top-level code) -> a JS frame; builtins, stubs and bytecode handlers
 * stay native. The character after the colon is V8's tier (~ interpreted,
 * ^ baseline, + Maglev, * TurboFan), with an `o` before it for code
 * entered on-stack (OSR) and a `'` after it for code specialised to its
 * context.
 */
export function parseJitName(name: string): JitFrame {
  const js = /^(JS|Script):(?:o?[~*^+-]'?)?(.*?)(?: ?(\S+?):(\d+):(\d+))?$/.exec(name);
  if (js === null) return { kind: "native", symbol: name };
  const [, type, fn, file, line, column] = js;
  return {
    kind: "js",
    symbol: fn !== "" ? fn : type === "Script" ? "(top level)" : "(anonymous)",
    file,
    line: line === undefined ? undefined : Number(line),
    column: column === undefined ? undefined : Number(column),
  };
}

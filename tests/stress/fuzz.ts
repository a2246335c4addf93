// Bounded fuzzing of the parts that read outside input: the perf-map
// parser, ELF and DWARF reading of damaged files, source maps, and the
// profile command's options. An input may be rejected with an Error; it
// must never hang, crash the process, or escape as anything else.
import { parseProfileArgs } from "../../cli/profile.ts";
import { UsageError } from "../../cli/options.ts";
import { checkDhatFile } from "../../api/dhat_input.ts";
import { ReportError } from "../../types/errors.ts";
import { MINIMAL_DHAT } from "../support/dhat_sample.ts";
import { parseLineTables } from "../../symbols/dwarf_line.ts";
import { ElfFile } from "../../symbols/elf.ts";
import { parseJitName, parsePerfMap, PerfMap } from "../../symbols/perf_map.ts";
import { decodeVlq, SourceMap } from "../../symbols/source_map.ts";

/** Deterministic random numbers (xorshift). */
class Random {
  constructor(private state: number) {}
  next(): number {
    this.state ^= this.state << 13;
    this.state ^= this.state >>> 17;
    this.state ^= this.state << 5;
    return (this.state >>> 0) / 2 ** 32;
  }
  int(max: number): number {
    return Math.floor(this.next() * max);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

export interface FuzzResult {
  target: string;
  inputs: number;
  rejected: number;
  unexpected: string[];
}

function run(
  target: string,
  seconds: number,
  make: (random: Random, i: number) => () => void,
  expected: (error: unknown) => boolean = (error) => error instanceof Error,
): FuzzResult {
  const random = new Random(0x9e3779b9);
  const result: FuzzResult = { target, inputs: 0, rejected: 0, unexpected: [] };
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const attempt = make(random, result.inputs);
    result.inputs++;
    try {
      attempt();
    } catch (error) {
      if (expected(error)) result.rejected++;
      else if (result.unexpected.length < 5) result.unexpected.push(String(error));
      else result.unexpected.push("…");
    }
  }
  return result;
}

function mutate(random: Random, bytes: Uint8Array, count: number): Uint8Array {
  const copy = bytes.slice();
  for (let i = 0; i < count; i++) copy[random.int(copy.length)] = random.int(256);
  return copy;
}

const ALPHABET = "0123456789abcdefJS:~*^+'o file:///x.ts\n -_()[]{}Builtin";

export function fuzzAll(fixture: string, seconds: number): FuzzResult[] {
  const results: FuzzResult[] = [];
  results.push(run("perf map lines", seconds, (random) => () => {
    const text = Array.from(
      { length: 20 },
      () => Array.from({ length: random.int(60) }, () => random.pick([...ALPHABET])).join(""),
    ).join("\n");
    const map = new PerfMap(parsePerfMap(text));
    map.lookup(BigInt(random.int(0x10000)));
    for (const line of text.split("\n")) parseJitName(line);
  }));
  const elf = Deno.readFileSync(fixture);
  const scratch = Deno.makeTempFileSync({ suffix: ".so" });
  results.push(run("ELF files, damaged", seconds, (random) => () => {
    // Damage the headers most of the time: that is where parsing starts.
    const damaged = mutate(random, elf, 1 + random.int(32));
    if (random.next() < 0.7) { for (let i = 0; i < 8; i++) damaged[random.int(256)] = random.int(256); }
    Deno.writeFileSync(scratch, damaged);
    const file = new ElfFile(scratch);
    try {
      file.symbolAt(BigInt(random.int(0x40000)));
      const lines = file.sectionData(".debug_line");
      if (lines !== undefined) parseLineTables(lines);
    } finally {
      file.close();
    }
  }));
  Deno.removeSync(scratch);
  const original = new ElfFile(fixture);
  const debugLine = original.sectionData(".debug_line") ?? new Uint8Array(64);
  original.close();
  results.push(run("DWARF line tables, damaged", seconds, (random) => () => {
    parseLineTables(mutate(random, debugLine, 1 + random.int(16)));
  }));
  results.push(run("source map VLQ", seconds, (random) => () => {
    const text = Array.from(
      { length: random.int(80) },
      () => random.pick([..."ABCDEFGHIJKLMNOPabcdefgh0123456789+/,;!"]),
    )
      .join("");
    decodeVlq(text.replace(/[,;]/g, ""));
    new SourceMap(text).original(1 + random.int(5), 1 + random.int(40));
  }));
  const words = [
    "-o",
    "--output",
    "--frames",
    "--buckets",
    "--top",
    "--flamegraph",
    "--no-js",
    "-A",
    "--allow-read",
    "--v8-flags=--x",
    "--",
    "script.ts",
    "-x",
    "99",
    "0",
    "-1",
    "abc",
    "",
    "--frames=3",
    "--output=",
    "--follow-children",
    "python3",
    "-V",
    "-h",
  ];
  results.push(run(
    "profile command options",
    seconds,
    (random) => () => void parseProfileArgs(Array.from({ length: random.int(8) }, () => random.pick(words))),
    (error) => error instanceof UsageError,
  ));
  const dhat = MINIMAL_DHAT;
  const values = [null, -1, 1e308, "x", [], {}, [99], true, 2, 0];
  results.push(run(
    "DHAT file shapes",
    seconds,
    (random) => () => {
      const data = structuredClone(dhat) as Record<string, unknown>;
      const point = (data.pps as Record<string, unknown>[])[0];
      const target = random.int(2) === 0 ? data : point;
      const keys = Object.keys(target);
      for (let i = 0; i <= random.int(3); i++) target[random.pick(keys)] = random.pick(values);
      checkDhatFile(data, "fuzz.json");
    },
    (error) => error instanceof ReportError,
  ));
  return results;
}

/**
 * Allocations per operation for benchmarks, like Go's `-benchmem`: in a
 * plain script (`measureAllocations`) and in `deno bench`
 * (`benchAllocations`).
 *
 * @module
 */

import { FIELD } from "../ffi/layout.ts";
import { loadLibrary } from "../ffi/library.ts";
import { type CounterReader, counterReader } from "../ffi/stats.ts";
import type { ThreadScope } from "../types/alloc_stats.ts";
import { OptionError, ReportError } from "../types/errors.ts";
import { ModAlloc } from "./mod_alloc.ts";
import { threadScope } from "./options.ts";
import { formatBytes } from "./report.ts";
import { writeFileSafely } from "./safe_file.ts";

/** Allocation cost of one operation, averaged over `iterations`. */
export interface AllocationsPerOp {
  /** The benchmark's name. */
  name: string;
  /** Operations measured. */
  iterations: number;
  /** Wall time per operation, in nanoseconds. */
  nsPerOp: number;
  /** Bytes allocated per operation (Go's B/op). */
  bytesPerOp: number;
  /** Allocation events per operation (Go's allocs/op). */
  allocsPerOp: number;
}

/** Options of {@linkcode measureAllocations}. */
export interface MeasureOptions {
  /** Operations to measure (default 1000). */
  iterations?: number;
  /** Operations run first and not measured, to let V8 compile (default 100). */
  warmup?: number;
  /** Default `"current"`: allocations of the calling thread. */
  thread?: ThreadScope;
}

function count(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new OptionError(`measureAllocations: ${name} must be a whole number >= 0; got ${JSON.stringify(value)}.`);
  }
  return value;
}

/**
 * Runs `fn` `iterations` times and reports time, bytes and allocations per
 * operation, like Go's `-benchmem`, from a plain script. The counts are of
 * the calling thread (or of every thread with `thread: "all"`) and include
 * what V8 does on it while `fn` runs (a collection, compiling `fn` to a
 * faster tier): real costs of the operation, averaged. `fn` is sync; for
 * an async operation use {@linkcode benchAllocations} in `deno bench`.
 *
 * Permissions: `--allow-ffi`, `--allow-read`, `--allow-env`.
 *
 * @param name A name for the result.
 * @param fn The operation.
 * @param options Iterations (default 1000), unmeasured warm-up runs (default 100), thread scope.
 * @returns Time, bytes and allocations per operation.
 * @throws {OptionError} When an option is invalid, or `fn` returns a promise.
 *
 * @example
 * ```ts
 * import { formatBenchmem, measureAllocations } from "@mod-alloc/deno";
 *
 * const result = measureAllocations("encode", () => new TextEncoder().encode("x".repeat(100)), { iterations: 200 });
 * console.log(formatBenchmem([result]));
 * ```
 */
export function measureAllocations(name: string, fn: () => unknown, options: MeasureOptions = {}): AllocationsPerOp {
  const iterations = count(options.iterations, "iterations", 1000);
  const warmup = count(options.warmup, "warmup", 100);
  if (iterations === 0) throw new OptionError("measureAllocations: iterations must be at least 1.");
  const thread = threadScope(options.thread, "measureAllocations", "current");
  const alloc = ModAlloc.install();
  for (let i = 0; i < warmup; i++) {
    const result = fn();
    if (typeof (result as PromiseLike<unknown> | null)?.then === "function") {
      throw new OptionError(
        `measureAllocations(${JSON.stringify(name)}): fn returned a promise; it measures sync work only. ` +
          "Measure async work with benchAllocations in deno bench, or Profiler.measure.",
      );
    }
  }
  const before = alloc.snapshot({ thread });
  const start = performance.now();
  for (let i = 0; i < iterations; i++) fn();
  const elapsedMs = performance.now() - start;
  const after = alloc.snapshot({ thread });
  return {
    name,
    iterations,
    nsPerOp: (elapsedMs * 1e6) / iterations,
    bytesPerOp: (after.totalBytes - before.totalBytes) / iterations,
    allocsPerOp: (after.allocCount - before.allocCount) / iterations,
  };
}

/**
 * Results as Go prints them: `name  N  ns/op  B/op  allocs/op`.
 *
 * @param results Results of {@linkcode measureAllocations}.
 * @returns One aligned line per result.
 *
 * @example
 * ```ts
 * import { formatBenchmem } from "@mod-alloc/deno";
 *
 * console.log(formatBenchmem([{ name: "a", iterations: 10, nsPerOp: 12.5, bytesPerOp: 48, allocsPerOp: 1 }]));
 * ```
 */
export function formatBenchmem(results: AllocationsPerOp[]): string {
  const rows = results.map((r) => [
    r.name,
    String(r.iterations),
    `${r.nsPerOp.toFixed(1)} ns/op`,
    `${Math.round(r.bytesPerOp)} B/op`,
    `${r.allocsPerOp.toFixed(r.allocsPerOp < 10 ? 2 : 0)} allocs/op`,
  ]);
  const widths = [0, 1, 2, 3, 4].map((column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) =>
    row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("  ")
  )
    .join("\n");
}

/** The allocation cost per operation of one {@linkcode benchAllocations} bench. */
export interface BenchAllocationResult {
  /** The bench's name. */
  name: string;
  /** The bench's group, when it has one. */
  group?: string;
  /** Operations counted (every run of the bench but its first). */
  iterations: number;
  /** Bytes allocated per operation (Go's B/op). */
  bytesPerOp: number;
  /** Allocation events per operation (Go's allocs/op). */
  allocsPerOp: number;
}

/** Sums of one bench, keyed by group and name. */
interface BenchTally {
  name: string;
  group: string | undefined;
  calls: number;
  iterations: number;
  bytes: number;
  allocs: number;
}

const tallies = new Map<string, BenchTally>();
let reportRegistered = false;
const AsyncFunction = (async () => {}).constructor;

/** `MOD_ALLOC_BENCH_JSON`, if set (and readable). */
function jsonPath(): string | undefined {
  try {
    return Deno.env.get("MOD_ALLOC_BENCH_JSON") || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks that `path` can be written, by creating and removing a file next
 * to it, so that a bad path fails before any bench runs instead of after
 * all of them.
 */
function checkWritable(path: string): void {
  const where = `MOD_ALLOC_BENCH_JSON=${path}`;
  let info: Deno.FileInfo | undefined;
  try {
    info = Deno.lstatSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw reportError(where, error);
  }
  if (info !== undefined && !info.isFile) {
    throw new ReportError(
      `${where} is ${info.isDirectory ? "a directory" : "not a regular file"}: set it to the path of a JSON file ` +
        "to write (e.g. bench_allocations.json), or unset it.",
    );
  }
  const probe = `${path}.probe-${Deno.pid}`;
  try {
    Deno.openSync(probe, { write: true, createNew: true, mode: 0o600 }).close();
    Deno.removeSync(probe);
  } catch (error) {
    throw reportError(where, error);
  }
}

function reportError(where: string, error: unknown): ReportError {
  return new ReportError(
    `${where} cannot be written (${(error as Error).message}): point it at a file in a writable directory ` +
      "that exists, or unset it.",
    { cause: error },
  );
}

/**
 * The results recorded by {@linkcode benchAllocations} so far, one per
 * bench (keyed by group and name); also printed to stderr and written as
 * JSON to `MOD_ALLOC_BENCH_JSON` when the bench process ends.
 *
 * @returns The results, in registration order.
 *
 * @example
 * ```ts
 * import { benchAllocationResults } from "@mod-alloc/deno";
 *
 * for (const result of benchAllocationResults()) console.log(result.group, result.name, result.bytesPerOp);
 * ```
 */
export function benchAllocationResults(): BenchAllocationResult[] {
  return [...tallies.values()].filter((tally) => tally.iterations > 0).map((tally) => ({
    name: tally.name,
    ...(tally.group === undefined ? {} : { group: tally.group }),
    iterations: tally.iterations,
    bytesPerOp: tally.bytes / tally.iterations,
    allocsPerOp: tally.allocs / tally.iterations,
  }));
}

function report(): void {
  const results = benchAllocationResults();
  if (results.length === 0) return;
  const lines = results.map((r) =>
    `${r.group === undefined ? "" : `${r.group} / `}${r.name}: ${Math.round(r.bytesPerOp)} B/op ` +
    `(${formatBytes(Math.round(r.bytesPerOp))}), ${r.allocsPerOp.toFixed(2)} allocs/op over ${r.iterations} ops`
  );
  // stderr: `deno bench --json` owns stdout.
  console.error(`\nnative allocations (mod-alloc, calling thread):\n${lines.join("\n")}`);
  const path = jsonPath();
  if (path !== undefined) writeFileSafely(path, JSON.stringify(results, null, 2));
}

/**
 * Counts one run of a bench: between the context's `start()` and `end()`
 * when the bench calls them (as Deno times it), else the whole call.
 */
class BenchRun {
  readonly context: Deno.BenchContext;
  readonly #tally: BenchTally;
  readonly #reader: CounterReader;
  #allocs = 0;
  #bytes = 0;
  #explicit = false;

  constructor(tally: BenchTally, reader: CounterReader, context: Deno.BenchContext) {
    this.#tally = tally;
    this.#reader = reader;
    this.context = {
      name: context.name,
      origin: context.origin,
      start: () => {
        context.start();
        this.#explicit = true;
        this.#open();
      },
      end: () => {
        this.#close();
        context.end();
      },
    };
    this.#open();
  }

  #open(): void {
    const counters = this.#reader.counters;
    this.#reader.snapshot.current();
    this.#allocs = counters[FIELD.alloc_count];
    this.#bytes = counters[FIELD.total_bytes];
  }

  #close(): void {
    const counters = this.#reader.counters;
    this.#reader.snapshot.current();
    this.#allocs = counters[FIELD.alloc_count] - this.#allocs;
    this.#bytes = counters[FIELD.total_bytes] - this.#bytes;
    this.#explicit = true; // later snapshots of this run change nothing
  }

  /** Adds the run to its bench; the first run of each bench compiles it and is left out. */
  finish(): void {
    if (!this.#explicit) this.#close();
    const tally = this.#tally;
    if (tally.calls++ === 0) return;
    tally.iterations++;
    tally.allocs += this.#allocs;
    tally.bytes += this.#bytes;
  }
}

/**
 * Registers a `Deno.bench` whose runs are also counted: B/op and allocs/op
 * of the calling thread, printed to stderr after Deno's table when the
 * bench process ends (`deno bench --json` stays valid JSON), and written
 * as JSON to `MOD_ALLOC_BENCH_JSON` when it is set.
 *
 * `fn` gets Deno's `BenchContext`: when it calls `b.start()` and `b.end()`,
 * only what runs between them is counted, as only that is timed. An
 * `async` function is awaited, as `Deno.bench` awaits it; a plain function
 * that returns a promise is refused (Deno would not await it either).
 * Results are kept per group and name; registering the same pair twice is
 * an error. The first run of each bench is not counted (V8 compiles the
 * function then). Counting costs two native reads per run, inside the
 * timing unless the bench calls `b.start()`/`b.end()`.
 *
 * Permissions: `--allow-ffi`, `--allow-read`, `--allow-env`, and
 * `--allow-write` for `MOD_ALLOC_BENCH_JSON`.
 *
 * @param name The bench's name, as in `Deno.bench`.
 * @param fn The operation, sync or `async`; it receives the bench context.
 * @param options Other `Deno.bench` options (`group`, `baseline`, `n`, `warmup`, `only`, `ignore`, `permissions`, …).
 * @throws {OptionError} When a bench with the same group and name is already registered.
 * @throws {ReportError} When `MOD_ALLOC_BENCH_JSON` names a path that cannot be written: at registration,
 * before any bench runs.
 *
 * @example Sync, async, and timed sections
 * ```ts
 * import { benchAllocations } from "@mod-alloc/deno";
 *
 * const encoder = new TextEncoder();
 * benchAllocations("encode 1 KiB", () => encoder.encode("x".repeat(1024)), { group: "encode" });
 * benchAllocations("read after await", async () => {
 *   await Promise.resolve();
 *   new Uint8Array(8192);
 * });
 * benchAllocations("only the middle", (b) => {
 *   const input = "x".repeat(4096);
 *   b.start();
 *   encoder.encode(input);
 *   b.end();
 * });
 * ```
 */
export function benchAllocations(
  name: string,
  fn: (b: Deno.BenchContext) => unknown,
  options: Omit<Deno.BenchDefinition, "fn" | "name"> = {},
): void {
  ModAlloc.install();
  const reader = counterReader(loadLibrary());
  const group = options.group ?? undefined;
  const key = JSON.stringify([group ?? null, name]);
  if (tallies.has(key)) {
    throw new OptionError(
      `benchAllocations: a bench named ${JSON.stringify(name)}${
        group === undefined ? "" : ` in group ${JSON.stringify(group)}`
      } is already registered; give it another name or group, or its results would be mixed.`,
    );
  }
  if (!reportRegistered) {
    const path = jsonPath();
    try {
      if (path !== undefined) checkWritable(path);
    } catch (error) {
      // `deno bench --json` does not print a module's uncaught error: say it here.
      console.error(`mod-alloc: ${(error as Error).message}`);
      throw error;
    }
    reportRegistered = true;
    globalThis.addEventListener("unload", report);
  }
  const tally: BenchTally = { name, group, calls: 0, iterations: 0, bytes: 0, allocs: 0 };
  tallies.set(key, tally);
  if (fn instanceof AsyncFunction) {
    Deno.bench({
      ...options,
      name,
      async fn(context) {
        const run = new BenchRun(tally, reader, context);
        await fn(run.context);
        run.finish();
      },
    });
    return;
  }
  Deno.bench({
    ...options,
    name,
    fn(context) {
      const run = new BenchRun(tally, reader, context);
      const result = fn(run.context);
      run.finish();
      if (typeof (result as PromiseLike<unknown> | null)?.then === "function") {
        throw new OptionError(
          `benchAllocations(${JSON.stringify(name)}): the function returned a promise but is not declared async; ` +
            "Deno.bench only awaits async functions: declare it `async` so the whole operation is counted.",
        );
      }
    },
  });
}

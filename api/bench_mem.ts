/**
 * Allocations per operation for benchmarks, like Go's `-benchmem`: in a
 * plain script (`measureAllocations`) and in `deno bench`
 * (`benchAllocations`).
 *
 * @module
 */

import type { ThreadScope } from "../types/alloc_stats.ts";
import { OptionError } from "../types/errors.ts";
import { ModAlloc } from "./mod_alloc.ts";
import { threadScope } from "./options.ts";
import { formatBytes } from "./report.ts";

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
 * operation.
 *
 * @example
 * ```ts
 * import { formatBenchmem, measureAllocations } from "../mod.ts";
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
  for (let i = 0; i < warmup; i++) fn();
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

/** Results as Go prints them: `name  N  ns/op  B/op  allocs/op`. */
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

const recorded = new Map<string, { iterations: number; bytes: number; allocs: number }>();
let reportRegistered = false;

/** Where `benchAllocations` writes JSON results, if anywhere. */
function jsonPath(): string | undefined {
  try {
    return Deno.env.get("MOD_ALLOC_BENCH_JSON") || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The allocation results recorded by `benchAllocations` so far (also
 * printed and written as JSON when the bench process ends).
 *
 * @example
 * ```ts
 * import { benchAllocationResults } from "../mod.ts";
 *
 * for (const result of benchAllocationResults()) console.log(result.name, result.bytesPerOp);
 * ```
 */
export function benchAllocationResults(): Omit<AllocationsPerOp, "nsPerOp">[] {
  return [...recorded].map(([name, r]) => ({
    name,
    iterations: r.iterations,
    bytesPerOp: r.bytes / r.iterations,
    allocsPerOp: r.allocs / r.iterations,
  }));
}

function report(): void {
  const results = benchAllocationResults();
  if (results.length === 0) return;
  const lines = results.map((r) =>
    `${r.name}: ${Math.round(r.bytesPerOp)} B/op (${formatBytes(Math.round(r.bytesPerOp))}), ${
      r.allocsPerOp.toFixed(2)
    } allocs/op over ${r.iterations} ops`
  );
  console.log(`\nnative allocations (mod-alloc, calling thread):\n${lines.join("\n")}`);
  const path = jsonPath();
  if (path !== undefined) Deno.writeTextFileSync(path, JSON.stringify(results, null, 2));
}

/**
 * Registers a `Deno.bench` whose every run is also counted; when the bench
 * process ends, B/op and allocs/op of each are printed after Deno's time
 * table (and written as JSON to `MOD_ALLOC_BENCH_JSON` when it is set).
 *
 * @example
 * ```ts
 * import { benchAllocations } from "../mod.ts";
 *
 * benchAllocations("encode 100 chars", () => new TextEncoder().encode("x".repeat(100)));
 * ```
 */
export function benchAllocations(
  name: string,
  fn: () => unknown,
  options: Omit<Deno.BenchDefinition, "fn" | "name"> = {},
): void {
  const alloc = ModAlloc.install();
  if (!reportRegistered) {
    reportRegistered = true;
    globalThis.addEventListener("unload", report);
  }
  Deno.bench({
    ...options,
    name,
    fn() {
      const before = alloc.snapshot({ thread: "current" });
      fn();
      const after = alloc.snapshot({ thread: "current" });
      const entry = recorded.get(name) ?? { iterations: 0, bytes: 0, allocs: 0 };
      entry.iterations++;
      entry.bytes += after.totalBytes - before.totalBytes;
      entry.allocs += after.allocCount - before.allocCount;
      recorded.set(name, entry);
    },
  });
}

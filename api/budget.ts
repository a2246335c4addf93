/**
 * Allocation budgets for `deno test`: `assertAllocations` and
 * `assertNoLeaks`.
 *
 * @module
 */

import type { ScopeStats, ThreadScope } from "../types/alloc_stats.ts";
import type { CallSite } from "./call_sites.ts";
import { ModAllocError, OptionError } from "../types/errors.ts";
import { ModAlloc } from "./mod_alloc.ts";
import { threadScope } from "./options.ts";
import { Profiler } from "./profiler.ts";
import { formatBytes } from "./report.ts";

/**
 * A budget was exceeded or a leak found; the message explains it, and the
 * measured statistics and top call sites come with it.
 *
 * @example
 * ```ts
 * import { AllocationBudgetError, assertAllocations } from "../mod.ts";
 *
 * try {
 *   assertAllocations(() => new Uint8Array(1 << 20), { maxBytes: 1024 });
 * } catch (error) {
 *   if (error instanceof AllocationBudgetError) console.log(error.stats.totalBytes);
 * }
 * ```
 */
export class AllocationBudgetError extends ModAllocError {
  /** The measured statistics of the function. */
  readonly stats: ScopeStats;
  /** The top call sites of the scope, when call sites were on. */
  readonly callSites: CallSite[];

  /** Creates the error; the message states measured values and budgets. */
  constructor(message: string, stats: ScopeStats, callSites: CallSite[]) {
    super(message);
    this.stats = stats;
    this.callSites = callSites;
  }
}

/** Options of {@linkcode assertAllocations}. */
export interface AllocationBudget {
  /** Most allocation events allowed. */
  maxCount?: number;
  /** Most bytes allowed in all (`totalBytes`). */
  maxBytes?: number;
  /** Most live bytes allowed at once, above the start (`scopePeakBytes`). */
  maxPeakBytes?: number;
  /** `"current"` (default): the calling thread only; `"all"`: the process. */
  thread?: ThreadScope;
  /**
   * Unmeasured runs first (default 1), as Go's `testing.AllocsPerRun`
   * does: V8 compiles a function on its first calls and that allocates
   * native memory the function itself does not.
   */
  warmup?: number;
  /** Measured runs (default 1); the budget applies to their average. */
  runs?: number;
}

const TOP_SITES = 5;

function checkRuns(value: unknown, name: string, where: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > 1_000_000) {
    throw new OptionError(
      `${where}: ${name} must be a whole number from ${min} to 1000000; got ${JSON.stringify(value)}.`,
    );
  }
  return value;
}

/** Calls `fn` `times` times in sequence, awaiting each call that returns a promise. */
function repeat<T>(fn: () => T, times: number): T | Promise<Awaited<T>> {
  let last: T | undefined;
  for (let i = 0; i < times; i++) {
    last = fn();
    if (isPromise<Awaited<T>>(last)) {
      const rest = times - i - 1;
      return last.then((value) => (rest > 0 ? repeat(fn, rest) : value) as Awaited<T>);
    }
  }
  return last as T;
}

function checkLimit(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !(value >= 0)) {
    throw new OptionError(`assertAllocations: ${name} must be a number >= 0; got ${JSON.stringify(value)}.`);
  }
  return value;
}

function isPromise<T>(value: unknown): value is Promise<T> {
  return typeof (value as Promise<T> | undefined)?.then === "function";
}

/** Runs `fn` (sync or async) inside a profiler scope, with call sites if they are on. */
function runScoped<T>(
  fn: () => T,
  thread: ThreadScope,
  done: (stats: ScopeStats, profiler: Profiler, result: Awaited<T>) => Awaited<T>,
): T | Promise<Awaited<T>> {
  const callSites = ModAlloc.install().backtraces;
  const profiler = Profiler.start({ thread, callSites });
  let result: T | Promise<Awaited<T>>;
  try {
    result = fn();
  } catch (error) {
    profiler.stop();
    throw error;
  }
  if (isPromise<Awaited<T>>(result)) {
    return result.then(
      (value) => done(profiler.stop(), profiler, value),
      (error) => {
        profiler.stop();
        throw error;
      },
    );
  }
  return done(profiler.stop(), profiler, result as Awaited<T>);
}

function topSites(profiler: Profiler): CallSite[] {
  try {
    // The overflow row is not a place to look: left out of the message.
    return profiler.callSites({ sortBy: "totalBytes" }).filter((site) => !site.overflow).slice(0, TOP_SITES);
  } catch {
    return []; // call sites were off
  }
}

function describeSites(sites: CallSite[]): string {
  if (sites.length === 0) {
    return "\n(Install with { backtraces: true } or set MOD_ALLOC_BACKTRACES=1 to see the call sites responsible.)";
  }
  const lines = sites.map((site) =>
    `  ${formatBytes(site.totalBytes)} in ${site.allocCount} allocations: ${site.label}`
  );
  return `\nTop call sites in the scope:\n${lines.join("\n")}`;
}

/**
 * Runs `fn` and throws {@linkcode AllocationBudgetError} when its native
 * allocations exceed the budget; returns `fn`'s result (a promise for an
 * async `fn`). The message states each measured value against its limit
 * and, when call sites are on, the top sites of the scope.
 *
 * @example
 * ```ts
 * import { assertAllocations } from "../mod.ts";
 *
 * assertAllocations(() => new Uint8Array(1024), { maxCount: 100, maxBytes: 1 << 20 });
 * await assertAllocations(async () => await Promise.resolve(1), { maxBytes: 1 << 20 });
 * ```
 */
export function assertAllocations<T>(fn: () => T, budget: AllocationBudget = {}): T {
  const maxCount = checkLimit(budget.maxCount, "maxCount");
  const maxBytes = checkLimit(budget.maxBytes, "maxBytes");
  const maxPeakBytes = checkLimit(budget.maxPeakBytes, "maxPeakBytes");
  const thread = threadScope(budget.thread, "assertAllocations", "current");
  const warmup = checkRuns(budget.warmup, "warmup", "assertAllocations", 1, 0);
  const runs = checkRuns(budget.runs, "runs", "assertAllocations", 1, 1);
  const measure = () =>
    runScoped(
      () => repeat(fn, runs),
      thread,
      (total, profiler, result) => check(average(total, runs), profiler, result),
    );
  const warmed = warmup > 0 ? repeat(fn, warmup) : undefined;
  return (isPromise(warmed) ? warmed.then(measure) : measure()) as T;

  function check(stats: ScopeStats, profiler: Profiler, result: Awaited<T>): Awaited<T> {
    const over: string[] = [];
    if (maxCount !== undefined && stats.allocCount > maxCount) {
      over.push(`allocCount ${stats.allocCount} > maxCount ${maxCount}`);
    }
    if (maxBytes !== undefined && stats.totalBytes > maxBytes) {
      over.push(`totalBytes ${stats.totalBytes} (${formatBytes(stats.totalBytes)}) > maxBytes ${maxBytes}`);
    }
    if (maxPeakBytes !== undefined && stats.scopePeakBytes > maxPeakBytes) {
      over.push(
        `scopePeakBytes ${stats.scopePeakBytes} (${formatBytes(stats.scopePeakBytes)}) > maxPeakBytes ${maxPeakBytes}`,
      );
    }
    if (over.length > 0) {
      const sites = topSites(profiler);
      const per = runs > 1 ? ` (average of ${runs} runs)` : "";
      throw new AllocationBudgetError(
        `Allocation budget exceeded (thread: ${thread}): ${over.join("; ")}. ` +
          `Measured${per}: ${stats.allocCount} allocations, ${stats.totalBytes} bytes, peak ${stats.scopePeakBytes} bytes.` +
          describeSites(sites),
        stats,
        sites,
      );
    }
    return result;
  }
}

/** Scope stats per run (counts and bytes averaged; the peak is the scope's). */
function average(stats: ScopeStats, runs: number): ScopeStats {
  if (runs === 1) return stats;
  return {
    ...stats,
    allocCount: stats.allocCount / runs,
    totalBytes: stats.totalBytes / runs,
    freeCount: stats.freeCount / runs,
  };
}

/** Options of {@linkcode assertNoLeaks}. */
export interface LeakCheckOptions {
  /**
   * `"current"` (default): bytes the calling thread allocated and that are
   * still live, also confirmed in the whole process (see below); `"all"`:
   * the whole process's live bytes only.
   */
  thread?: ThreadScope;
  /**
   * Bytes of growth tolerated as noise (default 4096): V8 keeps a few
   * hundred bytes of native bookkeeping when it compiles or optimises code
   * that ran inside the check.
   */
  toleranceBytes?: number;
  /** Settle rounds before judging (default 3): see {@linkcode assertNoLeaks}. */
  settleRounds?: number;
  /** Unmeasured runs first (default 1): see {@linkcode AllocationBudget.warmup}. */
  warmup?: number;
}

interface LeakReading {
  current: number;
  all: number;
}

function readLive(alloc: ModAlloc): LeakReading {
  return { current: alloc.snapshot({ thread: "current" }).currentBytes, all: alloc.snapshot().currentBytes };
}

/** Growth that counts as leaked for a thread scope. */
function growth(before: LeakReading, after: LeakReading, thread: ThreadScope): number {
  const all = after.all - before.all;
  // A block freed on another thread (V8 frees backing stores on its sweeper
  // threads) stays "live" for the thread that allocated it; the process-wide
  // figure sees the free. Taking the smaller of the two drops such false
  // leaks, and background noise in the process-wide figure cannot invent
  // one on the calling thread.
  return thread === "all" ? all : Math.min(after.current - before.current, all);
}

async function settle(): Promise<void> {
  await new Promise<void>((resolve) => setTimeout(resolve, 0));
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc === "function") gc();
  await new Promise<void>((resolve) => setTimeout(resolve, 0));
}

/**
 * Runs `fn` (sync or async) and throws {@linkcode AllocationBudgetError} if
 * it leaked native memory. Always returns a promise: judging a leak needs
 * to let pending work run.
 *
 * What counts as a leak: native bytes live after `fn` that were not live
 * before it, beyond `toleranceBytes`, after up to `settleRounds` rounds in
 * which pending timers, promise jobs and finalizers run (and `gc()` when
 * deno runs with `--v8-flags=--expose-gc`: without it, the native backing
 * store of a typed array that is garbage but not yet collected is live). With `thread: "current"` the
 * growth is the smaller of the calling thread's and the whole process's,
 * so memory freed by V8's background threads does not look leaked, and
 * other threads' allocations do not either; the price: a leak smaller than
 * what other threads free during the check can go unnoticed. Memory a JS object still holds
 * (a typed array kept alive) is live, not leaked, only while it is
 * reachable: drop references before the check ends.
 *
 * @example
 * ```ts
 * import { assertNoLeaks } from "../mod.ts";
 *
 * await assertNoLeaks(() => {
 *   JSON.parse(JSON.stringify({ a: [1, 2, 3] }));
 * }, { toleranceBytes: 64 * 1024 });
 * ```
 */
export async function assertNoLeaks(fn: () => unknown, options: LeakCheckOptions = {}): Promise<void> {
  const thread = threadScope(options.thread, "assertNoLeaks", "current");
  const tolerance = options.toleranceBytes ?? 4096;
  const rounds = options.settleRounds ?? 3;
  if (typeof tolerance !== "number" || !(tolerance >= 0)) {
    throw new OptionError(`assertNoLeaks: toleranceBytes must be a number >= 0; got ${JSON.stringify(tolerance)}.`);
  }
  if (!Number.isInteger(rounds) || rounds < 0 || rounds > 100) {
    throw new OptionError(
      `assertNoLeaks: settleRounds must be a whole number from 0 to 100; got ${JSON.stringify(rounds)}.`,
    );
  }
  const warmup = checkRuns(options.warmup, "warmup", "assertNoLeaks", 1, 0);
  const alloc = ModAlloc.install();
  for (let i = 0; i < warmup; i++) await fn();
  await settle();
  const before = readLive(alloc);
  growth(before, before, thread); // compiled now, not inside the measured window
  const profiler = Profiler.start({ thread, callSites: alloc.backtraces });
  let stats: ScopeStats;
  try {
    await fn();
  } finally {
    stats = profiler.stop();
  }
  let after = readLive(alloc);
  for (let round = 0; round < rounds && growth(before, after, thread) > tolerance; round++) {
    await settle();
    after = readLive(alloc);
  }
  const leaked = growth(before, after, thread);
  if (leaked > tolerance) {
    const gcHint = typeof (globalThis as { gc?: unknown }).gc === "function"
      ? ""
      : " Garbage could not be collected before judging: run deno with --v8-flags=--expose-gc, or the backing " +
        "stores of unreachable typed arrays count as live.";
    const sites = topSites(profiler).filter((site) => site.currentBytes > 0);
    throw new AllocationBudgetError(
      `Leak: ${leaked} bytes (${formatBytes(leaked)}) of native memory allocated by the function are still live ` +
        `(thread: ${thread}; calling thread +${after.current - before.current} B, whole process +${
          after.all - before.all
        } B; ` +
        `tolerance ${tolerance} B; after ${rounds} settle rounds). The function made ${stats.allocCount} allocations.` +
        gcHint + describeSites(sites),
      stats,
      sites,
    );
  }
}

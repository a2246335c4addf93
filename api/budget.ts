/**
 * Allocation budgets for `deno test`: `assertAllocations` and
 * `assertNoLeaks`.
 *
 * @module
 */

import type { ScopeStats, ThreadScope } from "../types/alloc_stats.ts";
import type { CallSite } from "./call_sites.ts";
import { ModAllocError, OptionError, StateError } from "../types/errors.ts";
import { ModAlloc } from "./mod_alloc.ts";
import { threadScope } from "./options.ts";
import { type Measurement, Profiler } from "./profiler.ts";
import { formatBytes } from "./report.ts";

/**
 * A budget was exceeded or a leak found; the message explains it, and the
 * measured statistics, every run's statistics and the top call sites come
 * with it.
 *
 * @example
 * ```ts
 * import { AllocationBudgetError, assertAllocations } from "@mod-alloc/deno";
 *
 * try {
 *   assertAllocations(() => new Uint8Array(1 << 20), { maxTotalBytes: 1024 });
 * } catch (error) {
 *   if (error instanceof AllocationBudgetError) console.log(error.stats.totalBytes, error.runs.length);
 * }
 * ```
 */
export class AllocationBudgetError extends ModAllocError {
  /** The statistics the budget was checked against (for a budget: each value's minimum over the runs). */
  readonly stats: ScopeStats;
  /** The statistics of each measured run, in order. */
  readonly runs: ScopeStats[];
  /** The top call sites of the scope, when call sites were on. */
  readonly callSites: CallSite[];

  /**
   * Creates the error.
   *
   * @param message The measured values against their limits.
   * @param stats The statistics that were checked.
   * @param callSites The top call sites, or none.
   * @param runs Every run's statistics (default: just `stats`).
   */
  constructor(message: string, stats: ScopeStats, callSites: CallSite[], runs: ScopeStats[] = [stats]) {
    super(message);
    this.stats = stats;
    this.runs = runs;
    this.callSites = callSites;
  }
}

/** Options of {@linkcode assertAllocations}. */
export interface AllocationBudget {
  /** Most allocation events allowed (`allocCount`). */
  maxCount?: number;
  /**
   * Most bytes allowed in all (`totalBytes`: every allocation's size added
   * up, freed or not). For the most held at once, use `maxPeakBytes`.
   */
  maxTotalBytes?: number;
  /**
   * Most bytes allowed live at once, above the start (`scopePeakBytes`):
   * what pytest-memray's `limit_memory` checks.
   */
  maxPeakBytes?: number;
  /** `"current"` (default): the calling thread only; `"all"`: the process. */
  thread?: ThreadScope;
  /**
   * Unmeasured runs first (default 1), as Go's `testing.AllocsPerRun`
   * does: V8 compiles a function on its first call and that allocates
   * native memory the function itself does not.
   */
  warmup?: number;
  /**
   * Measured runs (default 3). The budget is checked against each value's
   * minimum over the runs: V8's own work on the thread (a garbage
   * collection, compiling the function to a faster tier) can only add to a
   * run, so the smallest run is the function's own cost.
   */
  runs?: number;
}

const TOP_SITES = 5;
const RUNS_DEFAULT = 3;

function checkRuns(value: unknown, name: string, where: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > 1_000_000) {
    throw new OptionError(
      `${where}: ${name} must be a whole number from ${min} to 1000000; got ${JSON.stringify(value)}.`,
    );
  }
  return value;
}

function checkLimit(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !(value >= 0)) {
    throw new OptionError(`assertAllocations: ${name} must be a number >= 0; got ${JSON.stringify(value)}.`);
  }
  return value;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === "function";
}

/**
 * Calls `step` `times` times in sequence and collects the results; from the
 * first step that returns a promise on, each is awaited before the next.
 */
function inSequence<S>(times: number, step: () => S | PromiseLike<S>): S[] | Promise<S[]> {
  const results: S[] = [];
  for (let i = 0; i < times; i++) {
    const value = step();
    if (isThenable(value)) {
      return (async () => {
        results.push(await value);
        for (let j = i + 1; j < times; j++) results.push(await step());
        return results;
      })();
    }
    results.push(value);
  }
  return results;
}

/** Continues with `next` now or after `value` settles. */
function then<S, R>(value: S | Promise<S>, next: (settled: S) => R): R | Promise<Awaited<R>> {
  return isThenable(value) ? value.then(next) as Promise<Awaited<R>> : next(value);
}

/** Each value's minimum over the runs. */
function minimumOf(runs: ScopeStats[]): ScopeStats {
  const keys = Object.keys(runs[0]) as (keyof ScopeStats)[];
  return Object.fromEntries(
    keys.map((key) => [key, Math.min(...runs.map((run) => run[key]))]),
  ) as unknown as ScopeStats;
}

function topSites(profiler: Profiler): CallSite[] | undefined {
  try {
    // The overflow row is not a place to look: left out of the message.
    return profiler.callSites({ sortBy: "totalBytes" }).filter((site) => !site.overflow).slice(0, TOP_SITES);
  } catch (error) {
    if (error instanceof StateError) return undefined; // the profiler recorded no call sites
    throw error;
  }
}

function describeSites(sites: CallSite[] | undefined): string {
  if (sites === undefined) {
    return "\n(Install with { backtraces: true } or set MOD_ALLOC_BACKTRACES=1 to see the call sites responsible.)";
  }
  if (sites.length === 0) {
    return "\n(Call sites are on, but the scope's allocations all landed in the site table's overflow row: " +
      "install with a larger { buckets } or MOD_ALLOC_BUCKETS to see them.)";
  }
  const lines = sites.map((site) =>
    `  ${formatBytes(site.totalBytes)} in ${site.allocCount} allocations: ${site.label}`
  );
  return `\nTop call sites in the scope:\n${lines.join("\n")}`;
}

function describeRun(stats: ScopeStats): string {
  return `${stats.allocCount} allocations, ${stats.totalBytes} B in all, peak ${stats.scopePeakBytes} B`;
}

/**
 * Runs `fn` and throws {@linkcode AllocationBudgetError} when its native
 * allocations exceed the budget; returns `fn`'s result.
 *
 * `fn` runs `warmup` times unmeasured, then `runs` times, each in its own
 * {@linkcode Profiler.measure} scope; each measured value's minimum over
 * the runs is checked against its limit (see
 * {@linkcode AllocationBudget.runs}). Nothing the profiler does itself is
 * counted, from the first call of a process on.
 *
 * Sync or async, one rule for every helper that takes a function: when
 * `fn` returns a promise, each run is awaited and `assertAllocations`
 * returns a promise (await it); otherwise it returns the value. An async
 * run also counts what the thread does until the promise settles (with
 * `thread: "current"`, Deno's own event-loop work on that thread).
 *
 * Permissions: `--allow-ffi`, `--allow-read` and `--allow-env` (to find
 * and load the native library).
 *
 * @param fn The code to measure.
 * @param budget The limits, the thread scope, and the number of runs.
 * @returns What `fn` returned on its last run (a promise of it for an async `fn`).
 * @throws {AllocationBudgetError} When a limit is exceeded; the message
 * states each value against its limit, every run, and the top call sites
 * when call sites are on.
 * @throws {OptionError} When a budget value is invalid.
 *
 * @example A sync and an async budget
 * ```ts
 * import { assertAllocations } from "@mod-alloc/deno";
 *
 * assertAllocations(() => {}, { maxCount: 0, maxTotalBytes: 0 });
 * assertAllocations(() => new Uint8Array(1024), { maxCount: 100, maxTotalBytes: 1 << 20 });
 * await assertAllocations(async () => await Promise.resolve(1), { maxPeakBytes: 1 << 20 });
 * ```
 */
export function assertAllocations<T>(fn: () => Promise<T>, budget?: AllocationBudget): Promise<T>;
/**
 * The sync form of {@linkcode assertAllocations}: for an `fn` that does
 * not return a promise, the check is done and `fn`'s last result returned
 * before `assertAllocations` returns.
 *
 * @param fn The code to measure.
 * @param budget The limits, the thread scope, and the number of runs.
 * @returns What `fn` returned on its last run.
 * @throws {AllocationBudgetError} When a limit is exceeded.
 * @throws {OptionError} When a budget value is invalid.
 *
 * @example
 * ```ts
 * import { assertAllocations } from "@mod-alloc/deno";
 *
 * const length = assertAllocations(() => "abc".length, { maxCount: 0 });
 * console.log(length); // 3
 * ```
 */
export function assertAllocations<T>(fn: () => T, budget?: AllocationBudget): T;
export function assertAllocations<T>(fn: () => T, budget: AllocationBudget = {}): T | Promise<Awaited<T>> {
  if ((budget as { maxBytes?: unknown }).maxBytes !== undefined) {
    throw new OptionError(
      "assertAllocations: maxBytes was renamed maxTotalBytes (bytes allocated in all); " +
        "for the most bytes live at once, use maxPeakBytes.",
    );
  }
  const maxCount = checkLimit(budget.maxCount, "maxCount");
  const maxTotalBytes = checkLimit(budget.maxTotalBytes, "maxTotalBytes");
  const maxPeakBytes = checkLimit(budget.maxPeakBytes, "maxPeakBytes");
  const thread = threadScope(budget.thread, "assertAllocations", "current");
  const warmup = checkRuns(budget.warmup, "warmup", "assertAllocations", 1, 0);
  const runs = checkRuns(budget.runs, "runs", "assertAllocations", RUNS_DEFAULT, 1);
  const options = { thread, callSites: ModAlloc.install().backtraces };
  // The profiler's own first-use warm-up runs now, before fn's warm-up:
  // what it leaves for later jobs then settles while fn warms up.
  Profiler.start({ thread })[Symbol.dispose]();
  const measured = () => then(inSequence(warmup, fn), () => inSequence(runs, () => Profiler.measure(fn, options)));
  return then(measured(), (all) => check(all as Measurement<Awaited<T>>[]));

  function check(measurements: Measurement<Awaited<T>>[]): Awaited<T> {
    const perRun = measurements.map((measurement) => measurement.stats);
    const stats = minimumOf(perRun);
    const over: string[] = [];
    if (maxCount !== undefined && stats.allocCount > maxCount) {
      over.push(`allocCount ${stats.allocCount} > maxCount ${maxCount}`);
    }
    if (maxTotalBytes !== undefined && stats.totalBytes > maxTotalBytes) {
      over.push(`totalBytes ${stats.totalBytes} (${formatBytes(stats.totalBytes)}) > maxTotalBytes ${maxTotalBytes}`);
    }
    if (maxPeakBytes !== undefined && stats.scopePeakBytes > maxPeakBytes) {
      over.push(
        `scopePeakBytes ${stats.scopePeakBytes} (${formatBytes(stats.scopePeakBytes)}) > maxPeakBytes ${maxPeakBytes}`,
      );
    }
    const last = measurements[measurements.length - 1];
    if (over.length === 0) return last.result;
    // The run with the fewest allocations shows the function's own sites best.
    const best = measurements.reduce((a, b) => (b.stats.allocCount < a.stats.allocCount ? b : a));
    const sites = topSites(best.profiler);
    const statistic = runs > 1 ? `, minimum of ${runs} runs` : "";
    throw new AllocationBudgetError(
      `Allocation budget exceeded (thread: ${thread}${statistic}): ${over.join("; ")}.\n` +
        perRun.map((run, i) => `  run ${i + 1}: ${describeRun(run)}`).join("\n") + describeSites(sites),
      stats,
      sites ?? [],
      perRun,
    );
  }
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
 * it leaked native memory. Always returns a promise, also for a sync `fn`:
 * judging a leak needs to let pending work run.
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
 * Permissions: as {@linkcode assertAllocations}.
 *
 * @param fn The code to check, sync or async.
 * @param options The thread scope, tolerance, settle rounds and warm-up runs.
 * @returns A promise that resolves when no leak was found.
 * @throws {AllocationBudgetError} When more than `toleranceBytes` stayed
 * live; the message gives the growth of the thread and of the process, and
 * the call sites still holding memory when call sites are on.
 * @throws {OptionError} When an option is invalid.
 *
 * @example
 * ```ts
 * import { assertNoLeaks } from "@mod-alloc/deno";
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
  const { stats, profiler } = await Profiler.measure(fn, { thread, callSites: alloc.backtraces });
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
    const sites = topSites(profiler)?.filter((site) => site.currentBytes > 0);
    throw new AllocationBudgetError(
      `Leak: ${leaked} bytes (${formatBytes(leaked)}) of native memory allocated by the function are still live ` +
        `(thread: ${thread}; calling thread +${after.current - before.current} B, whole process +${
          after.all - before.all
        } B; ` +
        `tolerance ${tolerance} B; after ${rounds} settle rounds). The function made ${stats.allocCount} allocations.` +
        gcHint + describeSites(sites),
      stats,
      sites ?? [],
    );
  }
}

/**
 * Scoped measurement: `Profiler.start()` … `stop()`, `using`, and
 * `Profiler.measure(fn)`.
 *
 * @module
 */

import { loadLibrary } from "../ffi/library.ts";
import {
  currentLane,
  type RawSite,
  readSampleSettings,
  readSites,
  readThreadNames,
  setSiteBaseline,
} from "../ffi/sites.ts";
import type { NativeLibrary } from "../ffi/symbols.ts";
import type { ScopeStats, ThreadScope } from "../types/alloc_stats.ts";
import { OptionError, StateError } from "../types/errors.ts";
import { buildCallSites, type CallSite, type CallSitesOptions, callSitesOptions } from "./call_sites.ts";
import { ModAlloc } from "./mod_alloc.ts";
import { dropScope, finishScope, OpenScope, prepareScope } from "./open_scopes.ts";
import { threadScope } from "./options.ts";

/** Options of {@linkcode Profiler.start} and {@linkcode Profiler.measure}. */
export interface ProfilerOptions {
  /**
   * `"current"` (default): only the calling thread's allocations, which
   * is deterministic while V8 and Deno allocate on their background
   * threads. `"all"`: every thread's, as the process sees them.
   */
  thread?: ThreadScope;
  /**
   * Also record which call sites the scope touched, for
   * {@linkcode Profiler.callSites} (needs call sites on). Costs a pass over
   * the whole site table at start and at stop (about a millisecond per
   * 4096 buckets). One such profiler records at a time per thread: starting
   * another hands the recording over to the new one.
   */
  callSites?: boolean;
}

/** What {@linkcode Profiler.measure} returns. */
export interface Measurement<T> {
  /** What the function returned (for an async function, what its promise resolved to). */
  result: T;
  /** The statistics of the scope around the call. */
  stats: ScopeStats;
  /** The stopped profiler, for {@linkcode Profiler.callSites}. */
  profiler: Profiler;
}

/** Where a profiler's call sites stand. */
type SitesState =
  | { kind: "off" }
  | { kind: "recording" }
  | { kind: "superseded" }
  | { kind: "read"; sites: RawSite[] };

/** The instance a profiler last installed (or found installed). */
let counting: ModAlloc | undefined;

/** The profiler whose start set this thread's one site baseline. */
let sitesRecorder: Profiler | undefined;

/** A profiler dropped while open stops counting in other scopes' peaks. */
const abandoned = new FinalizationRegistry<OpenScope>(dropScope);

/**
 * Runs of each scope path at first use. V8 compiles a function on its
 * first call, and compiling allocates on the calling thread: every
 * function of the profiler that runs around a measured window (`start`,
 * `stop`, `measure`, dispose, the async settlement) runs a few times first,
 * so that the first real scope of a process counts none of it. Later
 * tier-ups are requested at a function's return and acted on at its next
 * entry; `measure` keeps both outside its window (see there).
 */
const WARMUP_ROUNDS = 3;
let warm = false;
let sitesWarm = false;

function noop(): void {}

/** Runs the call-site baseline and read once before the first recorded scope. */
function warmUpSites(library: NativeLibrary, own: boolean): void {
  if (sitesWarm) return;
  sitesWarm = true;
  for (let round = 0; round < 3; round++) {
    setSiteBaseline(library, own);
    readSites(library, "sinceBaseline");
  }
}

/**
 * Measures the native allocations of a scope: the counts, bytes and peaks
 * between {@linkcode Profiler.start} and {@linkcode Profiler.stop}.
 * Starting a profiler installs the hooks if needed.
 *
 * Nothing the profiler does itself is counted: the window is the gap
 * between two native reads of the counters, and every function of the
 * profiler that runs inside it has been run (and compiled by V8) before
 * the first scope of the process. What V8 does on the thread for the
 * measured code (compiling it on its first calls, collecting garbage) is
 * counted; {@linkcode assertAllocations} repeats runs for that reason.
 *
 * A profiler is `Disposable`: with `using`, it stops when the block ends,
 * also when the block throws, so a failing scope leaves later ones intact.
 *
 * Permissions: `--allow-ffi` (and `--allow-read`, `--allow-env` to find
 * the library), as for {@linkcode ModAlloc.install}.
 *
 * @example Measure a block with `using`
 * ```ts
 * import { Profiler } from "@mod-alloc/deno";
 *
 * using profiler = Profiler.start();
 * const buffers = Array.from({ length: 10 }, () => new Uint8Array(64 * 1024));
 * const stats = profiler.stop();
 * console.log(stats.allocCount, stats.totalBytes, stats.scopePeakBytes, buffers.length);
 * ```
 */
export class Profiler implements Disposable {
  readonly #library: NativeLibrary;
  readonly #scope: OpenScope;
  #stats: ScopeStats | undefined;
  #sites: SitesState;

  private constructor(library: NativeLibrary, thread: ThreadScope, callSites: boolean) {
    this.#library = library;
    this.#scope = new OpenScope(library, thread);
    this.#sites = { kind: "off" };
    if (callSites) this.#takeSiteRecording(thread);
    abandoned.register(this, this.#scope, this);
    prepareScope(this.#scope);
  }

  /** Checks the options, installs, and returns a profiler whose window is not open yet. */
  static #prepare(options: ProfilerOptions, where: string): Profiler {
    const thread = threadScope(options.thread, where, "current");
    const callSites = options.callSites ?? false;
    if (typeof callSites !== "boolean") {
      throw new OptionError(`${where}: option "callSites" must be true or false; got ${JSON.stringify(callSites)}.`);
    }
    // A full install reads the environment through an FFI call with a
    // buffer (Deno's slow path): once, then again only after an uninstall.
    if (counting === undefined || !counting.installed) counting = ModAlloc.install();
    const alloc = counting;
    const library = loadLibrary();
    Profiler.#warmUp();
    if (callSites && !alloc.backtraces) {
      throw new OptionError(
        `${where}({ callSites: true }) needs call sites on: call ModAlloc.install({ backtraces: true }) first, ` +
          "or set MOD_ALLOC_BACKTRACES=1.",
      );
    }
    return new Profiler(library, thread, callSites);
  }

  #takeSiteRecording(thread: ThreadScope): void {
    const library = this.#library;
    // A thread-scoped profiler counts its own thread's share of each
    // site when the thread owns a lane of the site table.
    const own = thread === "current" && currentLane(library) !== undefined;
    warmUpSites(library, own);
    if (sitesRecorder !== undefined) sitesRecorder.#sites = { kind: "superseded" };
    sitesRecorder = this;
    this.#sites = { kind: "recording" };
    setSiteBaseline(library, own);
  }

  /**
   * Starts a profiler. The first start of a process also runs the scope
   * path a few dozen times unmeasured (well under a millisecond).
   *
   * @param options `thread` (default `"current"`) and `callSites`.
   * @returns The running profiler; stop it with {@linkcode Profiler.stop}
   * or let `using` dispose of it.
   * @throws {OptionError} When an option is invalid, or `callSites` is
   * asked for while call sites are off.
   * @throws {LibraryNotFoundError} When the native library is missing.
   * @throws {InstallError} When the hooks cannot be installed.
   *
   * @example Nested scopes
   * ```ts
   * import { Profiler } from "@mod-alloc/deno";
   *
   * const outer = Profiler.start({ thread: "all" });
   * const inner = Profiler.start();
   * console.log(inner.stop().allocCount >= 0, outer.stop().allocCount >= 0);
   * ```
   */
  static start(options: ProfilerOptions = {}): Profiler {
    const profiler = Profiler.#prepare(options, "Profiler.start");
    const scope = profiler.#scope;
    scope.markPeak(); // the window opens: from here to stop(), only this function's return runs
    scope.snapshot();
    scope.start.set(scope.counters);
    return profiler;
  }

  /**
   * Runs `fn` inside a scope and returns its result with the scope's
   * statistics. When `fn` returns a promise, the scope ends when it settles
   * and `measure` returns a promise: everything the thread does until then
   * (other tasks, Deno's event loop) is counted with `thread: "current"`.
   * If `fn` throws or rejects, the profiler is stopped and the error passes
   * through.
   *
   * @param fn The code to measure, sync or async.
   * @param options `thread` (default `"current"`) and `callSites`.
   * @returns `{ result, stats, profiler }`, or a promise of it for an async `fn`.
   * @throws {OptionError} As {@linkcode Profiler.start}; and whatever `fn` throws.
   *
   * @example Sync and async
   * ```ts
   * import { Profiler } from "@mod-alloc/deno";
   *
   * const { result, stats } = Profiler.measure(() => new Uint8Array(4096).length);
   * const later = await Profiler.measure(async () => (await Promise.resolve(new Uint8Array(64))).length);
   * console.log(result, stats.totalBytes >= 4096, later.result);
   * ```
   */
  static measure<T>(fn: () => Promise<T>, options?: ProfilerOptions): Promise<Measurement<T>>;
  /**
   * The sync form of {@linkcode Profiler.measure}: for an `fn` that does not
   * return a promise, the scope ends when `fn` returns.
   *
   * @param fn The code to measure.
   * @param options `thread` (default `"current"`) and `callSites`.
   * @returns `{ result, stats, profiler }`.
   * @throws {OptionError} As {@linkcode Profiler.start}; and whatever `fn` throws.
   *
   * @example
   * ```ts
   * import { Profiler } from "@mod-alloc/deno";
   *
   * const { stats } = Profiler.measure(() => new Uint8Array(1 << 16));
   * console.log(stats.totalBytes >= 1 << 16); // true
   * ```
   */
  static measure<T>(fn: () => T, options?: ProfilerOptions): Measurement<T>;
  static measure<T>(fn: () => T, options: ProfilerOptions = {}): Measurement<T> | Promise<Measurement<Awaited<T>>> {
    const profiler = Profiler.#prepare(options, "Profiler.measure");
    const scope = profiler.#scope;
    let result: T;
    // The window is opened and closed by native calls made here, so no
    // function of the profiler is entered or returns inside it (V8 acts on
    // tier-up requests at exactly those points). Only fn runs in between.
    scope.markPeak();
    scope.snapshot();
    scope.start.set(scope.counters);
    try {
      result = fn();
    } catch (error) {
      profiler[Symbol.dispose]();
      throw error;
    }
    scope.snapshot(); // for a promise, a later snapshot replaces this one
    if (
      result === null || (typeof result !== "object" && typeof result !== "function") ||
      typeof (result as { then?: unknown }).then !== "function"
    ) {
      scope.markPeak();
      return { result, stats: profiler.#finish(), profiler };
    }
    return profiler.#settle(result as unknown as PromiseLike<Awaited<T>>);
  }

  /**
   * Ends an async measurement when `promise` settles. The window closes in
   * the promise's first reaction, which is the native snapshot itself; the
   * second reaction, queued right behind it, does the rest (only the peak
   * interval still runs until then).
   */
  #settle<T>(promise: PromiseLike<T>): Promise<Measurement<T>> {
    const settled = Promise.resolve(promise);
    const snapshot = this.#scope.snapshot;
    settled.then(snapshot, snapshot);
    return settled.then(this.#fulfilled.bind(this), this.#rejected.bind(this)) as Promise<Measurement<T>>;
  }

  #fulfilled<T>(result: T): Measurement<T> {
    this.#scope.markPeak();
    return { result, stats: this.#finish(), profiler: this };
  }

  #rejected(error: unknown): never {
    this.#scope.markPeak();
    this.#finish();
    throw error;
  }

  /** Runs every scope path of the profiler unmeasured, once per isolate (see `WARMUP_ROUNDS`). */
  static #warmUp(): void {
    if (warm) return;
    warm = true;
    const failure = new Error("warm-up");
    const throwing = () => {
      throw failure;
    };
    // The async measurement below settles in a later job, possibly inside
    // the caller's first window: everything it runs there is compiled here,
    // except V8's first call of a native function as a promise reaction (2
    // blocks, 192 bytes). No rejected promise: Deno's bookkeeping of an
    // unhandled rejection would run there too.
    noop();
    for (let round = 0; round < WARMUP_ROUNDS; round++) {
      for (const thread of ["current", "all"] as const) {
        const options = { thread };
        Profiler.start(options).stop();
        Profiler.start(options)[Symbol.dispose]();
        Profiler.measure(noop, options);
        try {
          Profiler.measure(throwing, options);
        } catch {
          // expected
        }
        Profiler.measure(() => Promise.resolve(), options).then(noop, noop);
        // The settlement's own code, which the two above only reach in a later job.
        Profiler.start(options).#fulfilled(undefined);
        try {
          Profiler.start(options).#rejected(failure);
        } catch {
          // expected
        }
      }
    }
  }

  /** The thread scope this profiler counts. */
  get thread(): ThreadScope {
    return this.#scope.thread;
  }

  /** True once {@linkcode Profiler.stop} or dispose has run. */
  get stopped(): boolean {
    return this.#stats !== undefined;
  }

  /**
   * Stops the profiler and returns the scope's statistics: deltas of the
   * counts and of `currentBytes`/`liveCount`, `peakBytes` and
   * `peakLiveCount` as absolute high-water marks (as the Rust crate does),
   * and `scopePeakBytes`: the highest `currentBytes` inside the scope above
   * its start value.
   *
   * @returns The statistics of the scope.
   * @throws {StateError} When the profiler was already stopped (or disposed).
   *
   * @example
   * ```ts
   * import { Profiler } from "@mod-alloc/deno";
   *
   * const profiler = Profiler.start();
   * const stats = profiler.stop();
   * console.log(stats.allocCount); // 0
   * ```
   */
  stop(): ScopeStats {
    if (this.#stats !== undefined) {
      throw new StateError(
        "Profiler.stop() was called twice on the same profiler; start a new one with Profiler.start().",
      );
    }
    const scope = this.#scope;
    scope.snapshot(); // the window closes
    scope.markPeak();
    return this.#finish();
  }

  /** Everything after the window closed: stats, call sites, bookkeeping. */
  #finish(): ScopeStats {
    const stats = finishScope(this.#scope);
    this.#stats = stats;
    abandoned.unregister(this);
    if (this.#sites.kind === "recording") {
      this.#sites = { kind: "read", sites: readSites(this.#library, "sinceBaseline") };
      sitesRecorder = undefined;
    }
    return stats;
  }

  /**
   * Stops the profiler if it is still running, discarding the statistics;
   * `using` calls it when the block ends. Safe to call more than once.
   *
   * @example A throw inside the block leaves no profiler open
   * ```ts
   * import { Profiler } from "@mod-alloc/deno";
   *
   * try {
   *   using _profiler = Profiler.start({ callSites: false });
   *   throw new Error("boom");
   * } catch {
   *   // the profiler was stopped on the way out
   * }
   * console.log(Profiler.start().stop().allocCount); // 0
   * ```
   */
  [Symbol.dispose](): void {
    if (this.#stats === undefined) this.stop();
  }

  /**
   * The call sites this scope touched, with the counts made inside it
   * (`allocCount`, `totalBytes`, `currentBytes`, `liveCount`, `freedCount`,
   * `totalLifetime`; peaks are the sites' all-time values). With
   * `thread: "current"` only the calling thread's allocations are counted
   * when it owns one of the site table's 7 thread lanes (a thread takes a
   * free one at its first call site and gives it back when it exits; while
   * all are taken, other threads share one), else every thread's.
   *
   * @param options `sortBy` and `limit`.
   * @returns The sites, largest first.
   * @throws {StateError} When the profiler was not started with
   * `{ callSites: true }`, is still running, or another call-site profiler
   * started before this one stopped (the thread has one site baseline).
   *
   * @example
   * ```ts
   * import { ModAlloc, Profiler } from "@mod-alloc/deno";
   *
   * ModAlloc.install({ backtraces: true });
   * const profiler = Profiler.start({ callSites: true });
   * const buffers = [new Uint8Array(1 << 16), new Uint8Array(1 << 16)];
   * profiler.stop();
   * console.log(profiler.callSites({ limit: 3 }).map((site) => site.label), buffers.length);
   * ```
   */
  callSites(options: CallSitesOptions = {}): CallSite[] {
    const sites = this.#sites;
    switch (sites.kind) {
      case "off":
        throw new StateError(
          "Profiler.callSites() needs a profiler started with Profiler.start({ callSites: true }).",
        );
      case "recording":
        throw new StateError("Profiler.callSites() is available after stop(); call profiler.stop() first.");
      case "superseded":
        throw new StateError(
          "Profiler.callSites(): another Profiler.start({ callSites: true }) began before this profiler stopped, " +
            "and a thread records call sites for one profiler at a time; stop the first before starting the next.",
        );
      case "read":
        return buildCallSites(
          sites.sites,
          callSitesOptions(options),
          undefined,
          readThreadNames(this.#library),
          readSampleSettings(this.#library).intervalBytes,
        );
    }
  }
}

/**
 * Scoped measurement: `Profiler.start()` … `stop()`.
 *
 * @module
 */

import { currentLane, type RawSite, readSites, setSiteBaseline } from "../ffi/sites.ts";
import { readMarkPeak, readStats } from "../ffi/stats.ts";
import type { NativeLibrary } from "../ffi/symbols.ts";
import { loadLibrary } from "../ffi/library.ts";
import type { AllocStats, ScopeStats, ThreadScope } from "../types/alloc_stats.ts";
import { buildCallSites, type CallSite, type CallSitesOptions, callSitesOptions } from "./call_sites.ts";
import { OptionError, StateError } from "../types/errors.ts";
import { ModAlloc } from "./mod_alloc.ts";
import { threadScope } from "./options.ts";

/** Options of {@linkcode Profiler.start}. */
export interface ProfilerOptions {
  /**
   * `"all"` (default): allocations of every thread, as the process sees
   * them. `"current"`: only the calling thread's, which is deterministic
   * while V8 and Deno allocate on their background threads.
   */
  thread?: ThreadScope;
  /**
   * Also record which call sites the scope touched, for
   * {@linkcode Profiler.callSites} (needs call sites on). Costs a pass over
   * the whole site table at start and at stop (about a millisecond per
   * 4096 buckets); one such profiler can be open at a time in a thread.
   */
  callSites?: boolean;
}

/**
 * Open profilers per scope. Each keeps the highest live bytes/blocks seen
 * while it is open; whenever a profiler starts or stops, the native
 * high-water mark of the interval since the last start/stop is folded into
 * every open profiler of that scope, so nested and overlapping scopes each
 * get their exact own peak.
 */
const open: Record<ThreadScope, Set<Profiler>> = { all: new Set(), current: new Set() };

function foldMarks(library: NativeLibrary, thread: ThreadScope): void {
  const mark = readMarkPeak(library, thread);
  for (const profiler of open[thread]) profiler.observePeak(mark.bytes, mark.blocks);
}

let warm = false;
let sitesWarm = false;
/** The open profiler with call sites: the thread's one site baseline is its. */
let sitesProfiler: Profiler | undefined;

/**
 * V8 compiles a function on its first calls, and compiling allocates native
 * memory. A profiler's own `stop()` runs before it reads the counters, so
 * its first run would count the compilation of its own code: run one empty
 * scope per thread scope, once per isolate, before the first real one.
 */
function warmUp(): void {
  if (warm) return;
  warm = true;
  for (const thread of ["current", "all"] as const) {
    for (let i = 0; i < 3; i++) Profiler.start({ thread }).stop();
  }
}

/**
 * Measures the allocations of a scope. Starting a profiler installs the
 * hooks if needed.
 *
 * @example Measure a block of code
 * ```ts
 * import { Profiler } from "../mod.ts";
 *
 * const profiler = Profiler.start({ thread: "current" });
 * const buffers = Array.from({ length: 10 }, () => new Uint8Array(64 * 1024));
 * const stats = profiler.stop();
 * console.log(stats.allocCount, stats.totalBytes, stats.scopePeakBytes, buffers.length);
 * ```
 */
export class Profiler {
  #library: NativeLibrary;
  #thread: ThreadScope;
  #start: AllocStats;
  #peakBytes: number;
  #peakBlocks: number;
  #stopped = false;
  #callSites: boolean;
  #sitesTouched?: RawSite[];

  private constructor(library: NativeLibrary, thread: ThreadScope, callSites: boolean) {
    this.#library = library;
    this.#thread = thread;
    this.#callSites = callSites;
    if (callSites) {
      if (sitesProfiler !== undefined) {
        throw new StateError(
          "Only one Profiler.start({ callSites: true }) can be open at a time in a thread; stop the other one first.",
        );
      }
      sitesProfiler = this;
      // A thread-scoped profiler counts its own thread's share of each
      // site when the thread owns a lane of the site table.
      const own = thread === "current" && currentLane(library) !== undefined;
      if (!sitesWarm) {
        // As in warmUp(): compile the reading code before the first scope.
        sitesWarm = true;
        for (let i = 0; i < 3; i++) {
          setSiteBaseline(library, own);
          readSites(library, "sinceBaseline");
        }
      }
      setSiteBaseline(library, own);
    }
    foldMarks(library, thread);
    this.#start = readStats(library, thread);
    this.#peakBytes = this.#start.currentBytes;
    this.#peakBlocks = this.#start.liveCount;
    open[thread].add(this);
  }

  /**
   * Starts a profiler.
   *
   * @example
   * ```ts
   * import { Profiler } from "../mod.ts";
   *
   * const outer = Profiler.start();
   * const inner = Profiler.start({ thread: "current" });
   * console.log(inner.stop().allocCount >= 0, outer.stop().allocCount >= 0);
   * ```
   */
  static start(options: ProfilerOptions = {}): Profiler {
    const thread = threadScope(options.thread, "Profiler.start", "all");
    const alloc = ModAlloc.install();
    warmUp();
    if (options.callSites === true && !alloc.backtraces) {
      throw new OptionError(
        "Profiler.start({ callSites: true }) needs call sites on: call ModAlloc.install({ backtraces: true }) first, " +
          "or set MOD_ALLOC_BACKTRACES=1.",
      );
    }
    return new Profiler(loadLibrary(), thread, options.callSites === true);
  }

  /** @internal Called by `foldMarks` with an interval's high-water mark. */
  observePeak(bytes: number, blocks: number): void {
    this.#peakBytes = Math.max(this.#peakBytes, bytes);
    this.#peakBlocks = Math.max(this.#peakBlocks, blocks);
  }

  /** The thread scope this profiler counts. */
  get thread(): ThreadScope {
    return this.#thread;
  }

  /**
   * Stops the profiler and returns the scope's statistics: deltas of the
   * counts and of `currentBytes`/`liveCount`, `peakBytes` and
   * `peakLiveCount` as absolute high-water marks (as the Rust crate does),
   * and `scopePeakBytes`: the highest `currentBytes` inside the scope above
   * its start value. Stopping twice throws {@linkcode StateError}.
   *
   * @example
   * ```ts
   * import { Profiler } from "../mod.ts";
   *
   * const profiler = Profiler.start({ thread: "current" });
   * const stats = profiler.stop();
   * console.log(stats.allocCount);
   * ```
   */
  stop(): ScopeStats {
    if (this.#stopped) {
      throw new StateError(
        "Profiler.stop() was called twice on the same profiler; start a new one with Profiler.start().",
      );
    }
    foldMarks(this.#library, this.#thread);
    const end = readStats(this.#library, this.#thread);
    this.#stopped = true;
    if (this.#callSites) {
      this.#sitesTouched = readSites(this.#library, "sinceBaseline");
      sitesProfiler = undefined;
    }
    open[this.#thread].delete(this);
    const start = this.#start;
    return {
      allocCount: end.allocCount - start.allocCount,
      freeCount: end.freeCount - start.freeCount,
      totalBytes: end.totalBytes - start.totalBytes,
      currentBytes: end.currentBytes - start.currentBytes,
      liveCount: end.liveCount - start.liveCount,
      foreignCount: end.foreignCount - start.foreignCount,
      failedCount: end.failedCount - start.failedCount,
      peakBytes: end.peakBytes,
      peakLiveCount: end.peakLiveCount,
      scopePeakBytes: this.#peakBytes - start.currentBytes,
      scopePeakLiveCount: this.#peakBlocks - start.liveCount,
    };
  }

  /**
   * The call sites this scope touched, with the counts made inside it
   * (`allocCount`, `totalBytes`, `currentBytes`, `liveCount`, `freedCount`,
   * `totalLifetime`; peaks are the sites' all-time values). Needs
   * `Profiler.start({ callSites: true })` and a stopped profiler. With
   * `thread: "current"` only the calling thread's allocations are counted
   * when it owns one of the site table's 7 thread lanes (the first threads
   * to allocate get them; the rest share one), else every thread's.
   *
   * @example
   * ```ts
   * import { ModAlloc, Profiler } from "../mod.ts";
   *
   * ModAlloc.install({ backtraces: true });
   * const profiler = Profiler.start({ callSites: true });
   * const buffers = [new Uint8Array(1 << 16), new Uint8Array(1 << 16)];
   * profiler.stop();
   * console.log(profiler.callSites({ limit: 3 }).map((site) => site.label), buffers.length);
   * ```
   */
  callSites(options: CallSitesOptions = {}): CallSite[] {
    if (!this.#callSites) {
      throw new StateError("Profiler.callSites() needs a profiler started with Profiler.start({ callSites: true }).");
    }
    if (this.#sitesTouched === undefined) {
      throw new StateError("Profiler.callSites() is available after stop(); call profiler.stop() first.");
    }
    return buildCallSites(this.#sitesTouched, callSitesOptions(options));
  }
}

/**
 * The process-wide profiler instance.
 *
 * @module
 */

import { loadLibrary, resolveLibrary } from "../ffi/library.ts";
import { MODE, STATUS } from "../ffi/layout.ts";
import { readSampleSettings, readSites, readSummary, readThreadNames } from "../ffi/sites.ts";
import { readStats } from "../ffi/stats.ts";
import { readTimeline } from "../ffi/timeline.ts";
import type { Timeline } from "../types/timeline.ts";
import { timelineOf } from "./timeline.ts";
import type { NativeLibrary } from "../ffi/symbols.ts";
import { Symbolizer } from "../symbols/symbolizer.ts";
import type { AllocStats, ThreadScope } from "../types/alloc_stats.ts";
import {
  buildCallSites,
  type CallSite,
  type CallSitesOptions,
  callSitesOptions,
  type CallSiteTable,
  siteTable,
} from "./call_sites.ts";
import { finishDhatFile } from "./dhat.ts";
import { ReportError, StateError } from "../types/errors.ts";
import { perfMapPathFor } from "../symbols/perf_map.ts";
import { randomSibling } from "./safe_file.ts";
import { type InstallOptions, installSettings, threadScope } from "./options.ts";
import { announceOverflow, formatCallSiteTable } from "./report.ts";
import { checkStatus } from "./status.ts";
import { resetKeepingScopes } from "./open_scopes.ts";

export type { InstallOptions };

/** How the library sees allocations. */
export type InstallMode = "preload" | "runtime";

/** Options of {@linkcode ModAlloc.snapshot}. */
export interface SnapshotOptions {
  /**
   * `"all"` (default): every thread; `"current"`: the calling thread.
   * The one default that differs from the scopes' (`Profiler`, the test and
   * bench helpers, which count the calling thread): a snapshot describes
   * the process, as `ps` or `top` would, while a scope measures code the
   * caller runs.
   */
  thread?: ThreadScope;
}

let instance: ModAlloc | undefined;

/**
 * The native heap profiler of this process. There is one per process: get
 * it with {@linkcode ModAlloc.install}.
 *
 * Permissions: `--allow-ffi` (to load and call the library; path-scoped
 * `--allow-ffi=<lib>` is not enough, as the counters are read through a
 * pointer), `--allow-read` and `--allow-env` to find it (without them the
 * defaults are used), and `--allow-write` for the DHAT writer.
 *
 * @example Count the native allocations of some work
 * ```ts
 * import { ModAlloc } from "@mod-alloc/deno";
 *
 * const alloc = ModAlloc.install();
 * alloc.reset();
 * const data = new Uint8Array(100_000); // V8 backing store: calloc
 * const stats = alloc.snapshot();
 * console.log(`${stats.allocCount} allocations, ${stats.totalBytes} bytes`, data.length);
 * ```
 */
export class ModAlloc {
  #library: NativeLibrary;

  private constructor(library: NativeLibrary) {
    this.#library = library;
  }

  /**
   * Makes the native library available: finds a local one (`MOD_ALLOC_LIB`,
   * a preloaded copy, a build next to the module, the cache) or downloads
   * the prebuilt library of this release, checks its SHA-256 against the
   * digest pinned in the module and caches it. Call it once before the
   * first synchronous call when the module is imported from a registry;
   * it is cheap when the library is already there. Does not start counting.
   *
   * Permissions: `--allow-ffi`; `--allow-env` for the variables it reads
   * (`MOD_ALLOC_LIB`, `LD_PRELOAD`, `MOD_ALLOC_CACHE_DIR`, `XDG_CACHE_HOME`,
   * `HOME`, `MOD_ALLOC_RELEASE_URL`; ungranted ones are skipped, never
   * prompted for); `--allow-read` (and, for a download, `--allow-write`) on
   * the cache directory; `--allow-net` on the release host for a download.
   *
   * @returns Where the library was found (`"MOD_ALLOC_LIB"`, `"LD_PRELOAD"`,
   *   `"next to the module"`, `"cache"`, `"download"`) and its path.
   * @throws {LibraryIntegrityError} when a download's digest is not the pinned one (nothing is cached).
   * @throws {LibraryNotFoundError} when no library can be had; the message names the missing flag or variable.
   *
   * @example
   * ```ts
   * import { ModAlloc } from "@mod-alloc/deno";
   *
   * const { source } = await ModAlloc.load();
   * console.log(source, ModAlloc.install().installed);
   * ```
   */
  static async load(): Promise<{ path: string; source: string }> {
    const found = await resolveLibrary();
    loadLibrary();
    return found;
  }

  /**
   * Starts counting (idempotent) and returns the process-wide instance.
   * Under `LD_PRELOAD` it attaches to the preloaded library, which has
   * counted since process start; otherwise it patches the allocator imports
   * of every loaded object, and of those loaded later.
   *
   * Options turn on call sites (Tier 2): `backtraces`, the walk depth
   * `frames` (1-64, default 16) and the site-table size `buckets` (16 to
   * 2^20, default 4096); the defaults come from `MOD_ALLOC_BACKTRACES`,
   * `MOD_ALLOC_FRAMES` and `MOD_ALLOC_BUCKETS`. Call sites stay on once
   * enabled, with the settings they were enabled with.
   *
   * @param options Call-site settings; each defaults to its environment variable.
   * @returns The process-wide instance.
   * @throws {OptionError} When an option is out of range.
   * @throws {InstallError} When the hooks cannot be installed or call sites
   * cannot be turned on; the message and `code` say why and what to do next.
   * @throws {LibraryNotFoundError} When the library cannot be found or opened.
   * @throws {AbiMismatchError} When the library was built for another version.
   * @throws {UnsupportedPlatformError} Off Linux x86_64/aarch64.
   *
   * @example
   * ```ts
   * import { ModAlloc } from "@mod-alloc/deno";
   *
   * const alloc = ModAlloc.install();
   * console.log(alloc.mode, alloc.installed);
   * ```
   */
  static install(options: InstallOptions = {}): ModAlloc {
    const library = loadLibrary();
    const settings = installSettings(options, library);
    instance ??= new ModAlloc(library);
    instance.#configure(settings);
    instance.#install();
    return instance;
  }

  #configure(settings: Required<InstallOptions>): void {
    if (settings.sampleBytes > 0) {
      checkStatus(
        this.#library.symbols.mod_alloc_configure_sampling(
          settings.sampleBytes,
          readSampleSettings(this.#library).envSeed,
          settings.frames,
          settings.buckets,
        ),
        [STATUS.ok, STATUS.already_installed],
        `ModAlloc.install({ sampleBytes: ${settings.sampleBytes}, frames: ${settings.frames}, buckets: ${settings.buckets} })`,
      );
      return;
    }
    if (!settings.backtraces) return;
    checkStatus(
      this.#library.symbols.mod_alloc_configure(1, settings.frames, settings.buckets),
      [STATUS.ok, STATUS.already_installed],
      `ModAlloc.install({ backtraces: true, frames: ${settings.frames}, buckets: ${settings.buckets} })`,
    );
  }

  #install(): void {
    checkStatus(
      this.#library.symbols.mod_alloc_install(),
      [STATUS.ok, STATUS.already_installed],
      "ModAlloc.install()",
    );
  }

  /** True while allocations are being counted. */
  get installed(): boolean {
    return this.#library.symbols.mod_alloc_counting() === 1;
  }

  /** `"preload"` when the library was preloaded, else `"runtime"`. */
  get mode(): InstallMode {
    return this.#library.symbols.mod_alloc_mode() === MODE.preload ? "preload" : "runtime";
  }

  /**
   * The counters now. For `thread: "all"` the event counts start at the
   * last {@linkcode ModAlloc.reset}; for `"current"` at the thread's start.
   *
   * @param options `thread`: `"all"` (default) or `"current"`.
   * @returns The counters as plain numbers.
   * @throws {OptionError} When `thread` is not `"all"` or `"current"`.
   *
   * @example
   * ```ts
   * import { ModAlloc } from "@mod-alloc/deno";
   *
   * const { currentBytes, liveCount } = ModAlloc.install().snapshot({ thread: "current" });
   * console.log(currentBytes, liveCount);
   * ```
   */
  snapshot(options: SnapshotOptions = {}): AllocStats {
    return readStats(this.#library, threadScope(options.thread, "ModAlloc.snapshot", "all"));
  }

  /**
   * Zeroes the all-threads event counts (`allocCount`, `freeCount`,
   * `totalBytes`, `foreignCount`, `failedCount`) and re-bases the peaks on
   * the live values. `currentBytes` and `liveCount` keep describing memory
   * that is still live. The calling thread's counters are not reset.
   *
   * Open {@linkcode Profiler} scopes keep their deltas right: those that
   * count every thread are re-based by what the counters held just before
   * the reset (events other threads make between that read and the reset,
   * two native calls apart, are lost to them).
   *
   * @example
   * ```ts
   * import { ModAlloc } from "@mod-alloc/deno";
   *
   * const alloc = ModAlloc.install();
   * alloc.reset();
   * console.log(alloc.snapshot().allocCount >= 0);
   * ```
   */
  reset(): void {
    const library = this.#library;
    resetKeepingScopes(library, () => library.symbols.mod_alloc_reset());
  }

  /**
   * Stops counting. At run time the patched imports are restored; under
   * preload the hooks stay but forward without counting. Blocks freed while
   * uninstalled are settled when their address is reused after a new
   * install. Calling it when not installed is a no-op.
   *
   * @throws {InstallError} When the patched imports cannot be restored.
   *
   * @example
   * ```ts
   * import { ModAlloc } from "@mod-alloc/deno";
   *
   * const alloc = ModAlloc.install();
   * alloc.uninstall();
   * console.log(alloc.installed); // false
   * ModAlloc.install();
   * ```
   */
  uninstall(): void {
    checkStatus(this.#library.symbols.mod_alloc_uninstall(), [STATUS.ok, STATUS.not_installed], "ModAlloc.uninstall()");
  }

  /** True when call sites (Tier 2) are being recorded. */
  get backtraces(): boolean {
    return readSummary(this.#library).buckets > 0;
  }

  /**
   * The allocation sites recorded so far (call sites must be on: install
   * with `{ backtraces: true }` or `MOD_ALLOC_BACKTRACES=1`), symbolized
   * now: native frames from ELF symbols and DWARF lines, JS frames from
   * V8's perf map when deno runs with
   * `--v8-flags=--perf-basic-prof,--interpreted-frames-native-stack,--logfile=/dev/null`.
   *
   * @param options `limit` and `sortBy`.
   * @returns The sites, largest first; none when call sites are off.
   * @throws {OptionError} When an option is invalid.
   *
   * @example
   * ```ts
   * import { ModAlloc } from "@mod-alloc/deno";
   *
   * const alloc = ModAlloc.install({ backtraces: true });
   * const keep = new Uint8Array(1 << 20);
   * for (const site of alloc.callSites({ limit: 3 })) console.log(site.totalBytes, site.label);
   * console.log(keep.length);
   * ```
   */
  callSites(options: CallSitesOptions = {}): CallSite[] {
    return this.callSiteTable(options).sites;
  }

  /**
   * Like {@linkcode ModAlloc.callSites}, with the table's fill and overflow figures.
   *
   * @param options `limit` and `sortBy`.
   * @returns The sites and the table's figures.
   * @throws {OptionError} When an option is invalid.
   */
  callSiteTable(options: CallSitesOptions = {}): CallSiteTable {
    const checked = callSitesOptions(options);
    const summary = readSummary(this.#library);
    announceOverflow(summary.overflow_events, summary.buckets);
    const symbolizer = new Symbolizer();
    try {
      const { intervalBytes } = readSampleSettings(this.#library);
      const sites = buildCallSites(
        readSites(this.#library),
        { ...checked, limit: Infinity },
        symbolizer,
        readThreadNames(this.#library),
        intervalBytes,
      );
      return siteTable(sites, summary, symbolizer.hasPerfMap, checked.limit, intervalBytes);
    } finally {
      symbolizer.close();
    }
  }

  /**
   * The top call sites as a text table (default 10), grouped by the
   * innermost JS function of the user's code unless `groupBy` says otherwise,
   * with the share of bytes that user JS, native code and the runtime hold.
   *
   * @param options `limit` (default 10) and `sortBy`.
   * @returns The table as text.
   * @throws {OptionError} When an option is invalid.
   *
   * @example
   * ```ts
   * import { ModAlloc } from "@mod-alloc/deno";
   *
   * console.log(ModAlloc.install({ backtraces: true }).formatCallSites({ limit: 5 }));
   * ```
   */
  formatCallSites(options: CallSitesOptions = {}): string {
    return formatCallSiteTable(this.callSiteTable({ limit: 10, groupBy: "function", ...options }));
  }

  /**
   * Writes a DHAT file (heap mode, dhatFileVersion 2) that valgrind's
   * `dh_view.html` loads: every call site with its totals, lifetimes, and
   * bytes at the global peak and now, frames named as in
   * {@linkcode ModAlloc.callSites}. Without call sites, one program point
   * holds everything. The file appears whole or not at all, mode 0600 (it
   * holds the command line and memory map), never through a symlink
   * planted under a staging name; a device is written in place, a
   * directory or FIFO is refused.
   *
   * Permissions: `--allow-write` for `path`'s directory, `--allow-read` to
   * name frames.
   *
   * @param path Where to write: a path or a `file:` URL.
   * @throws {ReportError} When the path cannot be written; the message says why.
   *
   * @example
   * ```ts
   * import { ModAlloc } from "@mod-alloc/deno";
   *
   * const path = Deno.makeTempFileSync({ suffix: ".json" });
   * ModAlloc.install({ backtraces: true }).writeDhatSync(path);
   * console.log(JSON.parse(Deno.readTextFileSync(path)).dhatFileVersion); // 2
   * ```
   */
  writeDhatSync(path: string | URL): void {
    const file = path instanceof URL ? pathOfFileUrl(path) : path;
    const summary = readSummary(this.#library);
    announceOverflow(summary.overflow_events, summary.buckets);
    // The library's raw file goes beside the target under a name no one can
    // predict (a predictable one could be a planted symlink), so writing
    // needs the same permission as the target itself.
    const raw = randomSibling(file, "raw.json");
    try {
      const status = this.#library.symbols.mod_alloc_write_dhat(new TextEncoder().encode(`${raw}\0`));
      if (status !== 0) throw new ReportError(`Cannot write the DHAT file ${file}: ${errnoText(-status)}.`);
      finishDhatFile(raw, file, { perfMap: perfMapPathFor(Deno.pid) });
    } catch (error) {
      if (error instanceof ReportError) throw error;
      throw new ReportError(`Cannot write the DHAT file ${file}: ${(error as Error).message}`, { cause: error });
    } finally {
      try {
        Deno.removeSync(raw);
      } catch {
        // not written
      }
    }
  }

  /**
   * The old name of {@linkcode ModAlloc.writeDhatSync}.
   *
   * @deprecated Use {@linkcode ModAlloc.writeDhatSync}, which also takes a `file:` URL.
   * @param path Where to write.
   * @throws {ReportError} When the path cannot be written.
   */
  writeDhat(path: string): void {
    this.writeDhatSync(path);
  }

  /**
   * Live bytes and blocks of the whole process over time, by the
   * allocation clock and by wall time, with the peak and a reading of now.
   * The library samples where threads fold their counts into the shared
   * sums (every 64 KiB or 64 blocks of change per thread), never per
   * allocation; it keeps at most 512 points per series, halving the
   * resolution when full and keeping each interval's highest sample. The
   * peak point's bytes are `snapshot().peakBytes`. {@linkcode ModAlloc.reset}
   * starts the timeline over.
   *
   * @returns The timeline as of now.
   * @throws {StateError} In the rare case that a thread was stopped while
   *   it held the timeline's lock (the library then does not wait).
   *
   * @example Where the peak was
   * ```ts
   * import { ModAlloc } from "@mod-alloc/deno";
   *
   * const alloc = ModAlloc.install();
   * const big = new Uint8Array(8 << 20);
   * const { peak, byTime } = alloc.timeline();
   * console.log(`peak ${peak.bytes} B at ${peak.timeMs.toFixed(1)} ms; ${byTime.length} points`, big.length);
   * ```
   */
  timeline(): Timeline {
    const raw = readTimeline(this.#library);
    if (raw === undefined) throw new StateError("The timeline is being written by a stopped thread: try again.");
    return timelineOf(raw);
  }

  /** Bytes of memory the profiler itself holds (tables, records). */
  get memoryBytes(): number {
    return this.#library.symbols.mod_alloc_memory_bytes();
  }

  /** Number of GOT slots patched by a run-time install. */
  get patchedSlots(): number {
    return this.#library.symbols.mod_alloc_patched_slots();
  }
}

const ERRNO_TEXT: Record<number, string> = {
  2: "its directory does not exist",
  13: "permission denied",
  17: "it exists and cannot be replaced",
  20: "a part of the path is not a directory",
  21: "it is a directory",
  28: "no space left on the device",
  30: "the file system is read-only",
  36: "the path is too long",
  12: "out of memory",
  5: "an I/O error occurred",
};

/** A `file:` URL as a path; any other URL is refused. */
function pathOfFileUrl(url: URL): string {
  if (url.protocol !== "file:") {
    throw new ReportError(`Cannot write to ${url.href}: only paths and file: URLs can be written.`);
  }
  return decodeURIComponent(url.pathname);
}

/**
 * A system error number as words a user can act on.
 *
 * @param errno A positive `errno` value.
 * @returns The words, or "system error N" for one not listed.
 */
export function errnoText(errno: number): string {
  return ERRNO_TEXT[errno] ?? `system error ${errno}`;
}

/**
 * mod-alloc: a native-heap allocation profiler for Deno.
 *
 * `ModAlloc.install()` wraps the C allocator of the Deno process (or
 * attaches to the library preloaded with `LD_PRELOAD`) and counts every
 * native allocation: Deno's runtime, V8 backing stores, and libraries
 * loaded with `Deno.dlopen`. `Profiler.start()` / `stop()` (or `using`, or
 * `Profiler.measure(fn)`) measures a scope; `assertAllocations`,
 * `assertNoLeaks` and `benchAllocations` put budgets in `deno test` and
 * bytes per operation in `deno bench`.
 *
 * Two rules hold across the API. Scopes count the calling thread unless
 * asked for `thread: "all"` (only `ModAlloc.snapshot()`, a reading of the
 * process, defaults to every thread). A function that takes a callback
 * accepts a sync or an async one, and returns a promise exactly when the
 * callback does (`assertNoLeaks` always does).
 *
 * Permissions: `--allow-ffi`, `--allow-read`, `--allow-env`; `--allow-write`
 * for report files.
 *
 * @example
 * ```ts
 * import { Profiler } from "@mod-alloc/deno";
 *
 * using profiler = Profiler.start();
 * const bytes = new Uint8Array(1 << 20);
 * const stats = profiler.stop();
 * console.log(`${stats.allocCount} allocs, ${stats.totalBytes} B`, bytes.length);
 * ```
 *
 * @module
 */

export type { AllocStats, ScopeStats, ThreadScope } from "./types/alloc_stats.ts";
export type {
  RawSiteHistory,
  RawSiteLive,
  RawSiteSnapshot,
  RawTimeline,
  SiteLive,
  SiteSnapshot,
  Timeline,
  TimelinePoint,
} from "./types/timeline.ts";
export { type InstallMode, type InstallOptions, ModAlloc, type SnapshotOptions } from "./api/mod_alloc.ts";
export type {
  CallSite,
  CallSiteOrder,
  CallSitesOptions,
  CallSiteTable,
  Frame,
  GroupBy,
  RowKind,
} from "./api/call_sites.ts";
export type { BytesByKind } from "./api/report.ts";
export { formatBytes } from "./api/report.ts";
export {
  type DhatFile,
  type DhatProgramPoint,
  type DhatSampling,
  type DhatSite,
  finishDhatFile,
  type FinishDhatOptions,
} from "./api/dhat.ts";
export { adHocEvent, type HeapStats, heapStats, writeAdHocDhat } from "./api/dhat_rs.ts";
export {
  type AllocationBudget,
  AllocationBudgetError,
  assertAllocations,
  assertNoLeaks,
  type LeakCheckOptions,
} from "./api/budget.ts";
export {
  type AllocationSnapshot,
  AllocationSnapshotError,
  type AllocationSnapshotOptions,
  assertAllocationSnapshot,
} from "./api/alloc_snapshot.ts";
export {
  type AllocationsPerOp,
  type BenchAllocationResult,
  benchAllocationResults,
  benchAllocations,
  formatBenchmem,
  measureAllocations,
  type MeasureOptions,
} from "./api/bench_mem.ts";
export { type Measurement, Profiler, type ProfilerOptions } from "./api/profiler.ts";
export {
  AbiMismatchError,
  InstallError,
  type InstallErrorOptions,
  LibraryIntegrityError,
  LibraryNotFoundError,
  ModAllocError,
  OptionError,
  ReportError,
  StateError,
  UnsupportedPlatformError,
} from "./types/errors.ts";

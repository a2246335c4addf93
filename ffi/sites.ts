/**
 * Reading the site table (Tier 2) from the library: raw statistics and
 * frame addresses, in the order of `core/site_table.zig`'s `Stats`.
 *
 * @module
 */

import type { NativeLibrary } from "./symbols.ts";

/** Field order of the statistics in each site record of a snapshot (`core/site_snapshot.zig`). */
export const SITE_FIELDS = [
  "alloc_count",
  "total_bytes",
  "current_bytes",
  "current_blocks",
  "peak_bytes",
  "peak_blocks",
  "max_block_bytes",
  "freed_count",
  "lifetime_total",
  "gmax_bytes",
  "gmax_blocks",
  "thread_name",
  "variance_blocks",
  "variance_bytes_per_interval",
] as const;

/** Field order of `mod_alloc_sites_summary`. */
export const SUMMARY_FIELDS = [
  "used",
  "overflow_events",
  "overflow_sites",
  "peak_bytes",
  "peak_blocks",
  "current_bytes",
  "current_blocks",
  "buckets",
  "frames",
] as const;

/** The most frames a site can hold (`options.frames_max`). */
export const FRAMES_MAX = 64;

/**
 * One raw site: its row index (0 = overflow row), values and frames. Sites
 * are keyed by frames and thread name: `values.thread_name` is an id into
 * `readThreadNames` (0 = "unknown": the name could not be read, or the
 * overflow row, which mixes threads).
 */
export interface RawSite {
  index: number;
  values: Record<typeof SITE_FIELDS[number], number>;
  frames: bigint[];
}

/** The table's summary values. */
export type SiteSummary = Record<typeof SUMMARY_FIELDS[number], number>;

function record<K extends string>(names: readonly K[], values: Float64Array): Record<K, number> {
  return Object.fromEntries(names.map((name, i) => [name, values[i]])) as Record<K, number>;
}

export function readSummary(library: NativeLibrary): SiteSummary {
  const out = new Float64Array(SUMMARY_FIELDS.length);
  library.symbols.mod_alloc_sites_summary(out);
  return record(SUMMARY_FIELDS, out);
}

let view: DataView | undefined;

/** The calling thread's snapshot buffer, mapped once per isolate. */
function snapshotView(library: NativeLibrary): DataView | undefined {
  if (view !== undefined) return view;
  const pointer = library.symbols.mod_alloc_sites_buffer();
  if (pointer === null) return undefined;
  view = new DataView(Deno.UnsafePointerView.getArrayBuffer(pointer, library.symbols.mod_alloc_sites_buffer_bytes()));
  return view;
}

/** Which sites to copy out of the library. */
export type SiteSource = "all" | "own" | "sinceBaseline";

/**
 * Records the values of every site now, as the calling thread's baseline:
 * of every thread, or (`own`) of its own lane when it owns one. False when
 * call sites are off.
 */
export function setSiteBaseline(library: NativeLibrary, own: boolean): boolean {
  const status = own ? library.symbols.mod_alloc_sites_baseline_own() : library.symbols.mod_alloc_sites_baseline_all();
  return status === 0;
}

/**
 * Sites that saw at least one event: of every thread, of the calling
 * thread's lane (`own`, when it owns one: see `currentLane`), or the
 * changes since its baseline. One FFI call without parameters copies them,
 * so reading allocates nothing native before the copy is made.
 */
export function readSites(library: NativeLibrary, source: SiteSource = "all"): RawSite[] {
  const buffer = snapshotView(library);
  if (buffer === undefined) return [];
  const { symbols } = library;
  const count = source === "own"
    ? symbols.mod_alloc_sites_snapshot_own()
    : source === "sinceBaseline"
    ? symbols.mod_alloc_sites_snapshot_since_baseline()
    : symbols.mod_alloc_sites_snapshot_all();
  const frames = readSummary(library).frames;
  const recordBytes = 8 + SITE_FIELDS.length * 8 + frames * 8;
  const sites: RawSite[] = [];
  for (let i = 0; i < count; i++) {
    const base = i * recordBytes;
    const index = buffer.getUint32(base, true);
    const frameCount = buffer.getUint32(base + 4, true);
    const values = Object.fromEntries(
      SITE_FIELDS.map((name, field) => [name, buffer.getFloat64(base + 8 + field * 8, true)]),
    ) as RawSite["values"];
    const frameBase = base + 8 + SITE_FIELDS.length * 8;
    const addresses = Array.from({ length: frameCount }, (_, f) => buffer.getBigUint64(frameBase + f * 8, true));
    sites.push({ index, values, frames: addresses });
  }
  return sites;
}

/** Sampling mode's settings (`mod_alloc_sample_settings`). */
export interface SampleSettings {
  /** Mean bytes between samples in effect; 0 when every allocation is recorded. */
  intervalBytes: number;
  /** `MOD_ALLOC_SAMPLE` as the library read it at load time (0: unset). */
  envIntervalBytes: number;
  /** `MOD_ALLOC_SAMPLE_SEED` as read at load time (0: a new seed each run). */
  envSeed: number;
}

export function readSampleSettings(library: NativeLibrary): SampleSettings {
  const out = new Float64Array(3);
  library.symbols.mod_alloc_sample_settings(out);
  return { intervalBytes: out[0], envIntervalBytes: out[1], envSeed: out[2] };
}

/**
 * The calling thread's own lane, or undefined when it shares one with
 * other threads (its share of a site cannot be told apart then).
 */
export function currentLane(library: NativeLibrary): number | undefined {
  const lane = library.symbols.mod_alloc_current_lane();
  return lane === 0 ? undefined : lane;
}

/** Length of a kernel thread name buffer (15 bytes and a NUL). */
const THREAD_NAME_BYTES = 16;

/**
 * The kernel thread names (`/proc/self/task/<tid>/comm`, e.g. "main",
 * "V8 DefaultWorke", "tokio-runtime-w") that sites carry, indexed by the
 * id in `RawSite.values.thread_name`. Index 0 is "unknown".
 */
export function readThreadNames(library: NativeLibrary): string[] {
  const names: string[] = [];
  const out = new Uint8Array(THREAD_NAME_BYTES);
  const decoder = new TextDecoder();
  for (let id = 0;; id++) {
    const length = library.symbols.mod_alloc_thread_name(id, out);
    if (length < 0) return names;
    names.push(decoder.decode(out.subarray(0, length)));
  }
}

/** Thread figures of the library, as `mod_alloc_thread_figures` writes them. */
export interface ThreadFigures {
  /** Thread records claimed now (threads alive that have allocated). */
  claimed: number;
  /** The most records claimed at once. */
  claimedMax: number;
  /** Records claimed since load: one per thread, plus borrowed ones. */
  claimsTotal: number;
  /** Chunks of records mapped. */
  chunks: number;
  /** Events not counted because no record could be had. */
  uncountedEvents: number;
  /** Distinct thread names seen, "unknown" included. */
  threadNames: number;
  /** Stack mappings looked up in /proc/self/maps (about one per thread with call sites on). */
  stackResolves: number;
}

/** Field order of `mod_alloc_thread_figures` (its count is checked by tests/abi_test.ts). */
export const THREAD_FIGURES = [
  "claimed",
  "claimedMax",
  "claimsTotal",
  "chunks",
  "uncountedEvents",
  "threadNames",
  "stackResolves",
] as const;

/** Reads the thread figures. */
export function readThreadFigures(library: NativeLibrary): ThreadFigures {
  const out = new Float64Array(THREAD_FIGURES.length);
  library.symbols.mod_alloc_thread_figures(out);
  const [claimed, claimedMax, claimsTotal, chunks, uncountedEvents, threadNames, stackResolves] = out;
  return { claimed, claimedMax, claimsTotal, chunks, uncountedEvents, threadNames, stackResolves };
}

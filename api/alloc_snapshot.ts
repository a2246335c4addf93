/**
 * Allocation snapshots: what a piece of code allocates, recorded in a file
 * committed next to the test, and checked on every run — the snapshot test
 * of allocations. A change that makes the code allocate more fails the test
 * (in CI too) until the snapshot is updated on purpose, and the diff of the
 * snapshot file shows the change in review.
 *
 * @module
 */

import { ModAllocError } from "../types/errors.ts";
import { Profiler } from "./profiler.ts";
import { writeFileSafely } from "./safe_file.ts";

/** What one snapshot records: the calling thread's allocations of one run. */
export interface AllocationSnapshot {
  /** Allocation events (a realloc counts one). */
  allocCount: number;
  /** Bytes requested (a realloc adds its growth). */
  totalBytes: number;
}

/** Options of {@linkcode assertAllocationSnapshot}. */
export interface AllocationSnapshotOptions {
  /** Key in the snapshot file (default: the test's name, steps joined with " > "). */
  name?: string;
  /** The snapshot file (default: `__snapshots__/<test file>.alloc.json` beside the test file). */
  path?: string | URL;
  /** Growth allowed before failing, as a fraction of the snapshot (default 0: any growth fails). */
  tolerance?: number;
  /** Measured runs after one warm-up run; the smallest of each figure counts (default 5). */
  runs?: number;
  /**
   * Record instead of check (default: `--update` or `-u` after `--` on the
   * `deno test` command line, or `MOD_ALLOC_UPDATE_SNAPSHOTS=1`).
   */
  update?: boolean;
}

/**
 * An allocation snapshot check failed: the code allocates more than its
 * recorded snapshot allows, no snapshot was recorded, or the file is not a
 * snapshot file. The message says how to record one.
 */
export class AllocationSnapshotError extends ModAllocError {
  /** What the code allocated now (smallest of the runs). */
  readonly measured: AllocationSnapshot;
  /** What the snapshot file records, when it has an entry. */
  readonly recorded?: AllocationSnapshot;

  /**
   * Creates the error.
   *
   * @param message What was wrong and how to record a snapshot.
   * @param measured The measurement.
   * @param recorded The snapshot it was compared with.
   */
  constructor(message: string, measured: AllocationSnapshot, recorded?: AllocationSnapshot) {
    super(message);
    this.measured = measured;
    this.recorded = recorded;
  }
}

interface SnapshotFile {
  version: 1;
  snapshots: Record<string, AllocationSnapshot>;
}

function testName(t: Deno.TestContext): string {
  const names: string[] = [];
  for (let context: Deno.TestContext | undefined = t; context !== undefined; context = context.parent) {
    names.unshift(context.name);
  }
  return names.join(" > ");
}

function snapshotPath(t: Deno.TestContext, path: string | URL | undefined): string {
  if (path !== undefined) return path instanceof URL ? decodeURIComponent(path.pathname) : path;
  const origin = new URL(t.origin);
  const file = decodeURIComponent(origin.pathname);
  const slash = file.lastIndexOf("/");
  return `${file.slice(0, slash)}/__snapshots__/${file.slice(slash + 1)}.alloc.json`;
}

function updateRequested(): boolean {
  if (Deno.args.includes("--update") || Deno.args.includes("-u")) return true;
  const state = Deno.permissions.querySync({ name: "env", variable: "MOD_ALLOC_UPDATE_SNAPSHOTS" }).state;
  return state === "granted" && Deno.env.get("MOD_ALLOC_UPDATE_SNAPSHOTS") === "1";
}

function readSnapshots(path: string, measured: AllocationSnapshot): SnapshotFile {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { version: 1, snapshots: {} };
    throw error;
  }
  const data = JSON.parse(text) as SnapshotFile;
  if (data?.version !== 1 || typeof data.snapshots !== "object" || data.snapshots === null) {
    throw new AllocationSnapshotError(
      `${path} is not an allocation snapshot file (version 1): delete it and record again with \`deno test -A -- --update\`.`,
      measured,
    );
  }
  return data;
}

function writeSnapshots(path: string, data: SnapshotFile): void {
  Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  const sorted = Object.fromEntries(Object.entries(data.snapshots).sort(([a], [b]) => a.localeCompare(b)));
  // Snapshots are meant to be committed: readable by the team, not private.
  writeFileSafely(path, JSON.stringify({ version: 1, snapshots: sorted }, null, 2) + "\n", "the allocation snapshot");
  Deno.chmodSync(path, 0o644);
}

async function measure(fn: () => unknown, runs: number): Promise<AllocationSnapshot> {
  let best: AllocationSnapshot = { allocCount: Infinity, totalBytes: Infinity };
  for (let run = 0; run <= runs; run++) {
    // Profiler.measure keeps the profiler's own work out of the window; the
    // smallest of several runs keeps V8's unrelated work out of the figure.
    // A sync fn is measured synchronously: an async wrapper would add the
    // promise machinery's own allocations to every snapshot.
    const measurement = Profiler.measure(fn, { thread: "current" });
    const { stats } = measurement instanceof Promise ? await measurement : measurement;
    if (run === 0) continue; // warm-up: V8 compiles fn and what it calls
    best = {
      allocCount: Math.min(best.allocCount, stats.allocCount),
      totalBytes: Math.min(best.totalBytes, stats.totalBytes),
    };
  }
  return best;
}

/**
 * Measures `fn` (the calling thread's native allocations, smallest of
 * `runs` runs after a warm-up) and compares it with the snapshot recorded
 * under the test's name: more allocations or bytes than recorded (beyond
 * `tolerance`) fail, as does a missing snapshot. Fewer pass; record them
 * with `--update` to lock the gain in.
 *
 * Permissions: `--allow-ffi`, `--allow-read` of the snapshot file, and
 * `--allow-write` of it when updating.
 *
 * @param t The test context (`Deno.test("…", async (t) => …)`).
 * @param fn The code measured; awaited when it returns a promise.
 * @param options Name, file, tolerance, runs, update mode.
 * @returns The measurement.
 * @throws {AllocationSnapshotError} when the code allocates more than the snapshot allows, or no snapshot exists.
 *
 * @example
 * ```ts ignore
 * import { assertAllocationSnapshot } from "@mod-alloc/deno";
 *
 * Deno.test("encoding a record", async (t) => {
 *   await assertAllocationSnapshot(t, () => new TextEncoder().encode("x".repeat(4096)));
 * });
 * // record: deno test -A -- --update; check: deno test -A
 * ```
 */
export async function assertAllocationSnapshot(
  t: Deno.TestContext,
  fn: () => unknown,
  options: AllocationSnapshotOptions = {},
): Promise<AllocationSnapshot> {
  const name = options.name ?? testName(t);
  const path = snapshotPath(t, options.path);
  const runs = options.runs ?? 5;
  const tolerance = options.tolerance ?? 0;
  if (!Number.isInteger(runs) || runs < 1) throw new RangeError(`runs must be a positive integer, got ${runs}`);
  if (!(tolerance >= 0)) throw new RangeError(`tolerance must be a fraction >= 0, got ${tolerance}`);
  const measured = await measure(fn, runs);
  const file = readSnapshots(path, measured);
  if (options.update ?? updateRequested()) {
    file.snapshots[name] = measured;
    writeSnapshots(path, file);
    return measured;
  }
  const recorded = file.snapshots[name];
  if (recorded === undefined) {
    throw new AllocationSnapshotError(
      `No allocation snapshot "${name}" in ${path} (measured ${measured.allocCount} allocations, ` +
        `${measured.totalBytes} bytes): record it with \`deno test -A -- --update\` and commit the file.`,
      measured,
    );
  }
  const grew = (field: keyof AllocationSnapshot) => measured[field] > recorded[field] * (1 + tolerance);
  if (grew("allocCount") || grew("totalBytes")) {
    throw new AllocationSnapshotError(
      `Allocation snapshot "${name}" grew: ${recorded.allocCount} → ${measured.allocCount} allocations, ` +
        `${recorded.totalBytes} → ${measured.totalBytes} bytes (tolerance ${tolerance * 100}%, ${path}). ` +
        `If the growth is intended, record it with \`deno test -A -- --update\` and commit the file.`,
      measured,
      recorded,
    );
  }
  return measured;
}

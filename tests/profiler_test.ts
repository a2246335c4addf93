// Profiler scopes and ModAlloc's public surface.
import assert from "node:assert/strict";
import { lastJson, runDeno, supportScript } from "./support/child.ts";
import { ModAlloc, OptionError, Profiler, StateError } from "../mod.ts";
import { openScopeCount } from "../api/open_scopes.ts";
import { KNOWN_SEQUENCE, loadFixture } from "./support/fixture.ts";

const MiB = 1024 * 1024;
// V8's own work on the thread (finishing a background job) can add to any
// one scope on a loaded machine, about once in a thousand, never subtract:
// exact checks take the smallest of a few tries.
const TRIES = 3;

function fewest<T extends { allocCount: number }>(measure: () => T): T {
  const tries = Array.from({ length: TRIES }, measure);
  return tries.reduce((a, b) => (b.allocCount < a.allocCount ? b : a));
}
// Deno's FFI allocates a few dozen bytes around each call with parameters,
// and V8 may compile or collect on the calling thread inside a scope: peaks
// measured around fixture calls may exceed the exact value by that much.
const FFI_SLACK_BYTES = 32 * 1024;

function assertNear(actual: number, expected: number, what: string): void {
  assert.ok(actual >= expected && actual <= expected + FFI_SLACK_BYTES, `${what}: ${actual}, expected ${expected}`);
}

Deno.test("a typed array's backing store is counted on the calling thread", () => {
  const profiler = Profiler.start({ thread: "current" });
  const arrays = Array.from({ length: 8 }, () => new Uint8Array(MiB));
  const stats = profiler.stop();
  assert.equal(arrays.length, 8);
  assert.ok(stats.allocCount >= 8, `allocCount ${stats.allocCount}`);
  assert.ok(stats.totalBytes >= 8 * MiB, `totalBytes ${stats.totalBytes}`);
  // A collection inside the scope may free older buffers on this thread.
  assert.ok(stats.currentBytes >= 7 * MiB, `currentBytes ${stats.currentBytes}`);
  assert.ok(stats.scopePeakBytes >= 7 * MiB, `scopePeakBytes ${stats.scopePeakBytes}`);
});

Deno.test("nested profilers each report their own scope peak", () => {
  const f = loadFixture();
  const outer = Profiler.start({ thread: "current" });
  const a = f.fixture_malloc(BigInt(MiB));
  const inner = Profiler.start({ thread: "current" });
  f.fixture_free(f.fixture_malloc(BigInt(2 * MiB)));
  const innerStats = inner.stop();
  f.fixture_free(f.fixture_malloc(BigInt(5 * MiB)));
  f.fixture_free(a);
  const outerStats = outer.stop();
  assertNear(innerStats.scopePeakBytes, 2 * MiB, "inner scope peak");
  assertNear(outerStats.scopePeakBytes, 6 * MiB, "outer scope peak");
  assert.ok(Math.abs(outerStats.currentBytes) <= FFI_SLACK_BYTES, `outer currentBytes ${outerStats.currentBytes}`);
});

Deno.test("overlapping profilers each see only the peaks inside their own scope", () => {
  const f = loadFixture();
  const first = Profiler.start({ thread: "current" });
  f.fixture_free(f.fixture_malloc(BigInt(4 * MiB)));
  const second = Profiler.start({ thread: "current" });
  f.fixture_free(f.fixture_malloc(BigInt(MiB)));
  const firstStats = first.stop();
  f.fixture_free(f.fixture_malloc(BigInt(3 * MiB)));
  const secondStats = second.stop();
  assertNear(firstStats.scopePeakBytes, 4 * MiB, "first");
  assertNear(secondStats.scopePeakBytes, 3 * MiB, "second");
});

Deno.test("stopping a profiler twice is an error that says what to do", () => {
  const profiler = Profiler.start();
  profiler.stop();
  assert.throws(() => profiler.stop(), (error: unknown) => {
    assert.ok(error instanceof StateError);
    assert.match(error.message, /called twice.*Profiler\.start\(\)/);
    return true;
  });
});

Deno.test("an invalid thread option is rejected with the allowed values", () => {
  // @ts-expect-error: an invalid value on purpose
  assert.throws(() => Profiler.start({ thread: "main" }), OptionError);
  // @ts-expect-error: an invalid value on purpose
  assert.throws(() => ModAlloc.install().snapshot({ thread: 1 }), /"all" or "current", got 1/);
});

Deno.test("reset zeroes the event counts and re-bases the peak on live bytes", () => {
  const alloc = ModAlloc.install();
  let big: Uint8Array | null = new Uint8Array(64 * MiB);
  assert.equal(big.length, 64 * MiB);
  big = null;
  const before = alloc.snapshot();
  alloc.reset();
  const after = alloc.snapshot();
  assert.ok(before.allocCount > after.allocCount, `${before.allocCount} then ${after.allocCount}`);
  assert.ok(after.peakBytes >= after.currentBytes);
  assert.ok(after.peakBytes < after.currentBytes + 64 * MiB, `peak ${after.peakBytes}, current ${after.currentBytes}`);
});

Deno.test("install is idempotent and reports the run-time mode", () => {
  const first = ModAlloc.install();
  const second = ModAlloc.install();
  assert.equal(first, second);
  assert.equal(first.installed, true);
  assert.equal(first.mode, "runtime");
  assert.ok(first.patchedSlots > 0);
});

Deno.test("the profiler's own memory stays small", async () => {
  // In a fresh process: the live table grows with the blocks the process
  // holds, and this runner's process holds what earlier test files left.
  const { memoryBytes: bytes } = lastJson<{ memoryBytes: number }>(
    await runDeno([supportScript("memory_bytes_child.ts")]),
  );
  assert.ok(bytes > 0 && bytes < 4 * MiB, `memoryBytes ${bytes}`);
});

Deno.test("a throw inside a using-scope stops the profiler and leaves later scopes working", () => {
  const fixture = loadFixture();
  const open = openScopeCount("current");
  let escaped: Profiler | undefined;
  assert.throws(() => {
    using profiler = Profiler.start();
    escaped = profiler;
    fixture.fixture_known_sequence();
    throw new Error("boom");
  }, /boom/);
  assert.equal(escaped?.stopped, true);
  assert.equal(openScopeCount("current"), open);
  assert.throws(() => escaped?.stop(), StateError);
  const stats = fewest(() => Profiler.measure(fixture.fixture_known_sequence).stats);
  assert.equal(stats.allocCount, KNOWN_SEQUENCE.allocCount);
});

Deno.test("with call sites, a thrown, an abandoned or a nested scope does not poison the next one", async () => {
  const result = await runDeno([supportScript("dispose_child.ts")]);
  assert.equal(result.code, 0, result.stderr);
  const out = lastJson<Record<string, unknown>>(result);
  assert.equal(out.thrown, "thrown inside the scope");
  assert.equal(out.afterThrow, 30);
  assert.equal(out.afterAbandoned, 7);
  assert.match(String(out.abandonedSites), /^StateError: .*another Profiler\.start\(\{ callSites: true \}\) began/);
  assert.equal(out.reinstalled, true, "a profiler started after uninstall() installs again");
});

Deno.test("Profiler.measure returns the result and the stats, for a sync and an async function", async () => {
  const fixture = loadFixture();
  const work = () => {
    fixture.fixture_known_sequence();
    return "sync";
  };
  work(); // V8 compiles a function on its first call, inside whatever scope is open
  const sync = fewest(() => {
    const measured = Profiler.measure(work);
    return { ...measured, allocCount: measured.stats.allocCount };
  });
  assert.equal(sync.result, "sync");
  assert.equal(sync.stats.allocCount, KNOWN_SEQUENCE.allocCount);
  assert.equal(sync.profiler.stopped, true);
  const pending = Profiler.measure(async () => {
    await Promise.resolve();
    fixture.fixture_known_sequence(); // after the await: counted only if the promise is awaited
    return "async";
  });
  assert.ok(pending instanceof Promise);
  const settled = await pending;
  assert.equal(settled.result, "async");
  assert.ok(settled.stats.allocCount >= KNOWN_SEQUENCE.allocCount, `allocCount ${settled.stats.allocCount}`);
  assert.ok(settled.stats.totalBytes >= KNOWN_SEQUENCE.totalBytes, `totalBytes ${settled.stats.totalBytes}`);
});

Deno.test("Profiler.measure passes a throw or a rejection through and leaves no scope open", async () => {
  const open = openScopeCount("current");
  assert.throws(() =>
    Profiler.measure(() => {
      throw new RangeError("sync");
    }), RangeError);
  await assert.rejects(
    Profiler.measure(async () => {
      await Promise.resolve();
      throw new RangeError("async");
    }),
    RangeError,
  );
  assert.equal(openScopeCount("current"), open);
});

Deno.test("reset during an open scope keeps its deltas right for both thread scopes", () => {
  const fixture = loadFixture();
  const alloc = ModAlloc.install();
  const resetInside = () => {
    const all = Profiler.start({ thread: "all" });
    const current = Profiler.start({ thread: "current" });
    fixture.fixture_known_sequence();
    alloc.reset();
    fixture.fixture_known_sequence();
    const currentStats = current.stop();
    return { current: currentStats, all: all.stop(), allocCount: currentStats.allocCount };
  };
  const { current, all } = fewest(resetInside);
  // The calling thread's counters are not reset: exact.
  assert.equal(current.allocCount, 2 * KNOWN_SEQUENCE.allocCount);
  assert.equal(current.totalBytes, 2 * KNOWN_SEQUENCE.totalBytes);
  // Every thread's: at least both sequences (never negative), whatever other threads added.
  assert.ok(all.allocCount >= 2 * KNOWN_SEQUENCE.allocCount, `allocCount ${all.allocCount}`);
  assert.ok(all.totalBytes >= 2 * KNOWN_SEQUENCE.totalBytes, `totalBytes ${all.totalBytes}`);
  assert.ok(all.freeCount >= 2 * KNOWN_SEQUENCE.freeCount, `freeCount ${all.freeCount}`);
});

Deno.test("the scope of a profiler dropped without stop is forgotten once it is collected", async () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  assert.ok(gc !== undefined, "run with --v8-flags=--expose-gc");
  const open = openScopeCount("all");
  (() => {
    Profiler.start({ thread: "all" }); // never stopped, unreachable at once
  })();
  assert.equal(openScopeCount("all"), open + 1);
  // Finalizers run in a task after a collection: bounded rounds, no timing.
  for (let round = 0; round < 50 && openScopeCount("all") > open; round++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  assert.equal(openScopeCount("all"), open);
});

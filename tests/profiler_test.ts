// Profiler scopes and ModAlloc's public surface.
import assert from "node:assert/strict";
import { lastJson, runDeno, supportScript } from "./support/child.ts";
import { ModAlloc, OptionError, Profiler, StateError } from "../mod.ts";
import { loadFixture } from "./support/fixture.ts";

const MiB = 1024 * 1024;
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

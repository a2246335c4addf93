// Allocations of native threads are counted in "all" and not in "current".
import assert from "node:assert/strict";
import { ModAlloc, Profiler } from "../mod.ts";
import { loadFixture } from "./support/fixture.ts";
import { measure } from "./support/scenarios.ts";

Deno.test("native threads' allocations count in thread 'all' and not in 'current'", () => {
  ModAlloc.install();
  const fixture = loadFixture();
  const threads = 4, blocks = 1000, size = 64;
  const all = Profiler.start({ thread: "all" });
  let status = -1;
  const calling = measure(() => status = fixture.fixture_threads_alloc(threads, BigInt(blocks), BigInt(size), 1));
  const everything = all.stop();
  assert.equal(status, 0);
  // Other threads of Deno allocate at the same time: "all" is at least the
  // fixture's threads' work.
  assert.ok(everything.allocCount >= threads * blocks, `allocCount ${everything.allocCount}`);
  assert.ok(everything.totalBytes >= threads * blocks * size, `totalBytes ${everything.totalBytes}`);
  // The calling thread only started and joined them.
  assert.ok(calling.totalBytes < blocks * size, `calling thread counted ${calling.totalBytes} B`);
  assert.ok(calling.allocCount < blocks, `calling thread counted ${calling.allocCount} allocations`);
});

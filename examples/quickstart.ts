// Quickstart: install the profiler, do some work, print what it allocated.
// Run: bash tools/dev.sh quickstart
import { ModAlloc, Profiler } from "../mod.ts";

const alloc = ModAlloc.install();
console.log(`mod-alloc installed (${alloc.mode} mode, ${alloc.patchedSlots} GOT slots patched)`);

function buildBuffers(count: number, bytes: number): Uint8Array[] {
  return Array.from({ length: count }, (_, index) => new Uint8Array(bytes).fill(index));
}

function jsonRoundTrips(rounds: number): number {
  let total = 0;
  for (let round = 0; round < rounds; round++) {
    const text = JSON.stringify({ round, items: Array.from({ length: 1000 }, (_, i) => ({ i, name: `item-${i}` })) });
    total += (JSON.parse(text) as { items: unknown[] }).items.length;
  }
  return total;
}

const profiler = Profiler.start({ thread: "current" });
const buffers = buildBuffers(64, 256 * 1024);
const items = jsonRoundTrips(20);
const scope = profiler.stop();

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
console.log(`work: ${buffers.length} buffers, ${items} JSON items`);
console.log("this thread, inside the scope:");
console.log(`  allocations     ${scope.allocCount}`);
console.log(`  bytes allocated ${kib(scope.totalBytes)}`);
console.log(`  bytes still live ${kib(scope.currentBytes)} in ${scope.liveCount} blocks`);
console.log(`  scope peak      ${kib(scope.scopePeakBytes)}`);
const all = alloc.snapshot();
console.log("whole process since install (all threads):");
console.log(
  `  allocations ${all.allocCount}, total ${kib(all.totalBytes)}, live ${kib(all.currentBytes)}, peak ${
    kib(all.peakBytes)
  }`,
);
console.log(`  profiler memory ${kib(alloc.memoryBytes)}`);

// Child: phases of native allocation with a known shape (grow to a peak,
// free most, grow a little again), then the timeline and the counters.
// A process of its own so that no other test's allocations are counted.
import { ModAlloc } from "../../mod.ts";

const alloc = ModAlloc.install();
const phase = Deno.args[0] ?? "plain";
if (phase === "reset") {
  // A peak before the reset must not be in the timeline after it.
  const before = Array.from({ length: 64 }, () => new Uint8Array(256 * 1024));
  before.length = 0;
  (globalThis as { gc?: () => void }).gc?.();
  alloc.reset();
}
const kept: Uint8Array[] = [];
const peakBlocks = 40; // 40 x 1 MiB at the top
for (let i = 0; i < peakBlocks; i++) {
  kept.push(new Uint8Array(1 << 20));
  await new Promise((resolve) => setTimeout(resolve, 2)); // spread over wall time
}
const stats = alloc.snapshot();
kept.splice(8); // drop to 8 MiB
(globalThis as { gc?: () => void }).gc?.();
for (let i = 0; i < 4; i++) kept.push(new Uint8Array(1 << 20));
// V8 frees backing stores on a background thread, so the peak may still
// move: read the timeline between two snapshots that agree on it.
let timeline = alloc.timeline();
let after = alloc.snapshot();
for (let attempt = 0; attempt < 50; attempt++) {
  const before = alloc.snapshot();
  timeline = alloc.timeline();
  after = alloc.snapshot();
  if (before.peakBytes === after.peakBytes) break;
  await new Promise((resolve) => setTimeout(resolve, 10));
}
console.log(
  JSON.stringify({
    timeline,
    peakBytes: after.peakBytes,
    peakAtTop: stats.peakBytes,
    currentBytes: after.currentBytes,
    kept: kept.length,
  }),
);

// Child: native allocation with a known shape, through the test fixture's
// malloc and free (no garbage collector deciding when memory goes): climb
// to 40 MiB in 1 MiB blocks, free down to 8 MiB, allocate 4 MiB more; then
// the timeline and the counters. A process of its own, so no other test's
// allocations are counted. `reset` first makes and frees a higher peak,
// then resets; `sites` turns call sites on.
import { ModAlloc } from "../../mod.ts";
import { loadFixture } from "./fixture.ts";

const MIB = 1n << 20n;
// `sites`: with call sites on, so the timeline carries site snapshots.
const alloc = ModAlloc.install({ backtraces: Deno.args.includes("sites") });
const fixture = loadFixture();
if (Deno.args.includes("reset")) {
  const before = Array.from({ length: 64 }, () => fixture.fixture_malloc(MIB));
  for (const block of before) fixture.fixture_free(block);
  alloc.reset();
}
const kept: bigint[] = [];
for (let i = 0; i < 40; i++) {
  kept.push(fixture.fixture_malloc(MIB));
  await new Promise((resolve) => setTimeout(resolve, 2)); // spread over wall time
}
const peakAtTop = alloc.snapshot().peakBytes;
for (const block of kept.splice(8)) fixture.fixture_free(block);
for (let i = 0; i < 4; i++) kept.push(fixture.fixture_malloc(MIB));
// Deno's own threads keep allocating: read the timeline between two
// snapshots that agree on the peak.
let timeline = alloc.timeline();
let after = alloc.snapshot();
for (let attempt = 0; attempt < 50; attempt++) {
  const before = alloc.snapshot();
  timeline = alloc.timeline();
  after = alloc.snapshot();
  if (before.peakBytes === after.peakBytes) break;
}
console.log(JSON.stringify({ timeline, peakBytes: after.peakBytes, peakAtTop, currentBytes: after.currentBytes }));
for (const block of kept) fixture.fixture_free(block);

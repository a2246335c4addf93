// Child (run with the perf-map V8 flags): one JS function allocates from
// many distinct stacks (interpreted, then compiled; called from two
// callers); prints its rows per stack and grouped by function, file and
// package, and the formatted report.
import { ModAlloc } from "../../mod.ts";

// A table big enough for every stack: this test is about grouping, not overflow.
const alloc = ModAlloc.install({ backtraces: true, frames: 32, buckets: 65536 });
const kept: Uint8Array[] = [];

function groupingChildAllocator(size: number): void {
  kept.push(new Uint8Array(size));
}
function callerOne(round: number): void {
  for (let i = 0; i < 50; i++) groupingChildAllocator(4096 + (round % 5));
}
function callerTwo(round: number): void {
  for (let i = 0; i < 50; i++) groupingChildAllocator(8192 + (round % 3));
}
for (let round = 0; round < 200; round++) {
  callerOne(round);
  callerTwo(round);
}
const mine = (label: string) => label.includes("groupingChildAllocator");
const rows = (groupBy: "stack" | "function" | "file" | "package") =>
  alloc.callSites({ groupBy }).map(({ label, kind, siteCount, totalBytes, allocCount }) => ({
    label,
    kind,
    siteCount,
    totalBytes,
    allocCount,
  }));
console.log(JSON.stringify({
  stack: rows("stack").filter((row) => mine(row.label)),
  function: rows("function").filter((row) => mine(row.label)),
  file: rows("file").filter((row) => row.label.endsWith("grouping_child.ts")),
  package: rows("package").filter((row) => row.label.endsWith("grouping_child.ts")),
  report: alloc.formatCallSites({ limit: 5 }),
}));

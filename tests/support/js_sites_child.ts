// Child (run with the perf-map V8 flags): a uniquely named JS function
// allocates typed arrays; prints the top call sites.
import { ModAlloc } from "../../mod.ts";

const alloc = ModAlloc.install({ backtraces: true, frames: 32 });
const kept: Uint8Array[] = [];

function modAllocUniqueTypedArrayMaker(count: number): void {
  for (let i = 0; i < count; i++) kept.push(new Uint8Array(256 * 1024));
}

modAllocUniqueTypedArrayMaker(40);
const sites = alloc.callSites({ limit: 5, sortBy: "totalBytes" });
console.log(
  JSON.stringify({
    kept: kept.length,
    sites: sites.map(({ label, totalBytes, allocCount, frames }) => ({ label, totalBytes, allocCount, frames })),
  }),
);

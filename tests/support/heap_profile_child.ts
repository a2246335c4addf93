// Child (preloaded, with the perf-map V8 flags): a uniquely named JS
// function allocates typed arrays that stay live; nothing else of ours runs.
const kept: Uint8Array[] = [];

function modAllocHeapProfileMaker(count: number): void {
  for (let i = 0; i < count; i++) kept.push(new Uint8Array(128 * 1024));
}

modAllocHeapProfileMaker(24);
console.log(JSON.stringify({ kept: kept.length }));

// Call sites: which JS functions caused the native allocations.
// Run: deno run -A --v8-flags=--perf-basic-prof,--interpreted-frames-native-stack,--logfile=/dev/null examples/call_sites.ts
// (the V8 flags let mod-alloc name JS frames; without them the native
// frames are still reported.)
import { formatBytes, ModAlloc } from "../mod.ts";

const alloc = ModAlloc.install({ backtraces: true });

function loadImages(count: number): Uint8Array[] {
  return Array.from({ length: count }, () => new Uint8Array(512 * 1024));
}

function buildIndex(words: number): Map<string, Float64Array> {
  const index = new Map<string, Float64Array>();
  for (let i = 0; i < words; i++) index.set(`word-${i}`, new Float64Array(64));
  return index;
}

function encodeReport(rows: number): Uint8Array {
  const text = JSON.stringify(Array.from({ length: rows }, (_, i) => ({ i, label: `row ${i}` })));
  return new TextEncoder().encode(text);
}

const images = loadImages(24);
const index = buildIndex(2000);
const report = encodeReport(20000);
console.log(`kept ${images.length} images, ${index.size} index entries, a ${formatBytes(report.length)} report\n`);
console.log(alloc.formatCallSites({ limit: 8 }));

// The example profiled by the README's main command (`bash tools/dev.sh profile`):
// a few recognisable JS functions that allocate native memory.
function decodeFrames(count: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => new Uint8Array(256 * 1024).fill(i));
}

function buildSearchIndex(words: number): Map<string, Float64Array> {
  const index = new Map<string, Float64Array>();
  for (let i = 0; i < words; i++) index.set(`word-${i}`, new Float64Array(32));
  return index;
}

function renderReport(rows: number): Uint8Array {
  const text = JSON.stringify(Array.from({ length: rows }, (_, i) => ({ row: i, label: `entry ${i}` })));
  return new TextEncoder().encode(text);
}

const frames = decodeFrames(32);
const index = buildSearchIndex(3000);
const report = renderReport(30000);
console.log(`decoded ${frames.length} frames, indexed ${index.size} words, rendered ${report.length} bytes`);

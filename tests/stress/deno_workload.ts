// A deterministic Deno workload for the stress suite: its output must be
// the same with and without the profiler preloaded.
const arrays = Array.from({ length: 300 }, (_, i) => new Float64Array(512 + i).fill(i));
const text = JSON.stringify(arrays.map((array) => array.subarray(0, 4)));
const encoded = new TextEncoder().encode(text.repeat(20));
const map = new Map<string, Uint8Array>();
for (let i = 0; i < 20000; i++) map.set(`key-${i % 3000}`, new Uint8Array(16 + (i % 100)));
let sum = 0;
for (const value of map.values()) sum += value.length;
console.log(arrays.length, text.length, encoded.length, map.size, sum);

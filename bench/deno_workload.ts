// The Deno workload of the benchmark: typed arrays and JSON round trips.
// Usage: deno run -A bench/deno_workload.ts <rounds> [--install | --sample <bytes>]
// Prints one JSON line with the work loop's elapsed milliseconds.
import { ModAlloc } from "../mod.ts";

const rounds = Number(Deno.args[0] ?? "200");
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error("usage: deno_workload.ts <rounds> [--install]");
  Deno.exit(2);
}
const sampleAt = Deno.args.indexOf("--sample");
const alloc = sampleAt >= 0
  ? ModAlloc.install({ sampleBytes: Number(Deno.args[sampleAt + 1]) })
  : Deno.args.includes("--install")
  ? ModAlloc.install()
  : undefined;

function work(): number {
  let checksum = 0;
  for (let round = 0; round < rounds; round++) {
    const arrays = Array.from({ length: 64 }, (_, i) => new Float64Array(256 + i * 16).fill(round));
    const text = JSON.stringify({ round, rows: arrays.map((array) => Array.from(array.subarray(0, 8))) });
    const parsed = JSON.parse(text) as { rows: number[][] };
    checksum += parsed.rows.length + new TextEncoder().encode(text).length;
  }
  return checksum;
}

work(); // warm-up: let V8 compile before the timed loop
const start = performance.now();
const checksum = work();
const elapsedMs = performance.now() - start;
console.log(JSON.stringify({ elapsedMs, checksum, allocCount: alloc?.snapshot().allocCount ?? 0 }));

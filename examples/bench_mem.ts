// Bytes and allocations per operation from a plain script, like Go's
// -benchmem: deno run -A examples/bench_mem.ts [--json]
import { formatBenchmem, measureAllocations } from "../mod.ts";

const payload = { id: 7, tags: ["a", "b", "c"], values: Array.from({ length: 64 }, (_, i) => i) };
const text = JSON.stringify(payload);
const encoder = new TextEncoder();

const results = [
  measureAllocations("TextEncoder.encode 1 KiB", () => encoder.encode("x".repeat(1024))),
  measureAllocations("new Uint8Array(64 KiB)", () => new Uint8Array(64 * 1024)),
  measureAllocations("JSON round trip", () => JSON.parse(JSON.stringify(payload))),
  measureAllocations("JSON.parse", () => JSON.parse(text)),
];
console.log(Deno.args.includes("--json") ? JSON.stringify(results, null, 2) : formatBenchmem(results));

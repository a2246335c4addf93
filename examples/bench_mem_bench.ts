// B/op and allocs/op next to deno bench's times (on stderr, so --json stays JSON):
// deno bench -A examples/bench_mem_bench.ts (MOD_ALLOC_BENCH_JSON=out.json for JSON)
import { benchAllocations } from "../mod.ts";

const encoder = new TextEncoder();
benchAllocations("encode 1 KiB", () => encoder.encode("x".repeat(1024)), { group: "encode" });
benchAllocations("encode only, input made outside b.start()/b.end()", (b) => {
  const input = "x".repeat(1024);
  b.start();
  encoder.encode(input);
  b.end();
}, { group: "encode" });
benchAllocations("Uint8Array 64 KiB", () => new Uint8Array(64 * 1024));
benchAllocations("Blob bytes (async)", async () => {
  await new Blob(["x".repeat(1024)]).bytes();
});

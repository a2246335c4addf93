// B/op and allocs/op next to deno bench's times:
// deno bench -A examples/bench_mem_bench.ts (MOD_ALLOC_BENCH_JSON=out.json for JSON)
import { benchAllocations } from "../mod.ts";

const encoder = new TextEncoder();
benchAllocations("encode 1 KiB", () => encoder.encode("x".repeat(1024)));
benchAllocations("Uint8Array 64 KiB", () => new Uint8Array(64 * 1024));

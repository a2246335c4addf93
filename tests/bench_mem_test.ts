// Allocations per operation: measureAllocations in a script, and
// benchAllocations inside `deno bench` (run in a child).
import assert from "node:assert/strict";
import { formatBenchmem, measureAllocations, OptionError } from "../mod.ts";
import { loadFixture } from "./support/fixture.ts";
import { runDenoCommand, supportScript } from "./support/child.ts";

Deno.test("measureAllocations reports bytes and allocations per operation", () => {
  const fixture = loadFixture();
  const result = measureAllocations("alloc_b", () => fixture.fixture_alloc_b(2n, 3000n), { iterations: 200 });
  assert.equal(result.iterations, 200);
  // Two calloc(3000) per operation, plus what Deno's FFI call and V8's
  // compiler may add on this thread, averaged over the iterations.
  assert.ok(result.bytesPerOp >= 6000 && result.bytesPerOp < 6000 + 1024, `B/op ${result.bytesPerOp}`);
  assert.ok(result.allocsPerOp >= 2 && result.allocsPerOp < 2 + 4, `allocs/op ${result.allocsPerOp}`);
  assert.ok(result.nsPerOp > 0);
});

Deno.test("formatBenchmem prints Go-style rows", () => {
  const text = formatBenchmem([
    { name: "a", iterations: 1000, nsPerOp: 12.34, bytesPerOp: 48, allocsPerOp: 1 },
    { name: "longer", iterations: 10, nsPerOp: 1500, bytesPerOp: 4096.4, allocsPerOp: 12 },
  ]);
  assert.equal(
    text,
    ["a       1000    12.3 ns/op    48 B/op  1.00 allocs/op", "longer    10  1500.0 ns/op  4096 B/op    12 allocs/op"]
      .join("\n"),
  );
});

Deno.test("measureAllocations options are checked", () => {
  assert.throws(() => measureAllocations("x", () => 0, { iterations: 0 }), OptionError);
  assert.throws(() => measureAllocations("x", () => 0, { warmup: -1 }), /warmup must be a whole number >= 0/);
});

Deno.test("benchAllocations reports B/op and allocs/op after deno bench, and as JSON", async () => {
  const json = await Deno.makeTempFile({ suffix: ".json" });
  try {
    const output = await runDenoCommand("bench", [supportScript("bench_mem_bench.ts")], { MOD_ALLOC_BENCH_JSON: json });
    const text = output.stdout;
    assert.equal(output.code, 0, output.stderr);
    assert.match(text, /native allocations \(mod-alloc, calling thread\):\nalloc_b x2 of 3000 B: \d+ B\/op/);
    const results = JSON.parse(await Deno.readTextFile(json)) as {
      name: string;
      bytesPerOp: number;
      allocsPerOp: number;
    }[];
    const [result] = results;
    assert.equal(result.name, "alloc_b x2 of 3000 B");
    assert.ok(result.bytesPerOp >= 6000 && result.bytesPerOp < 6000 + 1024, `B/op ${result.bytesPerOp}`);
    assert.ok(result.allocsPerOp >= 2 && result.allocsPerOp < 6, `allocs/op ${result.allocsPerOp}`);
  } finally {
    await Deno.remove(json);
  }
});

// Allocations per operation: measureAllocations in a script, and
// benchAllocations inside `deno bench` (run in a child).
import assert from "node:assert/strict";
import { benchAllocations, formatBenchmem, measureAllocations, OptionError } from "../mod.ts";
import { KNOWN_SEQUENCE, loadFixture } from "./support/fixture.ts";
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

interface BenchResult {
  name: string;
  group?: string;
  iterations: number;
  bytesPerOp: number;
  allocsPerOp: number;
}

// What V8 does on the thread during a run (a collection, a tier-up) is
// counted too, averaged over the runs: a bound per operation, no timing.
const NOISE_ALLOCS_PER_OP = 2;
const NOISE_BYTES_PER_OP = 2048;

function assertKnownPerOp(result: BenchResult | undefined, what: string): void {
  assert.ok(result !== undefined, `${what}: no result`);
  const { allocsPerOp, bytesPerOp } = result;
  assert.ok(
    allocsPerOp >= KNOWN_SEQUENCE.allocCount && allocsPerOp < KNOWN_SEQUENCE.allocCount + NOISE_ALLOCS_PER_OP,
    `${what}: ${allocsPerOp} allocs/op`,
  );
  assert.ok(
    bytesPerOp >= KNOWN_SEQUENCE.totalBytes && bytesPerOp < KNOWN_SEQUENCE.totalBytes + NOISE_BYTES_PER_OP,
    `${what}: ${bytesPerOp} B/op`,
  );
}

async function benchChild(env: Record<string, string>) {
  return await runDenoCommand("bench", ["--json", supportScript("bench_mem_bench.ts")], env);
}

Deno.test("benchAllocations keeps deno bench --json valid JSON, awaits async benches, keeps groups apart", async () => {
  const json = await Deno.makeTempFile({ suffix: ".json" });
  try {
    const output = await benchChild({ MOD_ALLOC_BENCH_JSON: json });
    assert.equal(output.code, 0, output.stderr);
    const parsed = JSON.parse(output.stdout) as { benches: { name: string; group?: string | null }[] };
    assert.equal(parsed.benches.length, 6);
    assert.match(output.stderr, /native allocations \(mod-alloc, calling thread\):\nsync: \d+ B\/op/);
    assert.match(output.stderr, /\nempty \/ same name: \d+ B\/op/);
    const results = JSON.parse(await Deno.readTextFile(json)) as BenchResult[];
    const find = (name: string, group?: string) => results.find((r) => r.name === name && r.group === group);
    assertKnownPerOp(find("sync"), "sync");
    assertKnownPerOp(find("async, allocating after an await"), "async");
    assertKnownPerOp(find("same name", "known"), "group known");
    assert.ok(find("same name", "empty")!.allocsPerOp < 1, "group empty");
    // With b.start()/b.end(), only what runs between them counts.
    assert.ok(find("setup outside start/end")!.allocsPerOp < 1, "setup outside");
    assertKnownPerOp(find("work inside start/end"), "work inside");
    assert.equal(results.length, 6);
  } finally {
    await Deno.remove(json);
  }
});

Deno.test("an unwritable MOD_ALLOC_BENCH_JSON fails with a clear error before any bench runs", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (
      const [path, reason] of [
        [dir, /is a directory: set it to the path of a JSON file/],
        [`${dir}/missing/out.json`, /cannot be written \(.*\): point it at a file in a writable directory/],
      ] as const
    ) {
      const output = await benchChild({ MOD_ALLOC_BENCH_JSON: path });
      assert.notEqual(output.code, 0);
      assert.match(output.stderr, /mod-alloc: MOD_ALLOC_BENCH_JSON=/);
      assert.match(output.stderr, reason);
      assert.doesNotMatch(output.stdout + output.stderr, /"sync"|native allocations/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a plain function that returns a promise is refused with a message to declare it async", async () => {
  const output = await benchChild({ BENCH_CASE: "promise without async" });
  assert.notEqual(output.code, 0);
  assert.match(output.stdout + output.stderr, /returned a promise but is not declared async/);
});

Deno.test("registering the same group and name twice is an error", () => {
  benchAllocations("twice", () => {}, { group: "g" });
  benchAllocations("twice", () => {}); // another group: fine
  assert.throws(() => benchAllocations("twice", () => {}, { group: "g" }), (error: unknown) => {
    assert.ok(error instanceof OptionError);
    assert.match(error.message, /"twice" in group "g" is already registered/);
    return true;
  });
});

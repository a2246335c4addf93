// Allocation budgets and leak checks: passing cases here, failing cases in
// a child `deno test` whose failure messages are checked.
import assert from "node:assert/strict";
import { AllocationBudgetError, assertAllocations, assertNoLeaks, OptionError } from "../mod.ts";
import { loadFixture } from "./support/fixture.ts";
import { runDenoCommand, supportScript } from "./support/child.ts";

Deno.test("a function within its budget passes and its result comes back", () => {
  const fixture = loadFixture();
  // Deno's FFI allocates the argument list of a call with parameters on
  // the calling thread: the budget leaves room for that.
  const result = assertAllocations(() => {
    fixture.fixture_free(fixture.fixture_malloc(1000n));
    return 42;
  }, { maxCount: 20, maxTotalBytes: 16 * 1024, maxPeakBytes: 64 * 1024, runs: 10 });
  assert.equal(result, 42);
});

Deno.test({
  name: "an async function within its budget passes under the op and resource sanitizers",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const value = await assertAllocations(async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return "done";
    }, { maxTotalBytes: 1 << 20 });
    assert.equal(value, "done");
    await assertNoLeaks(async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }, { toleranceBytes: 64 * 1024 });
  },
});

Deno.test("a function that frees what it allocates has no leak", async () => {
  const fixture = loadFixture();
  await assertNoLeaks(() => fixture.fixture_alloc_a(100n, 512n));
});

Deno.test("the error of a budget carries the measured stats", () => {
  const fixture = loadFixture();
  assert.throws(
    () => assertAllocations(() => fixture.fixture_alloc_a(20n, 64n), { maxCount: 5 }),
    (error: unknown) => {
      assert.ok(error instanceof AllocationBudgetError);
      assert.ok(error.stats.allocCount >= 20);
      return true;
    },
  );
});

Deno.test("the old maxBytes option is refused with a message naming maxTotalBytes and maxPeakBytes", () => {
  assert.throws(
    // @ts-expect-error: the old name on purpose
    () => assertAllocations(() => 0, { maxBytes: 10 }),
    /maxBytes was renamed maxTotalBytes \(bytes allocated in all\); for the most bytes live at once, use maxPeakBytes/,
  );
});

Deno.test("the budget is checked against the minimum over the runs, and every run is reported", () => {
  const fixture = loadFixture();
  let call = 0;
  // The first measured run makes 20 allocations more than the others.
  const uneven = () => {
    if (call++ === 1) fixture.fixture_alloc_a(20n, 16n);
    fixture.fixture_known_sequence();
  };
  assertAllocations(uneven, { maxCount: 113, warmup: 1, runs: 3 });
  call = 0;
  assert.throws(() => assertAllocations(uneven, { maxCount: 112, warmup: 1, runs: 3 }), (error: unknown) => {
    assert.ok(error instanceof AllocationBudgetError);
    assert.equal(error.stats.allocCount, 113);
    assert.equal(error.runs.length, 3);
    assert.ok(error.runs[0].allocCount >= 133, `run 1: ${error.runs[0].allocCount}`);
    assert.match(error.message, /minimum of 3 runs\): allocCount 113 > maxCount 112\.\n\s+run 1: 1[3-9]\d allocations/);
    return true;
  });
});

Deno.test("bad budget values are rejected", () => {
  assert.throws(() => assertAllocations(() => 0, { maxTotalBytes: -1 }), OptionError);
  // @ts-expect-error: a wrong type on purpose
  assert.throws(() => assertAllocations(() => 0, { maxCount: "10" }), /maxCount must be a number >= 0/);
});

async function runFailures(env: Record<string, string>): Promise<{ code: number; output: string }> {
  const result = await runDenoCommand("test", [supportScript("budget_failures.ts")], env);
  return { code: result.code, output: result.stdout + result.stderr };
}

/** The number a message states for `label`, e.g. "totalBytes 40123 (...) > maxTotalBytes 1000". */
function stated(output: string, pattern: RegExp): number {
  const match = pattern.exec(output);
  assert.ok(match !== null, `no match for ${pattern} in:\n${output}`);
  return Number(match[1]);
}

Deno.test("failing budgets and a leak fail with messages that state measured values and limits", async () => {
  const { code, output } = await runFailures({});
  assert.equal(code, 1);
  assert.match(output, /FAILED \| 0 passed \| 4 failed/);
  // Each stated value is at least what the fixture allocated (Deno's FFI
  // call with parameters adds its argument list on the calling thread).
  assert.ok(
    stated(
      output,
      /Allocation budget exceeded \(thread: current, minimum of 3 runs\): totalBytes (\d+) \([\d.]+ KiB\) > maxTotalBytes 1000\./,
    ) >= 40_000,
  );
  assert.ok(stated(output, /allocCount (\d+) > maxCount 10\./) >= 50);
  assert.ok(stated(output, /scopePeakBytes (\d+) \([\d.]+ KiB\) > maxPeakBytes 50000\./) >= 100_000);
  // A large leak: the process-wide growth it is also checked against can
  // be lowered by whatever other threads free at the same time.
  assert.ok(
    stated(output, /Leak: (\d+) bytes \([\d.]+ MiB\) of native memory allocated by the function are still live/) >=
      7_000_000,
  );
  assert.match(output, /tolerance 4096 B; after 3 settle rounds/);
  assert.match(output, /set MOD_ALLOC_BACKTRACES=1 to see the call sites responsible/);
  // Every run's numbers are stated.
  assert.match(output, /\n\s+run 1: \d+ allocations, \d+ B in all, peak \d+ B\n\s+run 2: .*\n\s+run 3: /);
});

Deno.test("with call sites on, a failure names the call sites responsible", async () => {
  const { output } = await runFailures({ WITH_SITES: "1" });
  assert.match(output, /Top call sites in the scope:\n\s+39\.1 KiB in 4 allocations: fixture_alloc_b .*fixture\.c:\d+/);
  assert.match(output, /Top call sites in the scope:\n\s+7\.6 MiB in 1 allocations: fixture_malloc .*fixture\.c:\d+/);
});

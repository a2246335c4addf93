// Run by tests/budget_test.ts as `deno test` in a child: every test here
// must FAIL, and the parent checks the messages.
import { assertAllocations, assertNoLeaks, ModAlloc } from "../../mod.ts";
import { loadFixture } from "./fixture.ts";

const withSites = Deno.env.get("WITH_SITES") === "1";
// Deno makes thousands of distinct stacks: a larger table keeps the
// fixture's sites out of the overflow row.
ModAlloc.install(withSites ? { backtraces: true, buckets: 1 << 16 } : {});
const fixture = loadFixture();
const kept: bigint[] = [];

Deno.test("over maxTotalBytes", () => {
  assertAllocations(() => fixture.fixture_alloc_b(4n, 10_000n), { maxTotalBytes: 1000 });
});

Deno.test("over maxCount", () => {
  assertAllocations(() => fixture.fixture_alloc_a(50n, 16n), { maxCount: 10 });
});

Deno.test("over maxPeakBytes, async", async () => {
  await assertAllocations(async () => {
    await Promise.resolve();
    const block = fixture.fixture_malloc(100_000n);
    fixture.fixture_free(block);
  }, { maxPeakBytes: 50_000 });
});

Deno.test("a leak", async () => {
  await assertNoLeaks(() => {
    kept.push(fixture.fixture_malloc(8_000_000n));
  });
});

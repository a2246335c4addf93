// Exact allocation scenarios, each a known sequence of fixture calls with
// the counters it must produce on the calling thread. Run in-process by
// counters_test.ts (run-time install) and in a preloaded child by
// preload_test.ts, so both ways in are held to the same numbers.
import assert from "node:assert/strict";
import type { AllocStats, ScopeStats } from "../../mod.ts";
import { STATS_FIELDS } from "../../ffi/layout.ts";
import { EINVAL, ENOMEM, type Fixture, loadFixture } from "./fixture.ts";

export interface Scenario {
  name: string;
  run(fixture: Fixture): void;
}

/**
 * The calling thread's counters across the fixture calls `work` makes, as
 * the fixture measured them natively around each of its allocator calls.
 */
export function measure(work: () => void): ScopeStats {
  const fixture = loadFixture();
  const out = new Float64Array(STATS_FIELDS.length + 2);
  fixture.fixture_record_begin();
  work();
  fixture.fixture_record_end(out);
  const value = (name: typeof STATS_FIELDS[number]) => out[STATS_FIELDS.indexOf(name)];
  return {
    allocCount: value("alloc_count"),
    freeCount: value("free_count"),
    totalBytes: value("total_bytes"),
    currentBytes: value("current_bytes"),
    liveCount: value("live_count"),
    foreignCount: value("foreign_count"),
    failedCount: value("failed_count"),
    peakBytes: value("peak_bytes"),
    peakLiveCount: value("peak_live_count"),
    scopePeakBytes: out[STATS_FIELDS.length],
    scopePeakLiveCount: out[STATS_FIELDS.length + 1],
  };
}

type Counts = Partial<
  Pick<
    AllocStats,
    "allocCount" | "freeCount" | "totalBytes" | "currentBytes" | "liveCount" | "foreignCount" | "failedCount"
  >
>;

/** Asserts the listed counters exactly and every other count to be zero. */
export function assertCounts(stats: ScopeStats, expected: Counts): void {
  const keys = [
    "allocCount",
    "freeCount",
    "totalBytes",
    "currentBytes",
    "liveCount",
    "foreignCount",
    "failedCount",
  ] as const;
  const actual = Object.fromEntries(keys.map((key) => [key, stats[key]]));
  const wanted = Object.fromEntries(keys.map((key) => [key, expected[key] ?? 0]));
  assert.deepEqual(actual, wanted);
}

const SIZE_MAX_HALF = 1n << 62n;

export const scenarios: Scenario[] = [
  {
    name: "malloc counts one event and its size, free takes the size back",
    run(f) {
      let block = 0n;
      assertCounts(measure(() => block = f.fixture_malloc(100n)), {
        allocCount: 1,
        totalBytes: 100,
        currentBytes: 100,
        liveCount: 1,
      });
      assertCounts(measure(() => f.fixture_free(block)), { freeCount: 1, currentBytes: -100, liveCount: -1 });
    },
  },
  {
    name: "calloc counts count times size",
    run(f) {
      const stats = measure(() => f.fixture_free(f.fixture_calloc(10n, 30n)));
      assertCounts(stats, { allocCount: 1, freeCount: 1, totalBytes: 300 });
      assert.equal(stats.scopePeakBytes, 300);
    },
  },
  {
    name: "calloc whose product overflows returns NULL with ENOMEM and counts a failure",
    run(f) {
      let block = 1n;
      const stats = measure(() => block = f.fixture_calloc_errno(SIZE_MAX_HALF, 8n, 0));
      assert.equal(block, 0n);
      assert.equal(f.fixture_last_errno(), ENOMEM);
      assertCounts(stats, { failedCount: 1 });
    },
  },
  {
    name: "realloc growth is one event and adds only the growth to totalBytes",
    run(f) {
      let block = f.fixture_malloc(100n);
      assertCounts(measure(() => block = f.fixture_realloc(block, 300n)), {
        allocCount: 1,
        totalBytes: 200,
        currentBytes: 200,
      });
      f.fixture_free(block);
    },
  },
  {
    name: "realloc shrink keeps totalBytes and lowers currentBytes",
    run(f) {
      let block = f.fixture_malloc(300n);
      assertCounts(measure(() => block = f.fixture_realloc(block, 100n)), { allocCount: 1, currentBytes: -200 });
      assertCounts(measure(() => f.fixture_free(block)), { freeCount: 1, currentBytes: -100, liveCount: -1 });
    },
  },
  {
    name: "realloc of NULL is a malloc",
    run(f) {
      let block = 0n;
      assertCounts(measure(() => block = f.fixture_realloc(0n, 64n)), {
        allocCount: 1,
        totalBytes: 64,
        currentBytes: 64,
        liveCount: 1,
      });
      f.fixture_free(block);
    },
  },
  {
    name: "realloc to size 0 frees the block and returns NULL",
    run(f) {
      const block = f.fixture_malloc(80n);
      let result = 1n;
      assertCounts(measure(() => result = f.fixture_realloc(block, 0n)), {
        freeCount: 1,
        currentBytes: -80,
        liveCount: -1,
      });
      assert.equal(result, 0n);
    },
  },
  {
    name: "free of NULL counts nothing",
    run(f) {
      assertCounts(measure(() => f.fixture_free(0n)), {});
    },
  },
  {
    name: "malloc of 0 bytes is one live block of 0 bytes",
    run(f) {
      let block = 0n;
      assertCounts(measure(() => block = f.fixture_malloc(0n)), { allocCount: 1, liveCount: 1 });
      assert.notEqual(block, 0n);
      f.fixture_free(block);
    },
  },
  {
    name: "reallocarray counts like realloc and refuses an overflowing product",
    run(f) {
      let block = 0n;
      assertCounts(measure(() => block = f.fixture_reallocarray(0n, 4n, 25n)), {
        allocCount: 1,
        totalBytes: 100,
        currentBytes: 100,
        liveCount: 1,
      });
      let result = 1n;
      assertCounts(measure(() => result = f.fixture_reallocarray(block, SIZE_MAX_HALF, 8n)), {});
      assert.equal(result, 0n);
      f.fixture_free(block);
    },
  },
  {
    name: "posix_memalign counts the requested size and rejects a bad alignment with EINVAL",
    run(f) {
      const out = new BigUint64Array(1);
      let status = -1;
      assertCounts(measure(() => status = f.fixture_posix_memalign(out, 64n, 100n)), {
        allocCount: 1,
        totalBytes: 100,
        currentBytes: 100,
        liveCount: 1,
      });
      assert.equal(status, 0);
      assert.equal(out[0] % 64n, 0n);
      f.fixture_free(out[0]);
      assertCounts(measure(() => status = f.fixture_posix_memalign(out, 3n, 100n)), { failedCount: 1 });
      assert.equal(status, EINVAL);
    },
  },
  {
    name: "aligned_alloc, memalign, valloc and pvalloc count the requested sizes",
    run(f) {
      const blocks: bigint[] = [];
      const stats = measure(() => {
        blocks.push(f.fixture_aligned_alloc(64n, 128n));
        blocks.push(f.fixture_memalign(32n, 50n));
        blocks.push(f.fixture_valloc(10n));
        blocks.push(f.fixture_pvalloc(10n));
      });
      assertCounts(stats, { allocCount: 4, totalBytes: 198, currentBytes: 198, liveCount: 4 });
      assert.deepEqual(blocks.map((block, i) => block % [64n, 32n, 4096n, 4096n][i]), [0n, 0n, 0n, 0n]);
      assertCounts(measure(() => blocks.forEach((block) => f.fixture_free(block))), {
        freeCount: 4,
        currentBytes: -198,
        liveCount: -4,
      });
    },
  },
  {
    name: "malloc_usable_size answers the real size and counts nothing",
    run(f) {
      const block = f.fixture_malloc(100n);
      let usable = 0n;
      assertCounts(measure(() => usable = f.fixture_usable_size(block)), {});
      assert.ok(usable >= 100n, `usable size ${usable}`);
      f.fixture_free(block);
    },
  },
  {
    name: "a failed malloc returns NULL with ENOMEM and counts a failure",
    run(f) {
      let block = 1n;
      assertCounts(measure(() => block = f.fixture_malloc_errno(SIZE_MAX_HALF, 0)), { failedCount: 1 });
      assert.equal(block, 0n);
      assert.equal(f.fixture_last_errno(), ENOMEM);
    },
  },
  {
    name: "a successful malloc leaves errno as it was",
    run(f) {
      const block = f.fixture_malloc_errno(40n, 1234);
      assert.equal(f.fixture_last_errno(), 1234);
      f.fixture_free(block);
    },
  },
  {
    name: "scopePeakBytes is the scope's high-water mark above its start",
    run(f) {
      const stats = measure(() => {
        const big = f.fixture_malloc(1000n);
        f.fixture_free(big);
        f.fixture_free(f.fixture_malloc(10n));
      });
      assert.equal(stats.scopePeakBytes, 1000);
      assert.equal(stats.scopePeakLiveCount, 1);
    },
  },
  {
    name: "the sized API counts without the live table",
    run(f) {
      let status = -1;
      const stats = measure(() => status = f.fixture_sized_api());
      assert.equal(status, 0);
      // alloc 100, realloc 100->300 (+200), realloc 300->50, alloc_zeroed 32,
      // alloc 24 then realloc 24->0: a free, not a failure.
      assertCounts(stats, { allocCount: 5, freeCount: 3, totalBytes: 356 });
    },
  },
];

// Run by tests/first_call_test.ts in a fresh `deno run` per mode: the first
// measurement of a process, printed as one JSON line.
import { AllocationBudgetError, assertAllocations, Profiler, type ScopeStats } from "../../mod.ts";
import { KNOWN_SEQUENCE, loadFixture } from "./fixture.ts";

/** How one budget check ended. */
export interface Outcome {
  passed: boolean;
  message?: string;
  stats?: ScopeStats;
  runs?: ScopeStats[];
  sites?: { label: string; allocCount: number }[];
}

async function outcome(check: () => unknown): Promise<Outcome> {
  try {
    await check();
    return { passed: true };
  } catch (error) {
    if (!(error instanceof AllocationBudgetError)) throw error;
    const sites = error.callSites.map(({ label, allocCount }) => ({ label, allocCount }));
    return { passed: false, message: error.message, stats: error.stats, runs: error.runs, sites };
  }
}

const mode = Deno.args[0];
const known = loadFixture().fixture_known_sequence;
const exact = { maxCount: KNOWN_SEQUENCE.allocCount, maxTotalBytes: KNOWN_SEQUENCE.totalBytes };
const results: Record<string, unknown> = {};
if (mode === "empty") {
  // With one run first: no minimum over runs to hide a count of the profiler's own.
  const empty = Deno.args[1] === "one run first" ? ["oneRun", "first"] : ["first", "oneRun"];
  for (const key of empty) {
    const runs = key === "oneRun" ? 1 : undefined;
    results[key] = await outcome(() =>
      assertAllocations(() => {}, { maxCount: 0, maxTotalBytes: 0, thread: "current", runs })
    );
  }
} else if (mode === "native") {
  results.first = await outcome(() =>
    assertAllocations(known, { ...exact, maxPeakBytes: KNOWN_SEQUENCE.scopePeakBytes })
  );
  // One allocation less than the fixture makes must fail, stating the exact count.
  results.tighter = await outcome(() => assertAllocations(known, { maxCount: KNOWN_SEQUENCE.allocCount - 1, runs: 2 }));
} else if (mode === "async") {
  const knownAfterAwait = async () => {
    await null;
    known();
  };
  results.first = await outcome(() => assertAllocations(knownAfterAwait, exact));
  results.tighter = await outcome(() =>
    assertAllocations(knownAfterAwait, { maxCount: KNOWN_SEQUENCE.allocCount - 1 })
  );
} else if (mode === "profiler") {
  results.measure = Profiler.measure(known).stats;
  using profiler = Profiler.start();
  known();
  results.using = profiler.stop();
}
console.log(JSON.stringify(results));

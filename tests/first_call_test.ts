// Exact from the first call: in a fresh process, the first measurement
// counts nothing of the profiler's own work (its JavaScript, its FFI calls,
// V8 compiling either). Each case runs in a child `deno run` of its own.
import assert from "node:assert/strict";
import type { ScopeStats } from "../mod.ts";
import { lastJson, runDeno, supportScript } from "./support/child.ts";
import { KNOWN_SEQUENCE } from "./support/fixture.ts";
import type { Outcome } from "./support/first_call_child.ts"; // a type only: the script does not run

/**
 * Fresh processes tried per case. On a loaded machine V8's own work on the
 * main thread (finishing a background job) lands in about one scope in a
 * thousand and can only add to it; one exact process out of three shows
 * that nothing of the profiler was counted, while the profiler's own work
 * (12 allocations, 32,880 bytes before this was fixed) is in every one.
 */
const PROCESSES_MAX = 3;

/** The child's output for `mode`: the first of up to three fresh processes that `exact` accepts, else the last. */
async function firstCalls<T>(
  mode: string,
  env: Record<string, string>,
  exact: (out: T) => boolean,
  variant = "",
): Promise<T> {
  let out: T | undefined;
  for (let attempt = 0; attempt < PROCESSES_MAX; attempt++) {
    const result = await runDeno([supportScript("first_call_child.ts"), mode, variant], env);
    assert.equal(result.code, 0, result.stderr);
    out = lastJson<T>(result);
    if (exact(out)) break;
  }
  return out!;
}

/** The values of `stats` that `expected` names. */
function pick(stats: ScopeStats | undefined, expected: object): Record<string, number> {
  assert.ok(stats !== undefined);
  return Object.fromEntries(Object.keys(expected).map((key) => [key, stats[key as keyof ScopeStats]]));
}

function isKnown(stats: ScopeStats | undefined): boolean {
  return stats !== undefined && JSON.stringify(pick(stats, KNOWN_SEQUENCE)) === JSON.stringify(KNOWN_SEQUENCE);
}

type EmptyOut = { first: Outcome; oneRun: Outcome };
type BudgetOut = { first: Outcome; tighter: Outcome };
type ProfilerOut = { measure: ScopeStats; using: ScopeStats };
const emptyExact = (out: EmptyOut) => out.first.passed && out.oneRun.passed;
const nativeExact = (out: BudgetOut) => out.first.passed && (out.tighter.runs ?? []).every(isKnown);

const CALL_SITES = { MOD_ALLOC_BACKTRACES: "1", MOD_ALLOC_BUCKETS: "65536" };

Deno.test("the first assertAllocations of a process measures an empty function as 0 allocations and 0 bytes", async () => {
  const out = await firstCalls("empty", {}, emptyExact);
  assert.deepEqual(out.first, { passed: true }, out.first.message);
  assert.deepEqual(out.oneRun, { passed: true }, out.oneRun.message);
});

Deno.test("the first assertAllocations of a process is exact with a single run (no minimum to hide behind)", async () => {
  const out = await firstCalls("empty", {}, emptyExact, "one run first");
  assert.deepEqual(out.oneRun, { passed: true }, out.oneRun.message);
});

Deno.test("with call sites on, the first assertAllocations of an empty function is 0 too", async () => {
  const out = await firstCalls("empty", CALL_SITES, emptyExact);
  assert.deepEqual(out.first, { passed: true }, out.first.message);
  assert.deepEqual(out.oneRun, { passed: true }, out.oneRun.message);
});

for (const [label, env] of [["", {}], [" with call sites on", CALL_SITES]] as const) {
  Deno.test(`the first assertAllocations of a native fixture measures exactly its known sequence${label}`, async () => {
    const out = await firstCalls("native", env, nativeExact);
    assert.deepEqual(out.first, { passed: true }, out.first.message);
    assert.equal(out.tighter.passed, false);
    for (const run of out.tighter.runs ?? []) assert.deepEqual(pick(run, KNOWN_SEQUENCE), KNOWN_SEQUENCE);
    assert.equal(out.tighter.runs?.length, 2);
    assert.match(out.tighter.message ?? "", /allocCount 113 > maxCount 112/);
    if (label === "") {
      assert.match(out.tighter.message ?? "", /set MOD_ALLOC_BACKTRACES=1 to see the call sites/);
      return;
    }
    // Only the fixture's own three call sites, none of the profiler's JavaScript.
    const sites = out.tighter.sites ?? [];
    assert.deepEqual(sites.map((site) => site.allocCount).sort((a, b) => a - b), [3, 10, 100], out.tighter.message);
    for (const site of sites) assert.match(site.label, /fixture_known_sequence/);
    assert.doesNotMatch(out.tighter.message ?? "", /backtraces: true/);
  });
}

Deno.test("the first async assertAllocations of a process measures the fixture after an await exactly", async () => {
  const out = await firstCalls("async", {}, (out: BudgetOut) => out.first.passed && isKnown(out.tighter.stats));
  assert.deepEqual(out.first, { passed: true }, out.first.message);
  assert.equal(out.tighter.passed, false);
  assert.deepEqual(pick(out.tighter.stats, KNOWN_SEQUENCE), KNOWN_SEQUENCE, out.tighter.message);
});

Deno.test("the first Profiler.measure and the first using-scope of a process measure the native fixture exactly", async () => {
  const out = await firstCalls("profiler", {}, (out: ProfilerOut) => isKnown(out.measure) && isKnown(out.using));
  assert.deepEqual(pick(out.measure, KNOWN_SEQUENCE), KNOWN_SEQUENCE);
  assert.deepEqual(pick(out.using, KNOWN_SEQUENCE), KNOWN_SEQUENCE);
});

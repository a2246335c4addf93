// Exact from the first call: in a fresh process, the first measurement
// counts nothing of the profiler's own work (its JavaScript, its FFI calls,
// V8 compiling either). Each case runs in a child `deno run` of its own.
import assert from "node:assert/strict";
import type { ScopeStats } from "../mod.ts";
import { lastJson, runDeno, supportScript } from "./support/child.ts";
import { KNOWN_SEQUENCE } from "./support/fixture.ts";
import type { Outcome } from "./support/first_call_child.ts"; // a type only: the script does not run

async function firstCalls<T>(mode: string, env: Record<string, string> = {}): Promise<T> {
  const result = await runDeno([supportScript("first_call_child.ts"), mode], env);
  assert.equal(result.code, 0, result.stderr);
  return lastJson<T>(result);
}

/** The values of `stats` that `expected` names. */
function pick(stats: ScopeStats | undefined, expected: object): Record<string, number> {
  assert.ok(stats !== undefined);
  return Object.fromEntries(Object.keys(expected).map((key) => [key, stats[key as keyof ScopeStats]]));
}

const CALL_SITES = { MOD_ALLOC_BACKTRACES: "1", MOD_ALLOC_BUCKETS: "65536" };

Deno.test("the first assertAllocations of a process measures an empty function as 0 allocations and 0 bytes", async () => {
  const out = await firstCalls<{ first: Outcome; oneRun: Outcome }>("empty");
  assert.deepEqual(out.first, { passed: true }, out.first.message);
  assert.deepEqual(out.oneRun, { passed: true }, out.oneRun.message);
});

Deno.test("with call sites on, the first assertAllocations of an empty function is 0 too", async () => {
  const out = await firstCalls<{ first: Outcome; oneRun: Outcome }>("empty", CALL_SITES);
  assert.deepEqual(out.first, { passed: true }, out.first.message);
  assert.deepEqual(out.oneRun, { passed: true }, out.oneRun.message);
});

for (const [label, env] of [["", {}], [" with call sites on", CALL_SITES]] as const) {
  Deno.test(`the first assertAllocations of a native fixture measures exactly its known sequence${label}`, async () => {
    const out = await firstCalls<{ first: Outcome; tighter: Outcome }>("native", env);
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
  const out = await firstCalls<{ first: Outcome; tighter: Outcome }>("async");
  assert.deepEqual(out.first, { passed: true }, out.first.message);
  assert.equal(out.tighter.passed, false);
  assert.deepEqual(pick(out.tighter.stats, KNOWN_SEQUENCE), KNOWN_SEQUENCE, out.tighter.message);
});

Deno.test("the first Profiler.measure and the first using-scope of a process measure the native fixture exactly", async () => {
  const out = await firstCalls<{ measure: ScopeStats; using: ScopeStats }>("profiler");
  assert.deepEqual(pick(out.measure, KNOWN_SEQUENCE), KNOWN_SEQUENCE);
  assert.deepEqual(pick(out.using, KNOWN_SEQUENCE), KNOWN_SEQUENCE);
});

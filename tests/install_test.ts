// Run-time install in processes of their own: foreign pointers, uninstall,
// re-install.
import assert from "node:assert/strict";
import type { AllocStats, ScopeStats } from "../mod.ts";
import { lastJson, runDeno, supportScript } from "./support/child.ts";
import { assertCounts } from "./support/scenarios.ts";

Deno.test("a block allocated before install and freed after leaves the counters untouched", async () => {
  const result = await runDeno([supportScript("foreign_child.ts")]);
  const out = lastJson<Record<string, ScopeStats> & { mode: string; patchedSlots: number }>(result);
  assert.equal(out.mode, "runtime");
  assert.ok(out.patchedSlots > 0);
  assertCounts(out.free, { foreignCount: 1 });
});

Deno.test("realloc of a block from before install adopts the result as a new block", async () => {
  const result = await runDeno([supportScript("foreign_child.ts")]);
  const out = lastJson<Record<string, ScopeStats>>(result);
  assertCounts(out.realloc, { foreignCount: 1, allocCount: 1, totalBytes: 5000, currentBytes: 5000, liveCount: 1 });
  assertCounts(out.freeGrown, { freeCount: 1, currentBytes: -5000, liveCount: -1 });
});

Deno.test("install patches a library that was loaded before it", async () => {
  const result = await runDeno([supportScript("foreign_child.ts")]);
  const out = lastJson<Record<string, ScopeStats>>(result);
  assertCounts(out.fresh, { allocCount: 1, freeCount: 1, totalBytes: 64 });
});

interface UninstallOutput {
  installed: ScopeStats;
  slotsInstalled: number;
  uninstalled: ScopeStats;
  frozenBefore: AllocStats;
  frozenAfter: AllocStats;
  workResult: number;
  stateAfterUninstall: { installed: boolean; patchedSlots: number };
  reinstalled: ScopeStats;
  installedAgain: boolean;
}

Deno.test("after uninstall nothing is counted, the process keeps working, and install counts again", async () => {
  const result = await runDeno([supportScript("uninstall_child.ts")]);
  assert.equal(result.code, 0, result.stderr);
  const out = lastJson<UninstallOutput>(result);
  assertCounts(out.installed, { allocCount: 1, freeCount: 1, totalBytes: 100 });
  assert.ok(out.slotsInstalled > 0);
  assertCounts(out.uninstalled, {});
  assert.deepEqual(out.frozenAfter, out.frozenBefore);
  assert.equal(out.workResult, 5050);
  assert.deepEqual(out.stateAfterUninstall, { installed: false, patchedSlots: 0 });
  assertCounts(out.reinstalled, { allocCount: 1, freeCount: 1, totalBytes: 100 });
  assert.equal(out.installedAgain, true);
});

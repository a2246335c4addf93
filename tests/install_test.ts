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

Deno.test("a block shrunk by realloc while uninstalled and freed after reinstall gives back exactly its counted size", async () => {
  const result = await runDeno([supportScript("resize_uninstalled_child.ts")]);
  assert.equal(result.code, 0, result.stderr);
  const out = lastJson<{ allocated: ScopeStats; freed: ScopeStats; inPlace: boolean }>(result);
  // glibc shrinks in place: the chunk header the small map once read is now 32 bytes.
  assert.equal(out.inPlace, true);
  assertCounts(out.allocated, { allocCount: 1, totalBytes: 600, currentBytes: 600, liveCount: 1 });
  assertCounts(out.freed, { freeCount: 1, currentBytes: -600, liveCount: -1 });
});

const ZIG_OUT = new URL("../zig-out/", import.meta.url).pathname;
const INSTALL_RACE = `${ZIG_OUT}bin/test/install_race`;

async function installRace(args: string[]): Promise<{ code: number; out: Record<string, number>; stderr: string }> {
  const output = await new Deno.Command(INSTALL_RACE, {
    args,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000), // a deadlock fails the test instead of hanging the suite
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  assert.notEqual(stdout.trim(), "", `no output (exit ${output.code}, signal ${output.signal}): ${stderr}`);
  return { code: output.code, out: JSON.parse(stdout), stderr };
}

Deno.test("install racing another thread's dlopen neither crashes nor hangs, and counts a later library exactly", async () => {
  const { code, out, stderr } = await installRace([
    "race",
    `${ZIG_OUT}lib/libmod_alloc.so`,
    `${ZIG_OUT}lib/test/libdlopen_target.so`,
    "200",
  ]);
  assert.equal(code, 0, `${JSON.stringify(out)} ${stderr}`);
  assert.ok(out.loads >= 200 && out.rounds > 0, JSON.stringify(out));
  assert.equal(out.installFailures, 0);
  assert.equal(out.counted, 100);
});

Deno.test("an install that fails part way puts every slot back, counts nothing, and a retry fails the same way", async () => {
  const { code, out } = await installRace(["rollback", `${ZIG_OUT}lib/test/libmod_alloc_tiny_patch_table.so`]);
  // -1 patch_table_full twice (not "already installed"), nothing counted, 2 not_installed.
  assert.deepEqual(out, { first: -1, second: -1, counted: 0, uninstall: 2 });
  assert.equal(code, 0);
});

Deno.test("fork completes when fork handlers registered before install allocate, free and dlopen", async () => {
  const output = await new Deno.Command(`${ZIG_OUT}bin/test/fork_handlers`, {
    args: [`${ZIG_OUT}lib/libmod_alloc.so`, "20"],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000), // the old code hung here for good
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  assert.equal(
    output.code,
    0,
    `exit ${output.code}, signal ${output.signal}: ${stdout} ${new TextDecoder().decode(output.stderr)}`,
  );
  assert.deepEqual(JSON.parse(stdout), { forks: 20, clean: 20 });
});

// Tier 2: call sites of native and JS code, the full-table overflow row,
// and the settings' validation. Each runs in a child process of its own.
import assert from "node:assert/strict";
import { type CallSite, ModAlloc, OptionError, Profiler } from "../mod.ts";
import { lastJson, LIBRARY_PATH, runDeno, supportScript } from "./support/child.ts";

const FIXTURE_SOURCE = new URL("./fixture/fixture.c", import.meta.url).pathname;
const SITES_MAIN = new URL("../zig-out/bin/test/sites_main", import.meta.url).pathname;

function markerLine(marker: string): number {
  const lines = Deno.readTextFileSync(FIXTURE_SOURCE).split("\n");
  return lines.findIndex((line) => line.includes(marker)) + 1;
}

interface SitesOutput {
  a: CallSite[];
  b: CallSite[];
  nested: number;
  smallStacks: number;
  threadMain: CallSite[];
}

Deno.test("native call sites are grouped apart with exact counts and named from ELF and DWARF", async () => {
  const result = await runDeno([supportScript("sites_child.ts")]);
  const out = lastJson<SitesOutput>(result);
  assert.equal(out.a.length, 1, "fixture_alloc_a is one site");
  assert.equal(out.b.length, 1, "fixture_alloc_b is one site");
  const [a] = out.a;
  const [b] = out.b;
  assert.deepEqual([a.allocCount, a.totalBytes, a.freedCount, a.currentBytes], [100, 4800, 100, 0]);
  assert.deepEqual([b.allocCount, b.totalBytes, b.maxBlockBytes], [50, 200_000, 4000]);
  assert.equal(a.frames[0].symbol, "fixture_alloc_a");
  assert.equal(b.frames[0].symbol, "fixture_alloc_b");
  assert.match(a.frames[0].file ?? "", /tests\/fixture\/fixture\.c$/);
  assert.equal(a.frames[0].line, markerLine("SITE_A"));
  assert.equal(b.frames[0].line, markerLine("SITE_B"));
  assert.match(a.frames[0].module ?? "", /libmod_alloc_fixture\.so$/);
  assert.equal(a.label, `fixture_alloc_a ${a.frames[0].file}:${a.frames[0].line}:${a.frames[0].column}`);
});

Deno.test("threads with 16 KiB stacks are walked without a fault and their site counts every block", async () => {
  const result = await runDeno([supportScript("sites_child.ts")]);
  const out = lastJson<SitesOutput>(result);
  assert.equal(out.smallStacks, 0);
  const allocs = out.threadMain.reduce((sum, site) => sum + site.allocCount, 0);
  assert.equal(allocs, 4 * 2000);
});

interface JsOutput {
  kept: number;
  sites: Pick<CallSite, "label" | "totalBytes" | "allocCount" | "frames">[];
}

Deno.test("a JS function that allocates typed arrays is the top site, named with its file", async () => {
  const result = await runDeno([
    "--v8-flags=--perf-basic-prof,--interpreted-frames-native-stack,--logfile=/dev/null",
    supportScript("js_sites_child.ts"),
  ]);
  const out = lastJson<JsOutput>(result);
  const [top] = out.sites;
  assert.ok(top.totalBytes >= 40 * 256 * 1024, `top site has ${top.totalBytes} bytes`);
  assert.match(top.label, /^JS modAllocUniqueTypedArrayMaker /);
  const js = top.frames.find((frame) => frame.kind === "js");
  assert.equal(js?.symbol, "modAllocUniqueTypedArrayMaker");
  assert.match(js?.file ?? "", /tests\/support\/js_sites_child\.ts$/);
  assert.equal(typeof js?.line, "number");
});

interface SitesMainOutput {
  tier1: { allocCount: number; totalBytes: number };
  sites: { allocCount: number; totalBytes: number };
  sitesUsed: number;
  overflowEvents: number;
  overflowSites: number;
  buckets: number;
}

async function sitesMain(env: Record<string, string>, sites = 40) {
  const output = await new Deno.Command(SITES_MAIN, {
    args: [String(sites)],
    env: { MOD_ALLOC_BACKTRACES: "1", LD_PRELOAD: LIBRARY_PATH, ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: output.code,
    out: JSON.parse(new TextDecoder().decode(output.stdout)) as SitesMainOutput,
    stderr: new TextDecoder().decode(output.stderr),
  };
}

const FIBER_STACKS = new URL("../zig-out/bin/test/fiber_stacks", import.meta.url).pathname;

interface FiberOutput {
  bytesMade: number;
  threadAllocCount: number;
  threadTotalBytes: number;
  siteAllocCount: number;
}

async function fiberStacks(mode: string): Promise<FiberOutput> {
  const output = await new Deno.Command(FIBER_STACKS, {
    args: [mode],
    env: { MOD_ALLOC_BACKTRACES: "1", LD_PRELOAD: LIBRARY_PATH },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, `exit ${output.code} (signal ${output.signal}): ${stderr}`);
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

Deno.test("walks from ucontext fibers 11-113 MiB below the thread's stack, through a data frame pointer, do not fault", async () => {
  const out = await fiberStacks("fiber");
  // 3 fibers x 50 blocks on each of two threads, all with a call site.
  assert.ok(out.siteAllocCount >= 300, JSON.stringify(out));
  assert.ok(out.threadAllocCount >= 150, JSON.stringify(out));
});

Deno.test("a fiber stack partly unmapped since an earlier walk on it is not read from a stale range", async () => {
  const out = await fiberStacks("stale");
  assert.deepEqual(out, { bytesMade: 4850, threadAllocCount: 100, threadTotalBytes: 4850, siteAllocCount: 100 });
});

Deno.test("a signal handler on a 16 KiB sigaltstack allocates with call sites on, through a data frame pointer", async () => {
  const out = await fiberStacks("altstack");
  assert.deepEqual(out, { bytesMade: 9700, threadAllocCount: 200, threadTotalBytes: 9700, siteAllocCount: 200 });
});

Deno.test("a full site table folds new sites into the overflow row and the totals still equal Tier 1", async () => {
  // 40 recursion depths with 16 frames make 16 distinct sites; 15 fit.
  const { out } = await sitesMain({ MOD_ALLOC_BUCKETS: "16" });
  assert.equal(out.buckets, 16);
  assert.equal(out.sitesUsed, 15);
  assert.ok(out.overflowEvents > 0);
  assert.ok(out.overflowSites >= 1);
  assert.deepEqual(out.sites, out.tier1);
  assert.deepEqual(out.tier1, { allocCount: 40, totalBytes: 40 * 16 + (39 * 40) / 2 });
});

Deno.test("bad MOD_ALLOC_* values fall back to the defaults with one warning each", async () => {
  const { code, out, stderr } = await sitesMain({ MOD_ALLOC_BUCKETS: "lots", MOD_ALLOC_FRAMES: "-3" });
  assert.equal(code, 0);
  assert.equal(out.buckets, 4096);
  const warnings = stderr.trim().split("\n");
  assert.deepEqual(warnings, [
    'mod-alloc: MOD_ALLOC_FRAMES="-3" is not a whole number from 1 to 64; using 16.',
    'mod-alloc: MOD_ALLOC_BUCKETS="lots" is not a whole number from 16 to 1048576; using 4096.',
  ]);
  const off = await sitesMain({ MOD_ALLOC_BACKTRACES: "sometimes" });
  assert.match(
    off.stderr,
    /MOD_ALLOC_BACKTRACES="sometimes" is not 1\/true\/yes\/on or 0\/false\/no\/off; using off\./,
  );
  assert.equal(off.out.buckets, 0);
});

Deno.test("install options out of range are rejected with the allowed range", () => {
  assert.throws(() => ModAlloc.install({ frames: 0 }), OptionError);
  assert.throws(() => ModAlloc.install({ frames: 65 }), /"frames" must be a whole number from 1 to 64; got 65/);
  assert.throws(() => ModAlloc.install({ buckets: 8 }), /"buckets" must be a whole number from 16 to 1048576/);
  // @ts-expect-error: a wrong type on purpose
  assert.throws(() => ModAlloc.install({ backtraces: "yes" }), /"backtraces" must be true or false/);
});

Deno.test("callSites options are checked", () => {
  const alloc = ModAlloc.install();
  // @ts-expect-error: a wrong value on purpose
  assert.throws(() => alloc.callSites({ sortBy: "size" }), /sortBy must be one of totalBytes, allocCount/);
  assert.throws(() => alloc.callSites({ limit: -1 }), /limit must be a whole number/);
});

Deno.test("a profiler scope reports only the call sites it touched, with the scope's counts", async () => {
  const result = await runDeno([supportScript("scope_sites_child.ts")]);
  const out = lastJson<{ a: CallSite[]; b: CallSite[] }>(result);
  assert.equal(out.b.length, 0, "fixture_alloc_b ran before the scope");
  assert.equal(out.a.length, 1);
  assert.deepEqual([out.a[0].allocCount, out.a[0].totalBytes], [30, 30 * 48]);
});

Deno.test("Profiler.callSites needs call sites on, a callSites scope and a stopped profiler", () => {
  const profiler = Profiler.start();
  assert.throws(() => profiler.callSites(), /Profiler\.start\(\{ callSites: true \}\)/);
  profiler.stop();
});

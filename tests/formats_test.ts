// Other formats of a profile, each read back by its own tool or checked
// against its schema: pprof (go tool pprof), DevTools' .heapprofile, and
// the diff of two profiles with its CI verdict.
import assert from "node:assert/strict";
import { type DhatFile, type DhatSite, symbolizeDhat } from "../api/dhat.ts";
import { buildHeapProfile, type HeapProfileNode } from "../api/heap_profile.ts";
import { encodePprof } from "../api/pprof.ts";
import { diffProfiles, growthBreaches, parseGrowthLimit } from "../api/profile_diff.ts";
import { LIBRARY_PATH, supportScript } from "./support/child.ts";
import { hasCommand } from "./support/tools.ts";

const WORKLOAD = new URL("../zig-out/bin/test/dhat_workload", import.meta.url).pathname;

/** The workload's raw profile (`MOD_ALLOC_OUT`); `shortLived` sets one site's allocation count. */
async function rawWorkloadFile(dir: string, shortLived: number): Promise<string> {
  const raw = `${dir}/raw-${shortLived}.json`;
  const output = await new Deno.Command(WORKLOAD, {
    args: [String(shortLived)],
    env: { LD_PRELOAD: LIBRARY_PATH, MOD_ALLOC_OUT: raw, MOD_ALLOC_BACKTRACES: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  return raw;
}

/** The workload's profile, frames named. */
async function workloadProfile(dir: string, shortLived = 100): Promise<{ data: DhatFile; sites: DhatSite[] }> {
  const raw = await rawWorkloadFile(dir, shortLived);
  return symbolizeDhat(JSON.parse(await Deno.readTextFile(raw)) as DhatFile);
}

async function goPprof(args: string[]): Promise<string> {
  const output = await new Deno.Command("go", { args: ["tool", "pprof", ...args], stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  return text;
}

/** The GNU build id of an ELF file as `readelf -n` prints it. */
async function readelfBuildId(path: string): Promise<string> {
  const output = await new Deno.Command("readelf", { args: ["-n", path], stdout: "piped" }).output();
  const id = /Build ID: ([0-9a-f]+)/.exec(new TextDecoder().decode(output.stdout));
  assert.ok(id, `readelf found no build id in ${path}`);
  return id[1];
}

/** `flat` bytes of each function in `go tool pprof -top` output. */
function flatBytes(top: string): Map<string, number> {
  const rows = new Map<string, number>();
  for (const match of top.matchAll(/^\s*(\d+)B\s+\S+\s+\S+\s+\S+\s+\S+\s+(\S+)/gm)) {
    rows.set(match[2], (rows.get(match[2]) ?? 0) + Number(match[1]));
  }
  return rows;
}

Deno.test({
  name: "go tool pprof reads our pprof file with Go heap-profile sample types, functions, lines and build ids",
  ignore: !hasCommand("go") || !hasCommand("readelf"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "mod-alloc-pprof-" });
    try {
      const { sites } = await workloadProfile(dir);
      const path = `${dir}/heap.pb.gz`;
      await Deno.writeFile(path, encodePprof(sites, { comment: "dhat_workload" }));
      const alloc = await goPprof(["-top", "-unit=B", "-sample_index=alloc_space", path]);
      assert.match(alloc, /Type: alloc_space/);
      // The workload's designed sizes (tests/fixture/dhat_workload.c).
      const allocated = flatBytes(alloc);
      assert.equal(allocated.get("peak_block"), 100_000, alloc);
      assert.equal(allocated.get("kept_to_the_end"), 10_000, alloc);
      assert.equal(allocated.get("short_lived"), 6_400, alloc);
      const inuse = await goPprof(["-top", "-unit=B", path]);
      assert.match(inuse, /Type: inuse_space/); // Go's default sample type
      assert.match(inuse, /accounting for 5556B, 100% of 5556B total/);
      assert.equal(flatBytes(inuse).get("kept_to_the_end"), 5_000);
      const objects = await goPprof(["-top", "-sample_index=alloc_objects", path]);
      assert.match(objects, /^\s*100\s.*short_lived$/m);
      const lines = await goPprof(["-top", "-lines", "-unit=B", "-sample_index=alloc_space", path]);
      assert.match(lines, /kept_to_the_end .*dhat_workload\.c:22\b/);
      // Mappings carry the module's GNU build id, as binutils' readelf reads it from the same file.
      const raw = await goPprof(["-raw", path]);
      const libc = /^\d+: 0x[0-9a-f]+\/0x[0-9a-f]+\/0x[0-9a-f]+ (\S*\/libc\.so\.6) ([0-9a-f]+) /m.exec(raw);
      assert.ok(libc, `no libc mapping with a build id:\n${raw.slice(raw.indexOf("Mappings"))}`);
      assert.equal(libc[2], await readelfBuildId(libc[1]));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

function walk(node: HeapProfileNode, visit: (node: HeapProfileNode, depth: number) => void, depth = 0): void {
  visit(node, depth);
  for (const child of node.children) walk(child, visit, depth + 1);
}

Deno.test("a .heapprofile of a real Deno run puts native bytes under the JS function that caused them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mod-alloc-heapprofile-" });
  let pid = 0;
  try {
    const raw = `${dir}/raw.json`;
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--no-lock",
        "--v8-flags=--perf-basic-prof,--interpreted-frames-native-stack,--logfile=/dev/null",
        supportScript("heap_profile_child.ts"),
      ],
      env: { LD_PRELOAD: LIBRARY_PATH, MOD_ALLOC_OUT: raw, MOD_ALLOC_BACKTRACES: "1", MOD_ALLOC_FRAMES: "32" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    const file = JSON.parse(await Deno.readTextFile(raw)) as DhatFile;
    pid = file.pid;
    const { sites } = symbolizeDhat(file);
    const profile = buildHeapProfile(sites);
    // Schema: unique ids, every sample names a node, sizes add up to the profile's total.
    const ids = new Map<number, HeapProfileNode>();
    let selfTotal = 0;
    walk(profile.head, (node) => {
      assert.ok(!ids.has(node.id), `duplicate id ${node.id}`);
      ids.set(node.id, node);
      selfTotal += node.selfSize;
      assert.equal(typeof node.callFrame.functionName, "string");
      assert.ok(Number.isInteger(node.callFrame.lineNumber) && node.callFrame.lineNumber >= -1);
    });
    for (const sample of profile.samples) assert.ok(ids.has(sample.nodeId), `sample of unknown node ${sample.nodeId}`);
    const total = sites.reduce((sum, site) => sum + site.pp.tb, 0);
    assert.equal(selfTotal, total);
    assert.equal(profile.samples.reduce((sum, sample) => sum + sample.size, 0), total);
    // The JS function is a node, with at least its 24 x 128 KiB in its subtree.
    let maker: HeapProfileNode | undefined;
    walk(profile.head, (node) => {
      if (node.callFrame.functionName === "modAllocHeapProfileMaker") maker ??= node;
    });
    assert.ok(maker !== undefined, "no node for modAllocHeapProfileMaker");
    assert.match(maker.callFrame.url, /heap_profile_child\.ts$/);
    let below = 0;
    walk(maker, (node) => below += node.selfSize);
    assert.ok(below >= 24 * 128 * 1024, `${below} bytes under the function`);
    const text = JSON.stringify(profile);
    assert.deepEqual(Object.keys(JSON.parse(text)).sort(), ["head", "samples"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
    if (pid !== 0) await Deno.remove(`/tmp/perf-${pid}.map`).catch(() => {});
  }
});

Deno.test("the diff of two profiles names the grown site and fails CI above the growth limit", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mod-alloc-diff-" });
  try {
    const base = await workloadProfile(dir, 100);
    const next = await workloadProfile(dir, 200); // 100 more 64-byte blocks at short_lived
    const diff = diffProfiles(base, next);
    const [grown] = diff.rows;
    assert.match(grown.label, /short_lived/);
    assert.equal(grown.next.totalBytes - grown.base.totalBytes, 6_400);
    assert.equal(grown.next.allocCount - grown.base.allocCount, 100);
    assert.ok(diff.rows.slice(1).every((row) => row.next.totalBytes === row.base.totalBytes));
    assert.equal(diff.next.totalBytes - diff.base.totalBytes, 6_400);
    // +6,400 of 117,956 bytes is 5.4%; +100 of 156 allocations is 64%.
    assert.deepEqual(growthBreaches(diff, parseGrowthLimit("10KiB")), []);
    assert.equal(growthBreaches(diff, parseGrowthLimit("6399")).length, 1);
    assert.match(growthBreaches(diff, parseGrowthLimit("5%")).join("\n"), /total bytes grew from 117956 to 124356/);
    assert.match(growthBreaches(diff, parseGrowthLimit("50%")).join("\n"), /^allocations grew from 156 to 256/);
    assert.deepEqual(growthBreaches(diff, parseGrowthLimit("70%")), []);
    assert.deepEqual(growthBreaches(diffProfiles(base, base), parseGrowthLimit("0")), []);
    assert.throws(() => parseGrowthLimit("lots"), /expected a byte count .* or a percentage/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const CLI = new URL("../cli.ts", import.meta.url).pathname;

async function cli(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-lock", CLI, ...args],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: output.code, stdout: decoder.decode(output.stdout), stderr: decoder.decode(output.stderr) };
}

Deno.test("report --diff lists the grown site and --fail-on-growth sets the exit code for CI", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mod-alloc-diff-cli-" });
  try {
    const base = await rawWorkloadFile(dir, 100);
    const next = await rawWorkloadFile(dir, 200);
    const listed = await cli(["report", "--diff", base, next]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stderr, /total bytes\s+115\.2 KiB → 121\.4 KiB, \+6\.3 KiB \(\+5\.4%\)/);
    assert.match(listed.stderr, /\+6\.3 KiB\s+\+100 allocs\s+short_lived/);
    assert.equal(await Array.fromAsync(Deno.readDir(dir)).then((entries) => entries.length), 2, "nothing else written");
    const failed = await cli(["report", "--diff", base, "--fail-on-growth", "5%", next]);
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stderr, /FAIL: total bytes grew from 117956 to 124356/);
    const passed = await cli(["report", "--diff", base, "--fail-on-growth=10KiB", next]);
    assert.equal(passed.code, 0, passed.stderr);
    const unchanged = await cli(["report", "--diff", base, "--fail-on-growth", "0", base]);
    assert.equal(unchanged.code, 0, unchanged.stderr);
    const bad = await cli(["report", "--diff", base, "--fail-on-growth", "lots", next]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /expected a byte count/);
    const alone = await cli(["report", "--fail-on-growth", "5%", next]);
    assert.equal(alone.code, 2);
    assert.match(alone.stderr, /--fail-on-growth needs --diff/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "profile --pprof and --heapprofile write files their tools read, for a Deno script",
  ignore: !hasCommand("go"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "mod-alloc-formats-cli-" });
    try {
      const run = await cli([
        "-o",
        `${dir}/out.json`,
        "--pprof",
        `${dir}/out.pb.gz`,
        "--heapprofile",
        `${dir}/out.heapprofile`,
        supportScript("heap_profile_child.ts"),
      ]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /pprof: .*out\.pb\.gz/);
      const top = await goPprof(["-top", "-sample_index=alloc_space", `${dir}/out.pb.gz`]);
      assert.match(top, /JS modAllocHeapProfileMaker/);
      const profile = JSON.parse(await Deno.readTextFile(`${dir}/out.heapprofile`));
      let found = false;
      walk(profile.head, (node) => found ||= node.callFrame.functionName === "modAllocHeapProfileMaker");
      assert.ok(found, "the heap profile has a node for the JS function");
      const report = await cli([
        "report",
        "--pprof",
        `${dir}/again.pb.gz`,
        "-o",
        `${dir}/again.json`,
        `${dir}/out.json`,
      ]);
      assert.equal(report.code, 0, report.stderr);
      assert.match(
        await goPprof(["-top", "-sample_index=alloc_space", `${dir}/again.pb.gz`]),
        /JS modAllocHeapProfileMaker/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("the leak and peak views rank sites by bytes live at the end and at the global peak, in text and flame graph", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mod-alloc-views-" });
  try {
    const raw = await rawWorkloadFile(dir, 100);
    const leaks = await cli(["report", "--leaks", "-o", `${dir}/named.json`, "--flamegraph", `${dir}/end.html`, raw]);
    assert.equal(leaks.code, 0, leaks.stderr);
    assert.match(leaks.stderr, /top 2 rows .*by bytes live at the end:/);
    assert.match(leaks.stderr, /1\.\s+4\.9 KiB\s+25 allocs\s+1 sites\s+kept_to_the_end/);
    assert.match(leaks.stderr, /2\.\s+556 B\s+2 allocs\s+2 sites\s+aligned/);
    // The flame graph weighs the same bytes: only what is live at the end, 5,556 bytes in all.
    const folded = (await Deno.readTextFile(`${dir}/end.html.folded`)).trim().split("\n");
    assert.equal(folded.reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1)), 0), 5_556);
    assert.ok(folded.every((line) => /kept_to_the_end|aligned/.test(line)), folded.join("\n"));
    const page = await Deno.readTextFile(`${dir}/end.html`);
    assert.match(page, /<h2>Bytes live at the end: /);
    assert.match(page, /Width: <em id="measure-words">bytes live at the end<\/em>\./);
    const peak = await cli(["report", "--bytes=peak", "-o", `${dir}/named.json`, raw]);
    assert.equal(peak.code, 0, peak.stderr);
    assert.match(
      peak.stderr,
      /by bytes live at the global peak:\n\s+1\.\s+97\.7 KiB\s+1 allocs\s+1 sites\s+peak_block/,
    );
    assert.match(peak.stderr, /2\.\s+9\.8 KiB\s+50 allocs\s+1 sites\s+kept_to_the_end/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

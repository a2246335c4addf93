// Reports: a full site table is announced once on stderr, with the
// variable that raises it; grouping of call sites in process.
import assert from "node:assert/strict";
import { lastJson, LIBRARY_PATH, runDeno, supportScript } from "./support/child.ts";
import { hasCommand } from "./support/tools.ts";

Deno.test("a full site table is announced once on stderr, naming MOD_ALLOC_BUCKETS", async () => {
  // 16 entries, 40 distinct recursion depths: most sites overflow. The child reads the table twice.
  const full = await runDeno([supportScript("sites_child.ts"), "16", "16", "40"]);
  assert.equal(full.code, 0, full.stderr);
  const lines = full.stderr.split("\n").filter((line) => line.includes("call-site table is full"));
  assert.equal(lines.length, 1, full.stderr);
  assert.match(
    lines[0],
    /^mod-alloc: the call-site table is full \(16 entries\): \d+ allocations went into its overflow row/,
  );
  assert.match(lines[0], /Raise MOD_ALLOC_BUCKETS/);
  const roomy = await runDeno([supportScript("sites_child.ts"), "16", "262144", "40"]);
  assert.equal(roomy.code, 0, roomy.stderr);
  assert.doesNotMatch(roomy.stderr, /call-site table is full/);
});

/** A node program that compresses and hashes: thousands of distinct native stacks. */
const NODE_PROGRAM = `const zlib = require("zlib"); const crypto = require("crypto"); let n = 0;
for (let i = 0; i < 1000; i++) {
  const text = JSON.stringify({ i, data: "x".repeat(1000 + i), list: Array.from({ length: 50 }, (_, k) => k * i) });
  n += zlib.gzipSync(Buffer.from(text)).length + crypto.createHash("sha256").update(text).digest().length;
}
console.log(n);`;

/** A preloaded node run with `buckets` entries and 64 frames: its sites, and the share of allocations that overflowed. */
async function nodeSites(buckets: number, dir: string): Promise<{ sites: number; overflowShare: number }> {
  const out = `${dir}/node-${buckets}.json`;
  const run = await new Deno.Command("node", {
    args: ["-e", NODE_PROGRAM],
    env: {
      LD_PRELOAD: LIBRARY_PATH,
      MOD_ALLOC_BACKTRACES: "1",
      MOD_ALLOC_FRAMES: "64",
      MOD_ALLOC_BUCKETS: String(buckets),
      MOD_ALLOC_OUT: out,
    },
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(run.success, new TextDecoder().decode(run.stderr));
  const data = JSON.parse(await Deno.readTextFile(out)) as { pps: { tbk: number; fs: number[] }[]; ftbl: string[] };
  const overflow = data.pps.filter((pp) => pp.fs.some((index) => data.ftbl[index].startsWith("[mod-alloc overflow")));
  const count = (pps: { tbk: number }[]) => pps.reduce((sum, pp) => sum + pp.tbk, 0);
  return { sites: data.pps.length, overflowShare: count(overflow) / count(data.pps) };
}

Deno.test({
  name: "profile's table size (65536 entries, 64 frames) holds node's sites",
  ignore: !hasCommand("node"),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const { sites, overflowShare } = await nodeSites(65536, dir);
      assert.ok(sites > 4096, `${sites} sites: more than the raw default table holds`);
      assert.equal(overflowShare, 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

interface Row {
  label: string;
  kind: string;
  siteCount: number;
  totalBytes: number;
  allocCount: number;
}

Deno.test("callSites({ groupBy: 'function' }) merges a JS function's stacks into one row with the same totals", async () => {
  const result = await runDeno([
    "--v8-flags=--perf-basic-prof,--interpreted-frames-native-stack,--logfile=/dev/null",
    supportScript("grouping_child.ts"),
  ]);
  assert.equal(result.code, 0, result.stderr);
  const out = lastJson<{ stack: Row[]; function: Row[]; file: Row[]; package: Row[]; report: string }>(result);
  assert.ok(out.stack.length > 1, `${out.stack.length} stacks for one function`);
  assert.equal(out.function.length, 1, JSON.stringify(out.function));
  const [row] = out.function;
  const sum = (rows: Row[], field: "totalBytes" | "allocCount" | "siteCount") =>
    rows.reduce((total, site) => total + site[field], 0);
  assert.equal(row.kind, "js");
  assert.equal(row.siteCount, out.stack.length);
  assert.equal(row.totalBytes, sum(out.stack, "totalBytes"));
  assert.equal(row.allocCount, sum(out.stack, "allocCount"));
  // Not all 20,000: once compiled, V8 inlines it into its callers, whose rows then hold the rest.
  assert.ok(row.allocCount >= 1000, `${row.allocCount} allocations`);
  assert.match(row.label, /^JS groupingChildAllocator file:\/\/\/\S+grouping_child\.ts:\d+:\d+$/);
  // The file and package rows hold at least the function's bytes; the report groups by function.
  assert.equal(out.file.length, 1);
  assert.ok(out.file[0].totalBytes >= row.totalBytes);
  // Read later (reading allocates, at the file's top level): at least as much, one row for the file.
  assert.equal(out.package.length, 1);
  assert.ok(out.package[0].totalBytes >= out.file[0].totalBytes);
  assert.match(out.report, /JS groupingChildAllocator /);
  assert.match(out.report, /By bytes: [\d.]+% under a JS function of yours/);
});

// Reports: a full site table is announced once on stderr, with the
// variable that raises it; grouping of call sites in process.
import assert from "node:assert/strict";
import { LIBRARY_PATH, runDeno, supportScript } from "./support/child.ts";
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

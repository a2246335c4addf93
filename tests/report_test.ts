// Reports: a full site table is announced once on stderr, with the
// variable that raises it; grouping of call sites in process.
import assert from "node:assert/strict";
import { runDeno, supportScript } from "./support/child.ts";

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

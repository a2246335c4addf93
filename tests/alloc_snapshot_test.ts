// Allocation snapshots in a child `deno test`: record, pass, fail on growth,
// pass on shrink, fail when missing.
import assert from "node:assert/strict";
import { runDenoCommand } from "./support/child.ts";

const MOD = new URL("../mod.ts", import.meta.url).href;

function workTest(): string {
  return `import { assertAllocationSnapshot } from "${MOD}";
const arrays = Number(Deno.env.get("SNAPSHOT_ARRAYS"));
const kept: Uint8Array[] = [];
Deno.test("builds buffers", async (t) => {
  await assertAllocationSnapshot(t, () => {
    for (let i = 0; i < arrays; i++) kept.push(new Uint8Array(256 * 1024));
  });
});
`;
}

Deno.test("an allocation snapshot is recorded, then growth fails the test and a shrink passes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mod-alloc-snapshot-" });
  try {
    await Deno.writeTextFile(`${dir}/work_test.ts`, workTest());
    const run = (arrays: number, ...extra: string[]) =>
      runDenoCommand("test", [`${dir}/work_test.ts`, ...extra], { SNAPSHOT_ARRAYS: String(arrays) });
    const missing = await run(4);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stdout + missing.stderr, /No allocation snapshot "builds buffers"/);
    const recorded = await run(4, "--", "--update");
    assert.equal(recorded.code, 0, recorded.stdout + recorded.stderr);
    const file = JSON.parse(await Deno.readTextFile(`${dir}/__snapshots__/work_test.ts.alloc.json`));
    const snapshot = file.snapshots["builds buffers"];
    assert.ok(snapshot.allocCount >= 4 && snapshot.totalBytes >= 4 * 256 * 1024, JSON.stringify(snapshot));
    assert.equal((await run(4)).code, 0);
    // The figures are the smallest of five runs: recording again gives the same ones.
    assert.equal((await run(4, "--", "--update")).code, 0);
    const again = JSON.parse(await Deno.readTextFile(`${dir}/__snapshots__/work_test.ts.alloc.json`));
    assert.deepEqual(again.snapshots["builds buffers"], snapshot);
    const grown = await run(8);
    assert.notEqual(grown.code, 0);
    assert.match(grown.stdout + grown.stderr, /Allocation snapshot "builds buffers" grew: \d+ → \d+ allocations/);
    assert.equal((await run(2)).code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

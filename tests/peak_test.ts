// One peak for everything: the DHAT header's peak is what dh_view sums
// from the program points, and the counters' peak is within the stated
// bound of it (peak.zig: 64 KiB per live thread).
import assert from "node:assert/strict";
import { LIBRARY_PATH } from "./support/child.ts";

const BENCH = new URL("../zig-out/bin/malloc_bench", import.meta.url).pathname;
const FLUSH_BYTES = 64 * 1024;

interface Header {
  modAlloc: {
    peakBytes: number;
    peakBlocks: number;
    countersPeakBytes: number;
    peakDriftBytes: number;
    threadNames: string[];
  };
  pps: { gb: number; gbk: number; thread: number }[];
}

Deno.test("with 4 allocating threads, the DHAT header's peak equals the program points' t-gmax sum, and each point names its thread", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/out.json`;
    const run = await new Deno.Command(BENCH, {
      args: ["4", "200000", "1024"],
      env: { LD_PRELOAD: LIBRARY_PATH, MOD_ALLOC_BACKTRACES: "1", MOD_ALLOC_OUT: out },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
    const file = JSON.parse(await Deno.readTextFile(out)) as Header;
    const sum = (field: "gb" | "gbk") => file.pps.reduce((total, pp) => total + pp[field], 0);
    assert.equal(file.modAlloc.peakBytes, sum("gb"));
    assert.equal(file.modAlloc.peakBlocks, sum("gbk"));
    assert.equal(file.modAlloc.peakDriftBytes, FLUSH_BYTES);
    // The counters chose the peak moment: within 64 KiB per live thread
    // (4 workers and the main thread) of the sites' bytes then.
    const difference = Math.abs(file.modAlloc.countersPeakBytes - file.modAlloc.peakBytes);
    assert.ok(
      difference <= 5 * FLUSH_BYTES,
      `counters ${file.modAlloc.countersPeakBytes}, sites ${file.modAlloc.peakBytes}`,
    );
    assert.ok(file.modAlloc.peakBytes > 4 * 1024 * 16, "four windows of live blocks");
    // Each program point names the thread that allocated there.
    assert.equal(file.modAlloc.threadNames[0], "unknown");
    assert.ok(file.modAlloc.threadNames.includes("malloc_bench"), JSON.stringify(file.modAlloc.threadNames));
    for (const pp of file.pps) assert.ok(pp.thread >= 0 && pp.thread < file.modAlloc.threadNames.length);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

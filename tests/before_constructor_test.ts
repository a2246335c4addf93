// Allocations made before the library's constructor runs (issue 16): under
// LD_PRELOAD other libraries' constructors allocate first — libstdc++'s
// 72,704-byte emergency exception pool in every C++ program. With call
// sites on, the DHAT file (which sums its program points) must count them
// as the call-sites-off run does.
import assert from "node:assert/strict";
import { LIBRARY_PATH } from "./support/child.ts";
import { hasCommand } from "./support/tools.ts";

const CPP_SOURCE = new URL("./fixture/cpp_program.cpp", import.meta.url).pathname;
/** libstdc++'s emergency exception-handling pool (libsupc++ eh_alloc.cc, GCC 12). */
const EMERGENCY_POOL_BYTES = 72_704;

interface Totals {
  totalBlocks: number;
  totalBytes: number;
  endBytes: number;
  endBlocks: number;
}

/** Runs `command` under preload with call sites on or off; the DHAT file's totals and its program points' sizes. */
async function profile(command: string[], sites: boolean, dir: string) {
  const out = `${dir}/out-${sites ? "sites" : "tier1"}.json`;
  const output = await new Deno.Command(command[0], {
    args: command.slice(1),
    env: { LD_PRELOAD: LIBRARY_PATH, MOD_ALLOC_OUT: out, MOD_ALLOC_BACKTRACES: sites ? "1" : "0" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const report = JSON.parse(await Deno.readTextFile(out));
  const { totalBlocks, totalBytes, endBytes, endBlocks } = report.modAlloc;
  const pointBytes: number[] = report.pps.map((point: { tb: number }) => point.tb);
  return { totals: { totalBlocks, totalBytes, endBytes, endBlocks } as Totals, pointBytes, points: report.pps };
}

/** Profiles the program `prepare` names (made in a scratch directory) with call sites off, then on. */
async function checkSameTotals(prepare: (dir: string) => Promise<string[]>) {
  const dir = await Deno.makeTempDir({ prefix: "mod-alloc-before-constructor-" });
  try {
    const command = await prepare(dir);
    const tier1 = await profile(command, false, dir);
    const sites = await profile(command, true, dir);
    // The old library left the pool and the other early blocks out of the
    // call-sites file: 217 vs 218 blocks, 28,846 vs 101,550 bytes here.
    assert.deepEqual(sites.totals, tier1.totals);
    const sum = sites.pointBytes.reduce((total, bytes) => total + bytes, 0);
    assert.equal(sum, tier1.totals.totalBytes);
    // The pool has a program point of its own, with frames.
    const pool = sites.points.find((point: { tb: number; fs: number[] }) => point.tb === EMERGENCY_POOL_BYTES);
    assert.ok(pool !== undefined, `no ${EMERGENCY_POOL_BYTES}-byte program point: ${sites.pointBytes.join(", ")}`);
    assert.ok(pool.fs.length >= 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "a C++ program's pre-constructor allocations are in the call-sites report as in the Tier 1 totals",
  ignore: !hasCommand("g++"),
  async fn() {
    await checkSameTotals(async (dir) => {
      const program = `${dir}/cpp_program`;
      const built = await new Deno.Command("g++", {
        args: ["-std=c++17", "-O1", "-g", "-fno-omit-frame-pointer", "-o", program, CPP_SOURCE],
        stderr: "piped",
      }).output();
      assert.equal(built.code, 0, new TextDecoder().decode(built.stderr));
      return [program];
    });
  },
});

Deno.test({
  name: "a Debian C++ binary (apt-config dump) has the same totals with call sites on and off",
  ignore: !hasCommand("apt-config"),
  async fn() {
    await checkSameTotals(() => Promise.resolve(["apt-config", "dump"]));
  },
});

// A signal handler that allocates on a thread while the profiler holds one
// of its locks there (issue 16) must not deadlock: the test build of the
// library raises SIGUSR1 at every lock it takes (core/test_probes.zig) and
// the fixture's handler allocates; hooks, thread claim and release, fork
// handlers, all-threads reads and the report writer are each exercised.
import assert from "node:assert/strict";

const ZIG_OUT = new URL("../zig-out/", import.meta.url).pathname;
const PROGRAM = `${ZIG_OUT}bin/test/signal_in_locks`;
const TEST_LIBRARY = `${ZIG_OUT}lib/test/libmod_alloc_test.so`;

interface Phases {
  hooks: number;
  threads: number;
  fork: number;
  reads: number;
  forks: number;
  clean: number;
  written: number;
}

async function run(args: string[], env: Record<string, string>): Promise<Phases> {
  const output = await new Deno.Command(PROGRAM, {
    args,
    env,
    stdout: "piped",
    stderr: "piped",
    // The old library deadlocked in its fork prepare handler (the handler's
    // malloc spun on a live-table shard its own thread held): killed here.
    signal: AbortSignal.timeout(60_000),
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const detail = `exit ${output.code}, signal ${output.signal}: ${stdout} ${new TextDecoder().decode(output.stderr)}`;
  assert.equal(output.code, 0, detail);
  const phases: Phases = JSON.parse(stdout);
  // Every phase had signals delivered with a lock held.
  for (const phase of ["hooks", "threads", "fork", "reads"] as const) {
    assert.ok(phases[phase] > 0, `${phase}: ${detail}`);
  }
  assert.equal(phases.clean, phases.forks);
  return phases;
}

for (const [name, env] of [["call sites off", {}], ["call sites on", { MOD_ALLOC_BACKTRACES: "1" }]] as const) {
  Deno.test(`a signal handler that allocates while a lock is held never deadlocks, under preload (${name})`, async () => {
    await run(["preload"], { LD_PRELOAD: TEST_LIBRARY, ...env });
  });
}

Deno.test("a signal handler that allocates while a lock is held never deadlocks, installed at run time", async () => {
  await run(["runtime", TEST_LIBRARY], {});
});

Deno.test("a release library has no signal probe", async () => {
  const output = await new Deno.Command(PROGRAM, {
    args: ["runtime", `${ZIG_OUT}lib/libmod_alloc.so`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 4);
  assert.match(new TextDecoder().decode(output.stderr), /not the test build/);
});

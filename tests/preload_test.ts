// The same exact scenarios as counters_test.ts, in a child deno started
// with the library in LD_PRELOAD: install attaches to the preloaded
// instance, which has counted since process start.
import assert from "node:assert/strict";
import { lastJson, LIBRARY_PATH, runDeno, supportScript } from "./support/child.ts";
import { scenarios } from "./support/scenarios.ts";

interface Summary {
  mode: string;
  countedBeforeFirstInstall: number;
  passed: number;
  failures: string[];
}

Deno.test("preload: every scenario counts exactly and install attaches in preload mode", async () => {
  const result = await runDeno([supportScript("run_scenarios.ts")], { LD_PRELOAD: LIBRARY_PATH });
  const summary = lastJson<Summary>(result);
  assert.deepEqual(summary.failures, []);
  assert.equal(summary.passed, scenarios.length);
  assert.equal(summary.mode, "preload");
  assert.equal(result.code, 0, result.stderr);
});

Deno.test("preload: allocations from process start are counted before install", async () => {
  const result = await runDeno([supportScript("run_scenarios.ts")], { LD_PRELOAD: LIBRARY_PATH });
  const summary = lastJson<Summary>(result);
  // Deno's start-up makes thousands of native allocations.
  assert.ok(summary.countedBeforeFirstInstall > 1000, `counted ${summary.countedBeforeFirstInstall}`);
});

Deno.test("preload: a program that is not Deno runs unchanged", async () => {
  const plain = await new Deno.Command("sh", { args: ["-c", "ls / | sort | head -5; echo done"] }).output();
  const preloaded = await new Deno.Command("sh", {
    args: ["-c", "ls / | sort | head -5; echo done"],
    env: { LD_PRELOAD: LIBRARY_PATH },
  }).output();
  assert.equal(preloaded.code, plain.code);
  assert.deepEqual(preloaded.stdout, plain.stdout);
  assert.deepEqual(preloaded.stderr, plain.stderr);
});

Deno.test("preload: children neither inherit the library nor its variables, and leave no report of their own", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const output = await new Deno.Command("sh", {
      args: ["-c", 'env | grep -E "^(LD_PRELOAD|MOD_ALLOC_[A-Z_]+)=" | cut -d= -f1 | sort | tr "\\n" " "; /bin/true'],
      env: { LD_PRELOAD: LIBRARY_PATH, MOD_ALLOC_OUT: `${dir}/out-%p.json`, MOD_ALLOC_BACKTRACES: "1" },
      stdout: "piped",
    }).output();
    assert.equal(output.code, 0);
    assert.equal(new TextDecoder().decode(output.stdout).trim(), "", "no variable reached the children");
    const files = [...Deno.readDirSync(dir)].map((entry) => entry.name);
    assert.equal(files.length, 1, `one report, the shell's: ${files}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("preload: MOD_ALLOC_FOLLOW_CHILDREN=1 profiles the children too, each into its own %p file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const output = await new Deno.Command("sh", {
      args: ["-c", "/bin/true; /bin/true; exit 0"],
      env: { LD_PRELOAD: LIBRARY_PATH, MOD_ALLOC_OUT: `${dir}/out-%p.json`, MOD_ALLOC_FOLLOW_CHILDREN: "1" },
    }).output();
    assert.equal(output.code, 0);
    assert.equal([...Deno.readDirSync(dir)].length, 3, "the shell and its two children");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// What the library says on stderr about the report it writes at exit
// under LD_PRELOAD: call sites that did not fit the table, and a Go
// program, which exits without running exit handlers.
import assert from "node:assert/strict";
import { LIBRARY_PATH } from "./support/child.ts";
import { hasCommand } from "./support/tools.ts";

const SITES_MAIN = new URL("../zig-out/bin/test/sites_main", import.meta.url).pathname;
const GO_FIXTURE = new URL("./fixture/go_cgo/", import.meta.url).pathname;

async function run(program: string, args: string[], env: Record<string, string>) {
  const output = await new Deno.Command(program, { args, env, stdout: "piped", stderr: "piped" }).output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

Deno.test("a full call-site table is announced once at exit, with the variable that makes room", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mod-alloc-exit-" });
  try {
    const env = { LD_PRELOAD: LIBRARY_PATH, MOD_ALLOC_BACKTRACES: "1", MOD_ALLOC_OUT: `${dir}/out.json` };
    const full = await run(SITES_MAIN, ["40"], { ...env, MOD_ALLOC_BUCKETS: "16" });
    assert.equal(full.code, 0, full.stderr);
    const lines = full.stderr.split("\n").filter((line) => line.includes("did not fit the call-site table"));
    assert.equal(lines.length, 1, full.stderr);
    assert.match(
      lines[0],
      /^mod-alloc: \d+ allocations did not fit the call-site table \(16 buckets\).*MOD_ALLOC_BUCKETS/,
    );
    const roomy = await run(SITES_MAIN, ["40"], { ...env, MOD_ALLOC_BUCKETS: "4096" });
    assert.equal(roomy.code, 0, roomy.stderr);
    assert.doesNotMatch(roomy.stderr, /did not fit/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "a Go program under MOD_ALLOC_OUT is told at start that no report can be written at exit",
  ignore: !hasCommand("go") || !hasCommand("cc"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "mod-alloc-go-" });
    try {
      const built = await new Deno.Command("go", {
        args: ["build", "-o", `${dir}/gocgo`, "."],
        cwd: GO_FIXTURE, // go build needs the fixture's module
        env: { CGO_ENABLED: "1", GOTOOLCHAIN: "local" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(built.code, 0, new TextDecoder().decode(built.stderr));
      const ran = await run(`${dir}/gocgo`, [], { LD_PRELOAD: LIBRARY_PATH, MOD_ALLOC_OUT: `${dir}/out.json` });
      assert.equal(ran.code, 0, ran.stderr);
      assert.match(ran.stdout, /cgo ok/);
      assert.match(ran.stderr, /mod-alloc: this is a Go program: .*no MOD_ALLOC_OUT report/);
      // A C program is not mistaken for one.
      const c = await run(SITES_MAIN, ["4"], { LD_PRELOAD: LIBRARY_PATH, MOD_ALLOC_OUT: `${dir}/c.json` });
      assert.doesNotMatch(c.stderr, /Go program/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

const SMALL_STACK_EXIT = new URL("../zig-out/bin/test/small_stack_exit", import.meta.url).pathname;

for (
  const [mode, how, code] of [["thread", "exit() on a thread with a 16 KiB stack", 7], [
    "altstack",
    "_exit() from a handler on a 16 KiB sigaltstack",
    9,
  ]] as const
) {
  Deno.test(`${how} writes the report and keeps the exit code`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "mod-alloc-small-stack-" });
    try {
      const out = `${dir}/out.json`;
      const ran = await run(SMALL_STACK_EXIT, [mode], {
        LD_PRELOAD: LIBRARY_PATH,
        MOD_ALLOC_OUT: out,
        MOD_ALLOC_BACKTRACES: "1",
      });
      assert.equal(ran.code, code, ran.stderr); // the old writer's 30 KiB of stack buffers faulted: 139
      const report = JSON.parse(await Deno.readTextFile(out));
      assert.ok(report.modAlloc.totalBlocks >= 100, JSON.stringify(report.modAlloc));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

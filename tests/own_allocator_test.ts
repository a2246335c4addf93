// A program that brings its own allocator (issue 16): under LD_PRELOAD the
// library must not crash it, must say once that it cannot see those
// allocations, and must not write a report of zero blocks as if all was well.
import assert from "node:assert/strict";
import { LIBRARY_PATH } from "./support/child.ts";

const OWN_ALLOCATOR = new URL("../zig-out/bin/test/own_allocator", import.meta.url).pathname;
const SITES_MAIN = new URL("../zig-out/bin/test/sites_main", import.meta.url).pathname;
const WARNING = /^mod-alloc: the program defines its own malloc .*cannot see.*no report is written/;

async function run(program: string, args: string[], env: Record<string, string> = {}) {
  const output = await new Deno.Command(program, { args, env, stdout: "piped", stderr: "piped" }).output();
  const decoder = new TextDecoder();
  return { code: output.code, stdout: decoder.decode(output.stdout), stderr: decoder.decode(output.stderr) };
}

for (const [tier, extra] of [["call sites off", {}], ["call sites on", { MOD_ALLOC_BACKTRACES: "1" }]] as const) {
  Deno.test(`an executable with its own malloc runs as it does plainly under preload (${tier}), told once on stderr`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "mod-alloc-own-allocator-" });
    try {
      const plain = await run(OWN_ALLOCATOR, ["200"]);
      assert.equal(plain.code, 0, plain.stderr);
      const expected = JSON.parse(plain.stdout);
      assert.equal(expected.reallocarrayOk, true, plain.stdout);
      const out = `${dir}/out.json`;
      const profiled = await run(OWN_ALLOCATOR, ["200"], { LD_PRELOAD: LIBRARY_PATH, MOD_ALLOC_OUT: out, ...extra });
      // The old library handed the program's block to glibc's realloc: abort (134).
      assert.equal(profiled.code, 0, profiled.stderr);
      assert.deepEqual(JSON.parse(profiled.stdout), expected);
      const lines = profiled.stderr.split("\n").filter((line) => line.startsWith("mod-alloc:"));
      assert.equal(lines.length, 1, profiled.stderr);
      assert.match(lines[0], WARNING);
      // No report that would say "0 blocks" as if nothing was allocated.
      await assert.rejects(Deno.stat(out), Deno.errors.NotFound);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("a program on glibc's malloc is not mistaken for one with its own allocator", async () => {
  const result = await run(SITES_MAIN, ["4"], { LD_PRELOAD: LIBRARY_PATH, MOD_ALLOC_BACKTRACES: "1" });
  assert.equal(result.code, 0, result.stderr);
  assert.doesNotMatch(result.stderr, /own malloc/);
  assert.equal(JSON.parse(result.stdout).tier1.allocCount, 4);
});

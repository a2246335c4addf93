// The profile command: the README's main job, pass-through of output and
// exit codes, reports on failure, and bad usage.
import assert from "node:assert/strict";
import type { DhatFile } from "../api/dhat.ts";
import { runDeno } from "./support/child.ts";
import { hasCommand, screenshot } from "./support/tools.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const TARGETS = new URL("./support/profile_targets/", import.meta.url).pathname;
const DEMO = new URL("../examples/profile_demo.ts", import.meta.url).pathname;

function profile(args: string[]) {
  return runDeno([CLI, ...args]);
}

Deno.test("the example's report names its JS functions, with a DHAT file and a flame graph", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const result = await profile(["-o", `${dir}/out.json`, "--flamegraph", `${dir}/fg.html`, "--top", "15", DEMO]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^decoded 32 frames, indexed 3000 words, rendered \d+ bytes\n$/);
    for (const name of ["decodeFrames", "buildSearchIndex", "renderReport"]) {
      assert.match(result.stderr, new RegExp(`allocs {2}JS .*${name}`), `summary names ${name}`);
    }
    assert.match(result.stderr, /total\s+\d+ allocations/);
    const data = JSON.parse(await Deno.readTextFile(`${dir}/out.json`)) as DhatFile;
    assert.equal(data.dhatFileVersion, 2);
    assert.ok(data.ftbl.some((entry) => entry.includes(": JS decodeFrames (file://")));
    const folded = await Deno.readTextFile(`${dir}/fg.html.folded`);
    assert.match(folded, /JS decodeFrames file:\/\/.*profile_demo\.ts:\d+:\d+.* \d+\n/);
    const html = await Deno.readTextFile(`${dir}/fg.html`);
    assert.match(html, /<svg [^>]*width="1200"/);
    assert.match(html, /<title>JS decodeFrames /);
    // Self-contained: nothing is fetched or run at view time.
    assert.doesNotMatch(html, /<script|\b(src|href)=/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a script that throws: its output and exit code pass through and the report is still written", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const result = await profile(["-o", `${dir}/out.json`, `${TARGETS}throws.ts`]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "stdout line, 4 buffers\n");
    assert.match(result.stderr, /^stderr line\n/);
    assert.match(result.stderr, /deliberate failure/);
    assert.match(result.stderr, /profile of .*throws\.ts \(exit code 1\)/);
    assert.match(result.stderr, /allocs {2}JS .*allocateBeforeThrowing/);
    assert.ok((await Deno.stat(`${dir}/out.json`)).size > 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Deno.exit(3) passes through, and so do script arguments and deno run flags", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const result = await profile([
      "-o",
      `${dir}/out.json`,
      "--allow-read",
      "--no-js",
      `${TARGETS}exits.ts`,
      "a",
      "--b",
    ]);
    assert.equal(result.code, 3);
    assert.equal(result.stdout, "args: a,--b; 524288 bytes\n");
    assert.match(result.stderr, /exit code 3/);
    const data = JSON.parse(await Deno.readTextFile(`${dir}/out.json`)) as DhatFile;
    // --no-js: no perf map, so no frame is named as JS.
    assert.ok(!data.ftbl.some((entry) => entry.includes(": JS ")));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bad usage is refused with a message and exit code 2, before the script runs", async () => {
  const noScript = await profile([]);
  assert.equal(noScript.code, 2);
  assert.match(noScript.stderr, /profile: no script to profile\.\n\nusage: deno task profile/);
  const unknown = await profile(["--frobnicate", DEMO]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown option --frobnicate/);
  const frames = await profile(["--frames", "99", DEMO]);
  assert.match(frames.stderr, /--frames needs a whole number from 1 to 64; got "99"/);
  const unwritable = await profile(["-o", "/nonexistent-dir/out.json", DEMO]);
  assert.equal(unwritable.code, 2);
  assert.match(unwritable.stderr, /cannot write the output file \/nonexistent-dir\/out\.json/);
  assert.equal(unwritable.stdout, "", "the script did not run");
  const help = await profile(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--flamegraph <file>/);
});

Deno.test({
  name: "the flame graph renders in headless Chromium",
  ignore: !hasCommand("chromium"),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const result = await profile(["-o", `${dir}/out.json`, "--flamegraph", `${dir}/fg.html`, DEMO]);
      assert.equal(result.code, 0);
      await screenshot(`file://${dir}/fg.html`, `${dir}/fg.png`);
      const png = await Deno.readFile(`${dir}/fg.png`);
      assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
      assert.ok(png.length > 10_000, `screenshot of ${png.length} bytes`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

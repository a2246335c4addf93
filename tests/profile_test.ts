// The profile command end to end: the README's main job, pass-through of
// output and exit codes, any command (deno test, python3 …), paths, Ctrl-C,
// children and bad usage.
import assert from "node:assert/strict";
import { LIBRARY_PATH } from "./support/child.ts";
import { inTempDir, profile, readDhat, TARGETS } from "./support/profile_cli.ts";
import { hasCommand, screenshot } from "./support/tools.ts";

const DEMO = new URL("../examples/profile_demo.ts", import.meta.url).pathname;

Deno.test("the example's report names its JS functions, with a DHAT file and a flame graph", async () => {
  await inTempDir(async (dir) => {
    const result = await profile(["-o", `${dir}/out.json`, "--flamegraph", `${dir}/fg.html`, "--top", "15", DEMO]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^decoded 32 frames, indexed 3000 words, rendered \d+ bytes\n$/);
    for (const name of ["decodeFrames", "buildSearchIndex", "renderReport"]) {
      assert.match(result.stderr, new RegExp(`allocs\\s+(\\d+ sites\\s+)?JS .*${name}`), `summary names ${name}`);
    }
    assert.match(result.stderr, /total\s+\d+ allocations/);
    const data = readDhat(`${dir}/out.json`);
    assert.equal(data.dhatFileVersion, 2);
    assert.ok(data.ftbl.some((entry) => entry.includes(": JS decodeFrames (file://")));
    const folded = await Deno.readTextFile(`${dir}/fg.html.folded`);
    assert.match(folded, /JS decodeFrames file:\/\/.*profile_demo\.ts:\d+:\d+.* \d+\n/);
    const html = await Deno.readTextFile(`${dir}/fg.html`);
    assert.match(html, /<script type="application\/json" id="flame-data">.*"JS decodeFrames /);
    // Self-contained: one inline script, nothing fetched at view time.
    assert.doesNotMatch(html, /\b(src|href)=|<link|@import|url\(/);
    // Private: reports hold the command line and the memory map.
    for (const file of ["out.json", "fg.html", "fg.html.folded"]) {
      assert.equal(Deno.statSync(`${dir}/${file}`).mode! & 0o777, 0o600, file);
    }
  });
});

Deno.test("a script that throws: its output and exit code pass through and the report is still written", async () => {
  await inTempDir(async (dir) => {
    const result = await profile(["-o", `${dir}/out.json`, `${TARGETS}throws.ts`]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "stdout line, 4 buffers\n");
    assert.match(result.stderr, /^stderr line\n/);
    assert.match(result.stderr, /deliberate failure/);
    assert.match(result.stderr, /profile of .*throws\.ts \(exit code 1\)/);
    assert.match(result.stderr, /allocs\s+(\d+ sites\s+)?JS .*allocateBeforeThrowing/);
    assert.ok((await Deno.stat(`${dir}/out.json`)).size > 0);
  });
});

Deno.test("Deno.exit(3) passes through, and so do script arguments and deno run flags (--opt=value too)", async () => {
  await inTempDir(async (dir) => {
    const result = await profile([
      `--output=${dir}/out.json`,
      "--frames=8",
      "--allow-read",
      "--conditions=production",
      "--no-js",
      `${TARGETS}exits.ts`,
      "a",
      "--b",
    ]);
    assert.equal(result.code, 3, result.stderr);
    assert.equal(result.stdout, "args: a,--b; 524288 bytes\n");
    assert.match(result.stderr, /exit code 3/);
    const data = readDhat(`${dir}/out.json`);
    // --no-js: no perf map, so no frame is named as JS.
    assert.ok(!data.ftbl.some((entry) => entry.includes(": JS ")));
    assert.ok(data.pps.every((pp) => pp.fs.length <= 8), "--frames=8 bounds every stack");
  });
});

Deno.test("deno test runs under the profiler: its result passes through and its test code is named", async () => {
  await inTempDir(async (dir) => {
    Deno.writeTextFileSync(
      `${dir}/alloc_test.ts`,
      `function allocateInTest(): Uint8Array { return new Uint8Array(1 << 20); }
Deno.test("passes", () => { if (allocateInTest().length === 0) throw new Error("no"); });
Deno.test("fails", () => { throw new Error("deliberate"); });
`,
    );
    const result = await profile(["-o", "out.json", "--top", "40", "deno", "test", "--no-check", "alloc_test.ts"], {
      cwd: dir,
    });
    assert.equal(result.code, 1, "the failing test's exit code passes through");
    assert.match(result.stdout, /1 passed \| 1 failed/);
    assert.match(result.stderr, /profile of deno test --no-check alloc_test\.ts \(exit code 1\)/);
    const data = readDhat(`${dir}/out.json`);
    assert.ok(data.modAlloc!.totalBlocks > 1000);
    assert.ok(data.ftbl.some((entry) => entry.includes("JS allocateInTest")), "the test's JS frame is named");
  });
});

Deno.test("python3 runs under the profiler, through any launcher, with its exit code", async () => {
  await inTempDir(async (dir) => {
    const result = await profile([
      "-o",
      `${dir}/py.json`,
      "python3",
      "-c",
      "import sys; blocks = [bytearray(4000) for _ in range(2000)]; print(len(blocks)); sys.exit(4)",
    ]);
    assert.equal(result.code, 4, result.stderr);
    assert.equal(result.stdout, "2000\n");
    assert.match(result.stderr, /profile of python3 -c .* \(exit code 4\)/);
    const data = readDhat(`${dir}/py.json`);
    assert.ok(data.modAlloc!.totalBytes > 2000 * 4000, `${data.modAlloc!.totalBytes} bytes`);
    assert.match(data.cmd, /python3.* -c import sys/);
  });
});

Deno.test({
  name: "node runs under the profiler with its exit code",
  ignore: !hasCommand("node"),
  async fn() {
    await inTempDir(async (dir) => {
      const result = await profile([
        "-o",
        `${dir}/node.json`,
        "node",
        "-e",
        "const kept = Buffer.alloc(1 << 20); console.log(kept.length); process.exitCode = 5",
      ]);
      assert.equal(result.code, 5, result.stderr);
      assert.equal(result.stdout, "1048576\n");
      assert.ok(readDhat(`${dir}/node.json`).modAlloc!.totalBytes >= 1 << 20);
    });
  },
});

Deno.test("deno task and deno bench run under the profiler", async () => {
  await inTempDir(async (dir) => {
    Deno.writeTextFileSync(`${dir}/deno.json`, JSON.stringify({ tasks: { hello: "echo hello from task" } }));
    Deno.writeTextFileSync(`${dir}/b_bench.ts`, `Deno.bench("alloc", () => { new Uint8Array(4096); });`);
    const task = await profile(["-o", "task.json", "deno", "task", "hello"], { cwd: dir });
    assert.equal(task.code, 0, task.stderr);
    assert.match(task.stdout, /hello from task/);
    assert.match(task.stderr, /add --follow-children to profile them/);
    assert.ok(readDhat(`${dir}/task.json`).modAlloc!.totalBlocks > 0);
    const bench = await profile(["-o", "bench.json", "deno", "bench", "--no-check", "b_bench.ts"], { cwd: dir });
    assert.equal(bench.code, 0, bench.stderr);
    assert.match(bench.stdout, /alloc/);
    assert.ok(readDhat(`${dir}/bench.json`).modAlloc!.totalBlocks > 0);
  });
});

Deno.test("-o out-%p.json is expanded by the command to the program's pid, with nothing left beside it", async () => {
  await inTempDir(async (dir) => {
    const result = await profile(["-o", `${dir}/out-%p.json`, "--no-js", `${TARGETS}exits.ts`]);
    assert.equal(result.code, 3, result.stderr);
    const files = [...Deno.readDirSync(dir)].map((entry) => entry.name);
    assert.equal(files.length, 1, `files: ${files}`);
    assert.match(files[0], /^out-\d+\.json$/);
    assert.equal(readDhat(`${dir}/${files[0]}`).pid, Number(/\d+/.exec(files[0])![0]));
  });
});

Deno.test("a relative -o is resolved where the command started, even if the script changes directory", async () => {
  await inTempDir(async (dir) => {
    Deno.mkdirSync(`${dir}/start`);
    Deno.mkdirSync(`${dir}/elsewhere`);
    const result = await profile([
      "-o",
      "rel.json",
      "--no-js",
      "--allow-read",
      `${TARGETS}chdir.ts`,
      `${dir}/elsewhere`,
    ], {
      cwd: `${dir}/start`,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(readDhat(`${dir}/start/rel.json`).modAlloc!.totalBlocks > 0);
    assert.deepEqual([...Deno.readDirSync(`${dir}/elsewhere`)], [], "nothing written where the script went");
  });
});

Deno.test("a library path with a space is preloaded whole: the script is profiled", async () => {
  await inTempDir(async (dir) => {
    Deno.mkdirSync(`${dir}/with space`);
    Deno.copyFileSync(LIBRARY_PATH, `${dir}/with space/libmod_alloc.so`);
    const result = await profile(["-o", `${dir}/out.json`, "--no-js", `${TARGETS}exits.ts`], {
      env: { MOD_ALLOC_LIB: `${dir}/with space/libmod_alloc.so` },
    });
    assert.equal(result.code, 3, result.stderr);
    assert.doesNotMatch(result.stderr, /cannot be preloaded/);
    assert.ok(readDhat(`${dir}/out.json`).modAlloc!.totalBlocks > 1000);
  });
});

Deno.test("a profiled script that uses the module attaches to the preloaded library", async () => {
  await inTempDir(async (dir) => {
    const result = await profile(["-o", `${dir}/out.json`, "--no-js", "-A", `${TARGETS}installs.ts`]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "mode preload, counting since start: true\n");
  });
});

/**
 * Starts the command in its own session (so the test can signal its
 * process group, as a terminal's Ctrl-C does) and waits until its output
 * matches `ready`.
 */
async function startServer(args: string[], ready: RegExp) {
  const child = new Deno.Command("setsid", {
    args: [Deno.execPath(), "run", "-A", "--no-lock", new URL("../cli.ts", import.meta.url).pathname, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = { stdout: "", stderr: "" };
  const pump = async (stream: ReadableStream<Uint8Array>, key: "stdout" | "stderr") => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) output[key] += chunk;
  };
  const drained = Promise.all([pump(child.stdout, "stdout"), pump(child.stderr, "stderr")]);
  let exited = false;
  child.status.then(() => exited = true);
  // A guard against a hang, not a timing assertion.
  const deadline = Date.now() + 60_000;
  while (!ready.test(output.stdout + output.stderr)) {
    if (exited || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`never ready:\n${output.stdout}\n${output.stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { child, output, drained };
}

async function finish(server: Awaited<ReturnType<typeof startServer>>) {
  const status = await server.child.status;
  await server.drained;
  return { status, stdout: server.output.stdout, stderr: server.output.stderr };
}

Deno.test({
  name: "Ctrl-C on a profiled server: the report is written, exit 130, and no perf map is left in /tmp",
  ignore: !hasCommand("setsid"),
  async fn() {
    await inTempDir(async (dir) => {
      const server = await startServer(["-o", `${dir}/server.json`, `${TARGETS}server.ts`], /listening/);
      assert.match(server.output.stdout, /listening \(pid (\d+), perf map in \/tmp: false\)/);
      const pid = Number(/pid (\d+)/.exec(server.output.stdout)![1]);
      await new Promise((resolve) => setTimeout(resolve, 300));
      // A terminal's Ctrl-C: SIGINT to the whole foreground process group.
      Deno.kill(-server.child.pid, "SIGINT");
      const { status, stderr } = await finish(server);
      assert.equal(status.code, 130, stderr);
      assert.match(stderr, /profile of .*server\.ts \(exit code 130\)/);
      const data = readDhat(`${dir}/server.json`);
      assert.ok(data.ftbl.some((entry) => entry.includes("JS handleTick")), "JS frames named after Ctrl-C");
      assert.throws(() => Deno.statSync(`/tmp/perf-${pid}.map`));
    });
  },
});

Deno.test({
  name: "deno serve under the profiler: a request, then Ctrl-C, and its handler is in the report",
  ignore: !hasCommand("setsid"),
  async fn() {
    await inTempDir(async (dir) => {
      const server = await startServer(
        ["-o", `${dir}/serve.json`, "deno", "serve", "--port=0", `${TARGETS}serve.ts`],
        /Listening on http:\/\/[^:]+:\d+/,
      );
      const port = /Listening on http:\/\/[^:]+:(\d+)/.exec(server.output.stderr)![1];
      const page = await (await fetch(`http://127.0.0.1:${port}/`)).text();
      assert.equal(page.length, 100_000);
      Deno.kill(-server.child.pid, "SIGINT");
      const { status, stderr } = await finish(server);
      // deno serve either shuts down gracefully (exit 0) or dies of the signal (130), depending on when it lands.
      assert.ok(status.code === 0 || status.code === 130, stderr);
      assert.match(stderr, new RegExp(`profile of deno serve --port=0 .*serve\\.ts \\(exit code ${status.code}\\)`));
      assert.ok(readDhat(`${dir}/serve.json`).ftbl.some((entry) => entry.includes("JS renderPage")), stderr);
    });
  },
});

Deno.test({
  name: "SIGTERM sent to the command alone is passed on: report written, exit 143",
  ignore: !hasCommand("setsid"),
  async fn() {
    await inTempDir(async (dir) => {
      const server = await startServer(["-o", `${dir}/server.json`, "--no-js", `${TARGETS}server.ts`], /listening/);
      Deno.kill(server.child.pid, "SIGTERM");
      const { status, stderr } = await finish(server);
      assert.equal(status.code, 143, stderr);
      assert.ok(readDhat(`${dir}/server.json`).modAlloc!.totalBlocks > 0);
    });
  },
});

Deno.test({
  name: "a plain C program stopped by SIGTERM writes its report from the library's handler; exec keeps the profile",
  ignore: !hasCommand("setsid"),
  async fn() {
    await inTempDir(async (dir) => {
      // sh execs sleep: the same process, so still the profiled one.
      const server = await startServer(["-o", `${dir}/sleep.json`, "sh", "-c", "echo ready; exec sleep 30"], /ready/);
      Deno.kill(server.child.pid, "SIGTERM");
      const { status, stderr } = await finish(server);
      assert.equal(status.code, 143, stderr);
      assert.match(readDhat(`${dir}/sleep.json`).cmd, /^sleep 30/);
    });
  },
});

Deno.test("children are not profiled by default: they see no LD_PRELOAD or MOD_ALLOC_* and leave no file", async () => {
  await inTempDir(async (dir) => {
    const result = await profile(["-o", `${dir}/out.json`, "--no-js", "--allow-run", `${TARGETS}spawns.ts`]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "child saw: []\n");
    assert.deepEqual([...Deno.readDirSync(dir)].map((entry) => entry.name), ["out.json"]);
    assert.doesNotMatch(result.stderr, /child process/);
  });
});

Deno.test("--allow-run=<list> works under the profiler (Deno refuses LD_PRELOAD for a restricted run)", async () => {
  await inTempDir(async (dir) => {
    const result = await profile(["-o", `${dir}/out.json`, "--no-js", "--allow-run=sh", `${TARGETS}spawns.ts`]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "child saw: []\n");
  });
});

Deno.test("--follow-children profiles each child into its own file and the summary lists them", async () => {
  await inTempDir(async (dir) => {
    const result = await profile([
      "-o",
      `${dir}/out.json`,
      "--follow-children",
      "--no-js",
      "--allow-run",
      `${TARGETS}spawns.ts`,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /child saw: \[LD_PRELOAD MOD_ALLOC_/);
    const children = [...Deno.readDirSync(dir)].map((entry) => entry.name).filter((name) => name !== "out.json");
    assert.ok(children.length >= 2, `sh and its children: ${children}`);
    for (const name of children) {
      assert.match(name, /^out-\d+\.json$/);
      assert.match(result.stderr, new RegExp(`pid \\d+: .*${name}`));
      assert.ok(readDhat(`${dir}/${name}`).modAlloc !== undefined);
    }
    assert.match(result.stderr, /\d+ child process(es)?:/);
  });
});

// By number: dash's kill takes numbers for real-time signals (34 is SIGRTMIN, 64 SIGRTMAX), which Deno does not name.
const SIGNALS: [string, number][] = [
  ["HUP", 1],
  ["QUIT", 3],
  ["TRAP", 5],
  ["USR1", 10],
  ["ALRM", 14],
  ["KILL", 9],
  ["34", 34],
  ["64", 64],
];

Deno.test("a program killed by any signal gives exit code 128+N", async () => {
  await inTempDir(async (dir) => {
    for (const [name, number] of SIGNALS) {
      const result = await profile(["-o", `${dir}/out.json`, "sh", "-c", `ulimit -c 0; kill -s ${name} $$`]);
      assert.equal(result.code, 128 + number, `SIG${name}: ${result.stderr}`);
    }
  });
});

Deno.test("outputs that cannot work are refused before the program runs, with exit code 2", async () => {
  await inTempDir(async (dir) => {
    const script = `${dir}/s.ts`;
    Deno.writeTextFileSync(script, `console.log("ran");\n`);
    const cases: [string[], RegExp][] = [
      [["-o", script, script], /the output file .*s\.ts is also the script/],
      [["-o", `${dir}/x`, "--flamegraph", `${dir}/x`, script], /the flame graph .*x is also the output file/],
      [["-o", "", script], /-o needs a non-empty value/],
      [["--output=", script], /--output needs a non-empty value/],
      [["-o", "/", script], /is a directory/],
      [["-o", ".", script], /is a directory/],
      [["-o", dir, script], /is a directory/],
      [["-o", "/nonexistent-dir/out.json", script], /cannot write the output file \/nonexistent-dir\/out\.json/],
    ];
    for (const [args, message] of cases) {
      const result = await profile(args, { cwd: dir });
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.equal(result.stdout, "", `${args.join(" ")}: the script did not run`);
    }
    assert.equal(Deno.readTextFileSync(script), `console.log("ran");\n`, "the script is intact");
  });
});

Deno.test("bad usage is refused with a message and exit code 2; --help and --version answer", async () => {
  const noScript = await profile([]);
  assert.equal(noScript.code, 2);
  assert.match(noScript.stderr, /profile: no script or command to profile\.\n\nusage: deno task profile/);
  const unknown = await profile(["--frobnicate", "python3", "-c", "print(1)"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown option --frobnicate/);
  const frames = await profile(["--frames", "99", DEMO]);
  assert.match(frames.stderr, /--frames needs a whole number from 1 to 64; got "99"/);
  const framesEquals = await profile(["--frames=0", DEMO]);
  assert.match(framesEquals.stderr, /--frames needs a whole number from 1 to 64; got "0"/);
  const missing = await profile(["no-such-command-here"]);
  assert.equal(missing.code, 127);
  assert.match(missing.stderr, /no-such-command-here: command not found/);
  const help = await profile(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--flamegraph <file>/);
  assert.match(help.stdout, /--follow-children/);
  const version = await profile(["--version"]);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^mod-alloc \d+\.\d+\.\d+ \(deno \d+\.\d+\.\d+\)\n$/);
});

Deno.test({
  name: "the flame graph renders in headless Chromium",
  ignore: !hasCommand("chromium"),
  async fn() {
    await inTempDir(async (dir) => {
      const result = await profile(["-o", `${dir}/out.json`, "--flamegraph", `${dir}/fg.html`, DEMO]);
      assert.equal(result.code, 0);
      await screenshot(`file://${dir}/fg.html`, `${dir}/fg.png`);
      const png = await Deno.readFile(`${dir}/fg.png`);
      assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
      assert.ok(png.length > 10_000, `screenshot of ${png.length} bytes`);
    });
  },
});

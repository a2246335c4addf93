// `profile report`: names raw files from any program, regenerates outputs
// from an existing profile, refuses hostile input with a ReportError, and
// reads a perf map only for a process that asked for one, only if it is a
// regular file of this user.
import assert from "node:assert/strict";
import { finishDhatFile, ReportError } from "../mod.ts";
import { LIBRARY_PATH } from "./support/child.ts";
import { MINIMAL_DHAT } from "./support/dhat_sample.ts";
import { asNobody, canActAsNobody, inTempDir, profile, readDhat } from "./support/profile_cli.ts";

const WORKLOAD = new URL("../zig-out/bin/test/dhat_workload", import.meta.url).pathname;

/** A raw file written by the library in a plain C program (not Deno). */
async function rawFromWorkload(dir: string): Promise<string> {
  const raw = `${dir}/raw.json`;
  const output = await new Deno.Command(WORKLOAD, {
    env: { LD_PRELOAD: LIBRARY_PATH, MOD_ALLOC_OUT: raw, MOD_ALLOC_BACKTRACES: "1" },
    stdout: "null",
  }).output();
  assert.equal(output.code, 0);
  return raw;
}

Deno.test("report names a raw MOD_ALLOC_OUT file of a C program and writes the DHAT file and flame graph", async () => {
  await inTempDir(async (dir) => {
    const raw = await rawFromWorkload(dir);
    assert.ok(readDhat(raw).ftbl.some((frame) => /^0x[0-9a-f]+$/.test(frame)), "raw frames before");
    const result = await profile(["report", "-o", `${dir}/named.json`, `--flamegraph=${dir}/fg.html`, raw]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /report of .*dhat_workload/);
    assert.match(result.stderr, /top \d+ rows \(grouped by function; [^)]*\), by bytes:/);
    const named = readDhat(`${dir}/named.json`);
    assert.ok(named.ftbl.some((frame) => frame.includes("dhat_workload.c:")), "frames named with DWARF lines");
    assert.match(Deno.readTextFileSync(`${dir}/fg.html.folded`), /main/);
    // Again from the named file: the same sites, the same text.
    const again = await profile(["report", "-o", `${dir}/named.json`, `${dir}/named.json`]);
    assert.equal(again.code, 0, again.stderr);
    // A DHAT file keeps file:line of native frames (as valgrind writes them), not the column.
    const siteLines = (text: string) =>
      text.split("\n").filter((line) => /^\s+\d+\. /.test(line)).map((line) => line.replace(/(:\d+):\d+$/, "$1"));
    assert.ok(siteLines(result.stderr).length > 0);
    assert.deepEqual(siteLines(again.stderr), siteLines(result.stderr));
  });
});

Deno.test("argv that is not UTF-8 is escaped: the raw file and the named one are valid JSON", async () => {
  await inTempDir(async (dir) => {
    const raw = `${dir}/raw.json`;
    // A shell passes bytes that are not UTF-8, as a user's file name might be.
    const output = await new Deno.Command("sh", {
      args: ["-c", `exec "$0" "$(printf 'caf\\351 \\377')"`, WORKLOAD],
      env: { LD_PRELOAD: LIBRARY_PATH, MOD_ALLOC_OUT: raw, MOD_ALLOC_BACKTRACES: "1" },
      stdout: "null",
    }).output();
    assert.equal(output.code, 0);
    const text = new TextDecoder("utf-8", { fatal: true }).decode(Deno.readFileSync(raw));
    const data = JSON.parse(text);
    assert.match(data.cmd, /caf\\xE9 \\xFF/);
    const result = await profile(["report", "-o", `${dir}/named.json`, raw]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(readDhat(`${dir}/named.json`).cmd, /caf\\xE9/);
  });
});

const BASE = MINIMAL_DHAT;

Deno.test("hostile or truncated input to report gets a ReportError naming what is wrong, exit 1", async () => {
  await inTempDir(async (dir) => {
    const cases: [string, RegExp][] = [
      ["", /not valid JSON .*truncated/],
      [JSON.stringify(BASE).slice(0, 40), /not valid JSON .*truncated/],
      ["[1,2]", /it is not a JSON object/],
      ["null", /it is not a JSON object/],
      [JSON.stringify({ ...BASE, dhatFileVersion: 1 }), /dhatFileVersion is 1, not 2/],
      [JSON.stringify({ ...BASE, pps: "x" }), /pps is not an array/],
      [JSON.stringify({ ...BASE, ftbl: [1] }), /ftbl\[0\] is not a string/],
      [
        JSON.stringify({ ...BASE, pps: [{ ...BASE.pps[0], fs: [7] }] }),
        /pps\[0\]\.fs\[0\] is 7, not an index into ftbl/,
      ],
      [JSON.stringify({ ...BASE, pps: [{ ...BASE.pps[0], tb: "many" }] }), /pps\[0\]\.tb is not a count/],
      [JSON.stringify({ ...BASE, pps: [null] }), /pps\[0\] is not an object/],
      [JSON.stringify({ ...BASE, modAlloc: { maps: 5 } }), /modAlloc\.maps is not a string/],
      [JSON.stringify({ ...BASE, pid: "1; rm -rf /" }), /pid is not an integer/],
    ];
    for (const [text, message] of cases) {
      Deno.writeTextFileSync(`${dir}/in.json`, text);
      const result = await profile(["report", "-o", `${dir}/out.json`, `${dir}/in.json`]);
      assert.equal(result.code, 1, `${text.slice(0, 60)}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.doesNotMatch(result.stderr, /TypeError|at .*\.ts:\d+/, "a message, not a stack trace");
      assert.throws(() => finishDhatFile(`${dir}/in.json`, `${dir}/out.json`), ReportError);
    }
    // A file too big to hold as a string is refused before it is read.
    const big = Deno.openSync(`${dir}/big.json`, { write: true, create: true });
    big.truncateSync(1 << 30);
    big.close();
    const result = await profile(["report", `${dir}/big.json`]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /big\.json is 1073741824 bytes, more than the \d+ this reader takes/);
    // A FIFO as input is refused, not read (reading it would wait forever).
    assert.ok(new Deno.Command("mkfifo", { args: [`${dir}/fifo.json`] }).outputSync().success);
    const fifo = await profile(["report", `${dir}/fifo.json`], { timeoutMs: 20_000 });
    assert.equal(fifo.code, 1, fifo.stderr);
    assert.match(fifo.stderr, /fifo\.json is not a regular file/);
    Deno.removeSync(`${dir}/fifo.json`);
    const missing = await profile(["report", `${dir}/none.json`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /none\.json does not exist/);
    const usage = await profile(["report"]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /report takes one file; got 0/);
    assert.deepEqual([...Deno.readDirSync(dir)].map((entry) => entry.name).sort(), ["big.json", "in.json"]);
  });
});

/** A raw file whose one frame is JIT code (outside any mapped file), as process `pid` ran `cmd`. */
function jitRaw(path: string, pid: number, cmd: string) {
  Deno.writeTextFileSync(
    path,
    JSON.stringify({ ...BASE, pid, cmd, ftbl: ["[root]", "0x7000"], modAlloc: { maps: "" } }),
  );
}

// A pid no process has: the test plants files under its name in /tmp.
const FAKE_PID = 4_000_000 + Math.floor(Math.random() * 100_000);

Deno.test("report reads no perf map for a process that did not ask for one (a stale or planted map)", async () => {
  await inTempDir(async (dir) => {
    const map = `/tmp/perf-${FAKE_PID}.map`;
    Deno.writeTextFileSync(map, "0 ffffffffffff JS:~plantedName file:///evil.js:1:1\n");
    try {
      jitRaw(`${dir}/raw.json`, FAKE_PID, "/usr/bin/python3 app.py");
      const result = await profile(["report", "-o", `${dir}/out.json`, `${dir}/raw.json`]);
      assert.equal(result.code, 0, result.stderr);
      assert.ok(!readDhat(`${dir}/out.json`).ftbl.some((frame) => frame.includes("plantedName")));
      // Named explicitly, it is read.
      const explicit = await profile(["report", "-o", `${dir}/out.json`, `--perf-map=${map}`, `${dir}/raw.json`]);
      assert.equal(explicit.code, 0, explicit.stderr);
      assert.ok(readDhat(`${dir}/out.json`).ftbl.some((frame) => frame.includes("plantedName")));
      // The same map is used when the process asked for it.
      jitRaw(`${dir}/raw.json`, FAKE_PID, "deno run --v8-flags=--perf-basic-prof app.ts");
      const asked = await profile(["report", "-o", `${dir}/out.json`, `${dir}/raw.json`]);
      assert.equal(asked.code, 0, asked.stderr);
      assert.ok(readDhat(`${dir}/out.json`).ftbl.some((frame) => frame.includes("plantedName")));
    } finally {
      Deno.removeSync(map);
    }
  });
});

Deno.test({
  name: "a perf map planted by another user (a FIFO or a file) is neither opened nor trusted: no hang, no names",
  ignore: !canActAsNobody(),
  async fn() {
    await inTempDir(async (dir) => {
      const map = `/tmp/perf-${FAKE_PID + 1}.map`;
      jitRaw(`${dir}/raw.json`, FAKE_PID + 1, "deno run --v8-flags=--perf-basic-prof app.ts");
      try {
        asNobody(["mkfifo", map]);
        const fifo = await profile(["report", "-o", `${dir}/out.json`, `${dir}/raw.json`], { timeoutMs: 20_000 });
        assert.equal(fifo.signal, null, "the report step did not hang on the FIFO");
        assert.equal(fifo.code, 0, fifo.stderr);
        Deno.removeSync(map);
        asNobody(["sh", "-c", `echo "0 ffffffffffff JS:~plantedName file:///evil.js:1:1" > ${map}`]);
        const planted = await profile(["report", "-o", `${dir}/out.json`, `${dir}/raw.json`]);
        assert.equal(planted.code, 0, planted.stderr);
        assert.ok(!readDhat(`${dir}/out.json`).ftbl.some((frame) => frame.includes("plantedName")));
      } finally {
        Deno.removeSync(map);
      }
    });
  },
});

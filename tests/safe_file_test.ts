// Every writer (the library at exit, writeDhat, writeAdHocDhat, the
// profile command) goes through one rule: a random exclusive staging file
// (never a planted symlink), mode 0600, devices written in place, FIFOs
// and directories refused, never replaced.
import assert from "node:assert/strict";
import { writeAdHocDhat } from "../mod.ts";
import { refusalOf, targetKind, writeFileSafely } from "../api/safe_file.ts";
import { ReportError } from "../types/errors.ts";
import { LIBRARY_PATH, runDeno, supportScript } from "./support/child.ts";
import { asNobody, canActAsNobody, inTempDir, profile, readDhat } from "./support/profile_cli.ts";

const WORKLOAD = new URL("../zig-out/bin/test/dhat_workload", import.meta.url).pathname;

/** A sticky, world-writable directory (as /tmp) and a root-only victim file outside it. */
async function sharedDirectory(fn: (shared: string, victim: string) => void | Promise<void>) {
  await inTempDir(async (dir) => {
    const shared = `${dir}/shared`;
    Deno.mkdirSync(shared);
    Deno.chmodSync(dir, 0o755);
    Deno.chmodSync(shared, 0o1777);
    const victim = `${dir}/victim`;
    Deno.writeTextFileSync(victim, "secret", { mode: 0o600 });
    await fn(shared, victim);
  });
}

function assertPrivateReport(path: string) {
  const info = Deno.lstatSync(path);
  assert.ok(info.isFile, `${path} is a regular file`);
  assert.equal(info.mode! & 0o777, 0o600);
  assert.equal(readDhat(path).dhatFileVersion, 2);
}

function assertLinksUntouched(shared: string, victim: string) {
  assert.equal(Deno.readTextFileSync(victim), "secret", "the victim is not overwritten");
  for (const entry of Deno.readDirSync(shared)) {
    if (entry.name === "out.json" || entry.name === "adhoc.json") continue;
    assert.ok(entry.isSymlink, `only the planted links are left: ${entry.name}`);
  }
}

Deno.test({
  name: "the library's writer never follows a symlink planted by another user in a sticky directory",
  ignore: !canActAsNobody(),
  async fn() {
    await sharedDirectory(async (shared, victim) => {
      // The shell plants links under its own pid, then execs the workload,
      // which keeps the pid and writes the report at exit.
      const plant = ["tmp", "raw"].map((suffix) =>
        `setpriv --reuid=65534 --regid=65534 --clear-groups ln -s ${victim} ${shared}/out.json.${suffix}-$$`
      ).join("; ");
      const output = await new Deno.Command("sh", {
        args: ["-c", `${plant}; exec ${WORKLOAD}`],
        env: { LD_PRELOAD: LIBRARY_PATH, MOD_ALLOC_OUT: `${shared}/out.json`, MOD_ALLOC_BACKTRACES: "1" },
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
      assertLinksUntouched(shared, victim);
      assertPrivateReport(`${shared}/out.json`);
    });
  },
});

Deno.test({
  name: "writeDhat never follows a symlink planted by another user in a sticky directory",
  ignore: !canActAsNobody(),
  async fn() {
    await sharedDirectory(async (shared, victim) => {
      const result = await runDeno([supportScript("write_dhat_planted_child.ts"), shared, victim]);
      assert.equal(result.code, 0, result.stderr);
      assertLinksUntouched(shared, victim);
      assertPrivateReport(`${shared}/out.json`);
    });
  },
});

Deno.test({
  name: "writeAdHocDhat never follows a symlink planted by another user in a sticky directory",
  ignore: !canActAsNobody(),
  async fn() {
    await sharedDirectory((shared, victim) => {
      asNobody(["ln", "-s", victim, `${shared}/adhoc.json.tmp-${Deno.pid}`]);
      writeAdHocDhat(`${shared}/adhoc.json`);
      assertLinksUntouched(shared, victim);
      assertPrivateReport(`${shared}/adhoc.json`);
    });
  },
});

function mkfifo(path: string) {
  assert.ok(new Deno.Command("mkfifo", { args: [path] }).outputSync().success);
}

Deno.test("a FIFO as MOD_ALLOC_OUT or writeAdHocDhat target is refused, not replaced, and nothing hangs", async () => {
  await inTempDir(async (dir) => {
    const fifo = `${dir}/fifo`;
    mkfifo(fifo);
    const output = await new Deno.Command(WORKLOAD, {
      env: { LD_PRELOAD: LIBRARY_PATH, MOD_ALLOC_OUT: fifo },
      stdout: "null",
      stderr: "piped",
      signal: AbortSignal.timeout(20_000),
    }).output();
    assert.equal(output.code, 0);
    assert.match(
      new TextDecoder().decode(output.stderr),
      /MOD_ALLOC_OUT=.*fifo \(it is a FIFO, socket or block device/,
    );
    assert.ok(Deno.lstatSync(fifo).isFifo, "still a FIFO after the library");
    assert.throws(() => writeAdHocDhat(fifo), (error) => error instanceof ReportError && /FIFO/.test(error.message));
    assert.ok(Deno.lstatSync(fifo).isFifo, "still a FIFO after writeAdHocDhat");
    assert.deepEqual([...Deno.readDirSync(dir)].map((entry) => entry.name), ["fifo"], "no staging file left");
  });
});

Deno.test({
  name: "a device node target is written in place, never replaced by a regular file",
  ignore: Deno.uid() !== 0,
  async fn() {
    await inTempDir(async (dir) => {
      const device = `${dir}/null`;
      assert.ok(new Deno.Command("mknod", { args: ["-m", "666", device, "c", "1", "3"] }).outputSync().success);
      const output = await new Deno.Command(WORKLOAD, {
        env: { LD_PRELOAD: LIBRARY_PATH, MOD_ALLOC_OUT: device },
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(output.code, 0);
      assert.equal(new TextDecoder().decode(output.stderr), "");
      assert.ok(Deno.lstatSync(device).isCharDevice, "still a device after the library");
      writeAdHocDhat(device);
      assert.ok(Deno.lstatSync(device).isCharDevice, "still a device after writeAdHocDhat");
      const result = await profile(["-o", device, "--no-js", "sh", "-c", "exit 0"]);
      assert.equal(result.code, 0, result.stderr);
      assert.ok(Deno.lstatSync(device).isCharDevice, "still a device after the profile command");
      assert.deepEqual([...Deno.readDirSync(dir)].map((entry) => entry.name), ["null"], "no staging file left");
    });
  },
});

Deno.test("writeFileSafely: whole file at mode 0600, directories refused, an unwritable directory leaves nothing", async () => {
  await inTempDir((dir) => {
    writeFileSafely(`${dir}/a.json`, "first");
    writeFileSafely(`${dir}/a.json`, "second");
    assert.equal(Deno.readTextFileSync(`${dir}/a.json`), "second");
    assert.equal(Deno.statSync(`${dir}/a.json`).mode! & 0o777, 0o600);
    assert.throws(() => writeFileSafely(dir, "x"), /is a directory/);
    assert.throws(() => writeFileSafely("", "x"), /the path is empty/);
    assert.throws(() => writeFileSafely(`${dir}/missing/a.json`, "x"), /its directory does not exist/);
    assert.deepEqual([...Deno.readDirSync(dir)].map((entry) => entry.name), ["a.json"]);
    assert.equal(targetKind("/dev/null"), "device");
    assert.equal(refusalOf("regular"), undefined);
  });
});

// Every status code of core/abi.zig has a name on the TypeScript side and,
// when it is a failure, a message with a next step.
import assert from "node:assert/strict";
import { InstallError } from "../mod.ts";
import { STATUS } from "../ffi/layout.ts";
import { loadLibrary } from "../ffi/library.ts";
import { checkStatus, FAILURE_TEXT, statusText } from "../api/status.ts";
import { lastJson, runDeno, supportScript } from "./support/child.ts";

/** `abi.Status` as core/abi.zig declares it: name → code. */
function zigStatuses(): Record<string, number> {
  const source = Deno.readTextFileSync(new URL("../core/abi.zig", import.meta.url));
  const body = /pub const Status = enum\(i32\) \{([\s\S]*?)\n\};/.exec(source);
  assert.ok(body !== null, "abi.Status not found in core/abi.zig");
  const entries = [...body[1].matchAll(/^\s*(\w+) = (-?\d+),/gm)].map((m) => [m[1], Number(m[2])] as const);
  assert.ok(entries.length >= 10, `only ${entries.length} statuses parsed`);
  return Object.fromEntries(entries);
}

Deno.test("ffi/layout.ts names every status of core/abi.zig with the same code", () => {
  assert.deepEqual({ ...STATUS }, zigStatuses());
});

Deno.test("every failure status has a problem and a next step, and the error carries the code", () => {
  const failures = Object.entries(zigStatuses()).filter(([, code]) => code < 0);
  assert.deepEqual(failures.map(([name]) => name).sort(), Object.keys(FAILURE_TEXT).sort());
  for (const [name, code] of failures) {
    const { problem, nextStep } = statusText(code);
    assert.ok(problem.length > 20 && nextStep.length > 20, `${name}: ${problem} / ${nextStep}`);
    assert.throws(() => checkStatus(code, [STATUS.ok], "ModAlloc.install()"), (error: unknown) => {
      assert.ok(error instanceof InstallError);
      assert.equal(error.code, code);
      assert.equal(
        error.message,
        `ModAlloc.install() failed (status ${code}): ${problem}. Next step: ${nextStep}.`,
      );
      return true;
    });
  }
});

Deno.test("an unknown status says the library and the module disagree, and how to rebuild", () => {
  assert.throws(
    () => checkStatus(-99, [0], "ModAlloc.install()"),
    /status -99.*rebuild it with `bash tools\/dev.sh build`/,
  );
  assert.doesNotThrow(() => checkStatus(1, [0, 1], "ModAlloc.install()"));
});

Deno.test("the library answers an out-of-range configure with invalid_option", () => {
  // frames 0 is refused before anything changes, so this process keeps call sites off.
  assert.equal(loadLibrary().symbols.mod_alloc_configure(1, 0, 4096), STATUS.invalid_option);
});

Deno.test("installing call sites again with other settings fails with config_conflict and its next step", async () => {
  const result = await runDeno([supportScript("config_conflict_child.ts")]);
  assert.equal(result.code, 0, result.stderr);
  const out = lastJson<{ name: string; code: number; message: string }>(result);
  assert.equal(out.name, "InstallError");
  assert.equal(out.code, STATUS.config_conflict);
  assert.match(
    out.message,
    /frames: 9.*failed \(status -7\): call sites are already on.*Next step: pass the same frames/,
  );
});

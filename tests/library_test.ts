// Finding and opening the library: explicit path, missing library, ABI
// mismatch.
import assert from "node:assert/strict";
import { libraryCandidates } from "../ffi/library.ts";
import { ABI_VERSION } from "../ffi/layout.ts";
import { lastJson, LIBRARY_PATH, runDeno, supportScript } from "./support/child.ts";

interface Outcome {
  ok: boolean;
  mode?: string;
  name?: string;
  message?: string;
}

const SKEWED = new URL("../zig-out/lib/test/libmod_alloc_abi_skew.so", import.meta.url).pathname;

Deno.test("without MOD_ALLOC_LIB the build next to the module is used", () => {
  const paths = libraryCandidates().map((candidate) => candidate.path);
  assert.ok(paths.includes(LIBRARY_PATH), JSON.stringify(paths));
});

Deno.test("MOD_ALLOC_LIB names the library explicitly", async () => {
  const outcome = lastJson<Outcome>(
    await runDeno([supportScript("install_child.ts")], { MOD_ALLOC_LIB: LIBRARY_PATH }),
  );
  assert.deepEqual(outcome, { ok: true, mode: "runtime" });
});

Deno.test("a missing library is an error that lists the paths tried and the build command", async () => {
  const missing = "/nonexistent/libmod_alloc.so";
  const outcome = lastJson<Outcome>(await runDeno([supportScript("install_child.ts")], { MOD_ALLOC_LIB: missing }));
  assert.equal(outcome.name, "LibraryNotFoundError");
  assert.match(outcome.message!, /\/nonexistent\/libmod_alloc\.so \(MOD_ALLOC_LIB\): no such file/);
  assert.match(outcome.message!, /bash tools\/dev\.sh build/);
});

Deno.test("a library of another ABI version is refused with both versions named", async () => {
  const outcome = lastJson<Outcome>(await runDeno([supportScript("install_child.ts")], { MOD_ALLOC_LIB: SKEWED }));
  assert.equal(outcome.name, "AbiMismatchError");
  assert.match(
    outcome.message!,
    new RegExp(`ABI version ${ABI_VERSION + 1000}, but this module needs version ${ABI_VERSION}`),
  );
});

Deno.test("a file that is not the library is reported, not crashed on", async () => {
  const outcome = lastJson<Outcome>(
    await runDeno([supportScript("install_child.ts")], {
      MOD_ALLOC_LIB: new URL("../deno.json", import.meta.url).pathname,
    }),
  );
  assert.equal(outcome.name, "LibraryNotFoundError");
  assert.match(outcome.message!, /deno\.json \(MOD_ALLOC_LIB\)/);
});

// Allocation budgets in `deno test`:
//   deno test -A --v8-flags=--expose-gc examples/budget_test.ts
// (--expose-gc lets the leak check collect garbage before judging.)
import { assertAllocations, assertNoLeaks } from "../mod.ts";

function encodeRows(rows: number): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(Array.from({ length: rows }, (_, i) => ({ i }))));
}

Deno.test("encoding 1000 rows stays within 256 KiB of native memory", () => {
  assertAllocations(() => encodeRows(1000), { maxTotalBytes: 256 * 1024, maxCount: 100 });
});

Deno.test("encoding does not leak native memory", async () => {
  await assertNoLeaks(() => {
    encodeRows(1000);
  });
});

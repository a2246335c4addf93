// Profiled by tests/profile_test.ts: allocates, then Deno.exit(3) with
// its arguments echoed.
function allocateBeforeExit(): Uint8Array {
  return new Uint8Array(512 * 1024);
}
const kept = allocateBeforeExit();
console.log(`args: ${Deno.args.join(",")}; ${kept.length} bytes`);
Deno.exit(3);

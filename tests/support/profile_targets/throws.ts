// Profiled by tests/profile_test.ts: allocates, prints, then throws.
function allocateBeforeThrowing(): Uint8Array[] {
  return Array.from({ length: 4 }, () => new Uint8Array(128 * 1024));
}
const kept = allocateBeforeThrowing();
console.log(`stdout line, ${kept.length} buffers`);
console.error("stderr line");
throw new Error("deliberate failure");

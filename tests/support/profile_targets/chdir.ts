// Profiled by tests/profile_test.ts: changes directory before it exits.
Deno.chdir(Deno.args[0]);
const kept = new Uint8Array(256 * 1024);
console.log(`in ${Deno.cwd()}, ${kept.length} bytes`);

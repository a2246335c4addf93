// Profiled by tests/profile_test.ts: a server that runs until a signal
// (a setInterval keeps it alive), allocating as it goes.
const kept: Uint8Array[] = [];
function handleTick(): void {
  kept.push(new Uint8Array(64 * 1024));
}
setInterval(handleTick, 10);
console.log(`listening (pid ${Deno.pid}, perf map in /tmp: ${exists(`/tmp/perf-${Deno.pid}.map`)})`);

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

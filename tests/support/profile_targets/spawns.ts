// Profiled by tests/profile_test.ts: spawns `sh` (which runs `env` and a
// deno child) and prints what the child saw of the profiler.
const output = await new Deno.Command("sh", {
  args: ["-c", 'env | grep -E "^(LD_PRELOAD|MOD_ALLOC_[A-Z_]+)=" | cut -d= -f1 | sort | tr "\\n" " "; echo'],
}).output();
console.log(`child saw: [${new TextDecoder().decode(output.stdout).trim()}]`);

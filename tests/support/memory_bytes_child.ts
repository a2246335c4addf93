// Child: the profiler's own memory right after install, in a fresh
// process (the test runner's process holds whatever earlier tests left).
import { ModAlloc } from "../../mod.ts";

console.log(JSON.stringify({ memoryBytes: ModAlloc.install().memoryBytes }));

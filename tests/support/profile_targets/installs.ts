// Profiled by tests/profile_test.ts: the module, used inside a profiled
// script, attaches to the preloaded library (not a second copy).
import { ModAlloc } from "../../../mod.ts";

const alloc = ModAlloc.install();
console.log(`mode ${alloc.mode}, counting since start: ${alloc.snapshot().allocCount > 1000}`);

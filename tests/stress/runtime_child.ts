// Child of the stress suite: run-time install faults. Prints one JSON line.
import { ModAlloc } from "../../mod.ts";
import { loadLibrary } from "../../ffi/library.ts";
import { loadFixture } from "../support/fixture.ts";

const cycles = Number(Deno.args[0] ?? "20");
const fixturePath = new URL("../../zig-out/lib/libmod_alloc_fixture.so", import.meta.url).pathname;

// The API before install: the library answers (counters at zero).
const library = loadLibrary();
const early = new Float64Array(16);
library.symbols.mod_alloc_snapshot(0, early);
let apiOk = early[0] === 0;

// Uninstall and install while native threads allocate (a nonblocking call
// runs them on another thread).
const alloc = ModAlloc.install({ backtraces: true });
loadFixture();
const threaded = Deno.dlopen(fixturePath, {
  fixture_threads_alloc: { parameters: ["u32", "u64", "u64", "i32"], result: "i32", nonblocking: true },
});
const running = threaded.symbols.fixture_threads_alloc(4, BigInt(cycles * 2000), 64n, 0);
for (let i = 0; i < cycles; i++) {
  alloc.uninstall();
  ModAlloc.install();
}
const threadsOk = (await running) === 0;

// A library loaded after install (its slots patched), then closed.
const copy = Deno.makeTempFileSync({ suffix: ".so" });
Deno.copyFileSync(fixturePath, copy);
const extra = Deno.dlopen(copy, { fixture_alloc_a: { parameters: ["u64", "u64"], result: "void" } });
extra.symbols.fixture_alloc_a(10n, 32n);
extra.close();
alloc.uninstall();
ModAlloc.install();
Deno.removeSync(copy);
const dlcloseOk = alloc.installed;

// The API after uninstall: snapshot, call sites and a DHAT file still work.
alloc.uninstall();
const frozen = alloc.snapshot();
const sites = alloc.callSites({ limit: 1 });
const dhat = Deno.makeTempFileSync({ suffix: ".json" });
alloc.writeDhat(dhat);
apiOk = apiOk && frozen.allocCount >= 0 && sites.length >= 0 && Deno.statSync(dhat).size > 0;
Deno.removeSync(dhat);
console.log(JSON.stringify({ cycles, threadsOk, dlcloseOk, apiOk }));

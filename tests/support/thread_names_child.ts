// Child: which threads allocated at each call site. Two threads named
// "fixture-worker" allocate through the native fixture; prints total bytes
// per thread name (as the sites carry them) and the main thread's name.
import { ModAlloc } from "../../mod.ts";
import { loadLibrary } from "../../ffi/library.ts";
import { readSites, readThreadNames } from "../../ffi/sites.ts";
import { loadFixture } from "./fixture.ts";

ModAlloc.install({ backtraces: true });
const fixture = loadFixture();
const status = fixture.fixture_named_threads_alloc(2, 1000n, 100n);
const library = loadLibrary();
const names = readThreadNames(library);
const bytesByName: Record<string, number> = {};
for (const site of readSites(library, "all")) {
  const name = names[site.values.thread_name] ?? `missing id ${site.values.thread_name}`;
  bytesByName[name] = (bytesByName[name] ?? 0) + site.values.total_bytes;
}
const mainName = Deno.readTextFileSync("/proc/self/comm").trim();
console.log(JSON.stringify({ status, names, bytesByName, mainName }));

// Child: writeDhat in process, and to a path that cannot be written.
import { ModAlloc } from "../../mod.ts";
import { loadFixture } from "./fixture.ts";

const alloc = ModAlloc.install({ backtraces: true, buckets: 1 << 16 });
loadFixture().fixture_alloc_a(10n, 48n);
const dir = Deno.makeTempDirSync();
alloc.writeDhat(`${dir}/out.json`);
const data = JSON.parse(Deno.readTextFileSync(`${dir}/out.json`));
let error = "";
try {
  alloc.writeDhat(`${dir}/missing/out.json`);
} catch (caught) {
  error = String(caught);
}
const leftovers = [...Deno.readDirSync(dir)].map((entry) => entry.name).filter((name) => name !== "out.json");
Deno.removeSync(dir, { recursive: true });
console.log(JSON.stringify({
  version: data.dhatFileVersion,
  mode: data.mode,
  hasFixtureSite: (data.ftbl as string[]).some((entry) => entry.includes("fixture_alloc_a")),
  error,
  leftovers,
}));

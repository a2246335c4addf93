// Child: a block allocated while installed, shrunk by realloc(p, 1) while
// uninstalled (glibc shrinks the chunk in place), freed after a second
// install. The free must take away what the allocation added.
import { ModAlloc } from "../../mod.ts";
import { loadFixture } from "./fixture.ts";
import { measure } from "./scenarios.ts";

const alloc = ModAlloc.install();
const fixture = loadFixture();
let block = 0n;
const allocated = measure(() => {
  block = fixture.fixture_malloc(600n);
});
alloc.uninstall();
const shrunk = fixture.fixture_realloc(block, 1n);
ModAlloc.install();
const freed = measure(() => fixture.fixture_free(shrunk));
console.log(JSON.stringify({ allocated, freed, inPlace: shrunk === block }));

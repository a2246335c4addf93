// Child: blocks allocated before install, freed or reallocated after it.
import { ModAlloc } from "../../mod.ts";
import { loadFixture } from "./fixture.ts";
import { measure } from "./scenarios.ts";

const fixture = loadFixture(); // loaded before install: install must patch it
const freedLater = fixture.fixture_malloc(1000n);
const grownLater = fixture.fixture_malloc(100n);
const alloc = ModAlloc.install();
const free = measure(() => fixture.fixture_free(freedLater));
let grown = 0n;
const realloc = measure(() => grown = fixture.fixture_realloc(grownLater, 5000n));
const freeGrown = measure(() => fixture.fixture_free(grown));
const fresh = measure(() => fixture.fixture_free(fixture.fixture_malloc(64n)));
console.log(JSON.stringify({ mode: alloc.mode, patchedSlots: alloc.patchedSlots, free, realloc, freeGrown, fresh }));

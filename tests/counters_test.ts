// Every hook and semantic rule, exact, on the calling thread, with the
// hooks installed at run time (the fixture is loaded after install, so the
// dlopen hook must patch it).
import { ModAlloc } from "../mod.ts";
import { loadFixture } from "./support/fixture.ts";
import { scenarios } from "./support/scenarios.ts";

for (const scenario of scenarios) {
  Deno.test(`runtime install: ${scenario.name}`, () => {
    ModAlloc.install();
    scenario.run(loadFixture());
  });
}

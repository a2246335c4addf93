// Child: runs every scenario in this process and prints a JSON summary.
import { ModAlloc } from "../../mod.ts";
import { loadFixture } from "./fixture.ts";
import { scenarios } from "./scenarios.ts";

const before = ModAlloc.install().snapshot();
const fixture = loadFixture();
const failures: string[] = [];
for (const scenario of scenarios) {
  try {
    scenario.run(fixture);
  } catch (error) {
    failures.push(`${scenario.name}: ${(error as Error).message}`);
  }
}
console.log(JSON.stringify({
  mode: ModAlloc.install().mode,
  countedBeforeFirstInstall: before.allocCount,
  passed: scenarios.length - failures.length,
  failures,
}));

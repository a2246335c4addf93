// Child: after uninstall nothing is counted, the process keeps working,
// and a second install counts again.
import { ModAlloc } from "../../mod.ts";
import { loadFixture } from "./fixture.ts";
import { measure } from "./scenarios.ts";

function work(): number {
  const arrays = Array.from({ length: 50 }, (_, i) => new Uint8Array(100_000).fill(i));
  const text = JSON.stringify(Array.from({ length: 5000 }, (_, i) => ({ i })));
  return arrays.length + (JSON.parse(text) as unknown[]).length;
}

const alloc = ModAlloc.install();
const fixture = loadFixture();
const installed = measure(() => fixture.fixture_free(fixture.fixture_malloc(100n)));
const slotsInstalled = alloc.patchedSlots;
alloc.uninstall();
alloc.uninstall(); // a second uninstall is a no-op
const frozenBefore = alloc.snapshot();
const uninstalled = measure(() => fixture.fixture_free(fixture.fixture_malloc(100n)));
const workResult = work();
const frozenAfter = alloc.snapshot();
const stateAfterUninstall = { installed: alloc.installed, patchedSlots: alloc.patchedSlots };
ModAlloc.install();
const reinstalled = measure(() => fixture.fixture_free(fixture.fixture_malloc(100n)));
console.log(JSON.stringify({
  installed,
  slotsInstalled,
  uninstalled,
  frozenBefore,
  frozenAfter,
  workResult,
  stateAfterUninstall,
  reinstalled,
  installedAgain: alloc.installed,
}));

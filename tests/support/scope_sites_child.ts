// Child: call sites of one profiler scope.
import { ModAlloc, Profiler } from "../../mod.ts";
import { loadFixture } from "./fixture.ts";

ModAlloc.install({ backtraces: true });
const fixture = loadFixture();
fixture.fixture_alloc_b(10n, 100n);
fixture.fixture_alloc_a(5n, 48n);
const profiler = Profiler.start({ callSites: true });
fixture.fixture_alloc_a(30n, 48n);
profiler.stop();
const sites = profiler.callSites();
const pick = (name: string) => sites.filter((site) => site.frames.some((frame) => frame.symbol === name));
console.log(JSON.stringify({ a: pick("fixture_alloc_a"), b: pick("fixture_alloc_b") }));

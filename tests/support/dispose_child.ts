// Run by tests/profiler_test.ts: call-site scopes that throw, are abandoned
// or nested must not poison the ones that follow.
import { ModAlloc, Profiler, StateError } from "../../mod.ts";
import { loadFixture } from "./fixture.ts";

ModAlloc.install({ backtraces: true, buckets: 1 << 16 });
const fixture = loadFixture();
const out: Record<string, unknown> = {};

function sitesOf(profiler: Profiler, name: string): number {
  const sites = profiler.callSites().filter((site) => site.frames.some((frame) => frame.symbol === name));
  return sites.reduce((sum, site) => sum + site.allocCount, 0);
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
    return "no error";
  } catch (error) {
    return `${error instanceof StateError ? "StateError" : "other"}: ${(error as Error).message}`;
  }
}

try {
  using _profiler = Profiler.start({ callSites: true });
  fixture.fixture_alloc_a(3n, 48n);
  throw new Error("thrown inside the scope");
} catch (error) {
  out.thrown = (error as Error).message;
}
const after = Profiler.start({ callSites: true });
fixture.fixture_alloc_a(30n, 48n);
after.stop();
out.afterThrow = sitesOf(after, "fixture_alloc_a");

const abandoned = Profiler.start({ callSites: true });
const next = Profiler.start({ callSites: true });
fixture.fixture_alloc_b(7n, 100n);
next.stop();
out.afterAbandoned = sitesOf(next, "fixture_alloc_b");
abandoned.stop();
out.abandonedSites = errorOf(() => abandoned.callSites());

// A profiler started after an uninstall installs again.
const alloc = ModAlloc.install();
alloc.uninstall();
const again = Profiler.start();
out.reinstalled = alloc.installed;
again.stop();
console.log(JSON.stringify(out));

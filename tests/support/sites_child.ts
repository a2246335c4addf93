// Child: call sites of the native fixture's named functions.
// Usage: sites_child.ts [frames] [buckets] [many-sites]
import { ModAlloc } from "../../mod.ts";
import { loadFixture } from "./fixture.ts";

const frames = Number(Deno.args[0] ?? "16");
const buckets = Number(Deno.args[1] ?? "4096");
const manySites = Number(Deno.args[2] ?? "0");
const alloc = ModAlloc.install({ backtraces: true, frames, buckets });
const fixture = loadFixture();
const before = alloc.snapshot({ thread: "current" });
fixture.fixture_alloc_a(100n, 48n);
fixture.fixture_alloc_b(50n, 4000n);
if (manySites > 0) fixture.fixture_many_sites(manySites, 24n);
const smallStacks = fixture.fixture_small_stack_threads(4, 2000n, 40n);
const after = alloc.snapshot({ thread: "current" });
const table = alloc.callSiteTable();
const pick = (name: string) => table.sites.filter((site) => site.frames.some((frame) => frame.symbol === name));
const all = alloc.snapshot();
console.log(JSON.stringify({
  a: pick("fixture_alloc_a"),
  b: pick("fixture_alloc_b"),
  nested: pick("nested_alloc").length,
  smallStacks,
  threadMain: pick("thread_main"),
  thread: { allocCount: after.allocCount - before.allocCount, totalBytes: after.totalBytes - before.totalBytes },
  sums: {
    allocCount: table.sites.reduce((sum, site) => sum + site.allocCount, 0),
    totalBytes: table.sites.reduce((sum, site) => sum + site.totalBytes, 0),
  },
  tier1: { allocCount: all.allocCount, totalBytes: all.totalBytes },
  overflowEvents: table.overflowEvents,
  overflowSites: table.overflowSites,
  report: alloc.formatCallSites({ limit: 5 }),
}));

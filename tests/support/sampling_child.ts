// Child of tests/sampling_test.ts: sampling mode installed at run time.
import { ModAlloc } from "../../mod.ts";
import { loadFixture } from "./fixture.ts";

let badOption = "";
try {
  ModAlloc.install({ sampleBytes: 0 });
} catch (error) {
  badOption = (error as Error).message;
}
const alloc = ModAlloc.install({ sampleBytes: 65536, buckets: 1 << 16 });
const fixture = loadFixture();
const before = alloc.snapshot({ thread: "current" });
fixture.fixture_alloc_b(200n, 1048576n);
const after = alloc.snapshot({ thread: "current" });
const table = alloc.callSiteTable();
const sites = table.sites.filter((site) => site.frames.some((frame) => frame.symbol === "fixture_alloc_b"));
let conflict = "";
try {
  ModAlloc.install({ backtraces: true, sampleBytes: 4096 });
} catch (error) {
  conflict = (error as Error).message;
}
console.log(JSON.stringify({
  interval: table.sampleIntervalBytes,
  allocDelta: after.allocCount - before.allocCount,
  siteBytes: sites.reduce((sum, site) => sum + site.totalBytes, 0),
  standardErrors: table.sites.every((site) =>
    site.totalBytesStandardError !== undefined && site.allocCountStandardError !== undefined
  ),
  text: alloc.formatCallSites({ limit: 3 }),
  badOption,
  conflict,
}));

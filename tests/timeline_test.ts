// Memory over time (core/timeline.zig, ModAlloc.timeline()): the points
// agree with the counters — the peak point is peakBytes, no sample exceeds
// it, the series are in time order and bounded — for a real Deno program
// and for the DHAT file a preloaded C program writes at exit.
import assert from "node:assert/strict";
import type { Timeline, TimelinePoint } from "../types/timeline.ts";
import type { DhatFile } from "../api/dhat.ts";
import { timelineOf } from "../api/timeline.ts";
import { checkDhatFile } from "../api/dhat_input.ts";
import { lastJson, LIBRARY_PATH, runDeno, supportScript } from "./support/child.ts";

interface ChildReport {
  timeline: Timeline;
  peakBytes: number;
  peakAtTop: number;
  currentBytes: number;
}

function assertOrdered(points: TimelinePoint[], key: (p: TimelinePoint) => number): void {
  for (let i = 1; i < points.length; i++) {
    assert.ok(key(points[i]) >= key(points[i - 1]), `point ${i} goes back in time: ${JSON.stringify(points)}`);
  }
}

/** The checks every timeline must pass against the counters' peak. */
function assertAgreesWithPeak(timeline: Timeline, peakBytes: number): void {
  assert.equal(timeline.peak.bytes, peakBytes);
  for (const series of [timeline.byAllocations, timeline.byTime]) {
    assert.equal(Math.max(...series.map((p) => p.bytes)), peakBytes);
    const samples = series.filter((p) => p.kind === "sample");
    assert.ok(samples.length <= timeline.pointsMax, `${samples.length} samples`);
    for (const sample of samples) assert.ok(sample.bytes <= peakBytes, `sample above the peak: ${sample.bytes}`);
    assert.equal(series.filter((p) => p.kind === "peak").length, 1);
    assert.equal(series.filter((p) => p.kind === "end").length, 1);
  }
  assertOrdered(timeline.byAllocations, (p) => p.allocations);
  assertOrdered(timeline.byTime, (p) => p.timeMs);
}

Deno.test("the timeline of a Deno program peaks at peakBytes and ends at the live bytes of now", async () => {
  const result = await runDeno(["--v8-flags=--expose-gc", supportScript("timeline_child.ts")]);
  assert.equal(result.code, 0, result.stderr);
  const { timeline, peakBytes, peakAtTop, currentBytes } = lastJson<ChildReport>(result);
  assertAgreesWithPeak(timeline, peakBytes);
  // The program's own shape: 40 MiB at the top, then 12 MiB.
  assert.ok(peakAtTop >= 40 << 20, `peak ${peakAtTop}`);
  assert.ok(timeline.end.bytes < timeline.peak.bytes - (20 << 20), JSON.stringify(timeline.end));
  assert.ok(Math.abs(timeline.end.bytes - currentBytes) < 1 << 20, `${timeline.end.bytes} vs ${currentBytes}`);
  // Folds happen every 64 KiB of change: 40 one-MiB blocks give a sample each.
  const samples = timeline.byTime.filter((p) => p.kind === "sample");
  assert.ok(samples.length >= 20, `${samples.length} samples`);
  // Spread over wall time (2 ms sleeps): the peak lies strictly after the start.
  assert.ok(timeline.peak.timeMs > 40, `peak at ${timeline.peak.timeMs} ms`);
  // Without call sites the allocation clock stands still, and the peak was caught by a sample.
  assert.equal(timeline.allocationClock, false);
  assert.ok(
    timeline.byTime.some((p) => p.kind === "sample" && p.bytes === peakBytes && p.timeMs === timeline.peak.timeMs),
  );
  assert.ok(timeline.end.timeMs >= timeline.peak.timeMs);
  assert.ok(timeline.end.allocations >= timeline.peak.allocations);
});

Deno.test("with call sites on, the timeline lists the heaviest sites at snapshots, at the peak and at the end", async () => {
  const result = await runDeno(["--v8-flags=--expose-gc", supportScript("timeline_child.ts"), "sites"]);
  assert.equal(result.code, 0, result.stderr);
  const { timeline, peakBytes } = lastJson<ChildReport>(result);
  assertAgreesWithPeak(timeline, peakBytes);
  const snapshots = timeline.siteSnapshots;
  assert.ok(timeline.sitesPerSnapshot >= 16, `${timeline.sitesPerSnapshot} sites per snapshot`);
  // The kept ones (at most 64), then the peak's and the end's, in time order.
  assert.ok(snapshots.filter((s) => s.kind === "sample").length <= 64);
  const atPeak = snapshots.filter((s) => s.kind === "peak");
  const atEnd = snapshots.filter((s) => s.kind === "end");
  assert.equal(atPeak.length, 1);
  assert.equal(atEnd.length, 1);
  assert.equal(atPeak[0].liveBytes, timeline.peak.bytes);
  assert.equal(atPeak[0].allocations, timeline.peak.allocations);
  assert.equal(atEnd[0].liveBytes, timeline.end.bytes);
  assertOrdered(snapshots as unknown as TimelinePoint[], (p) => p.allocations);
  for (const snapshot of snapshots) {
    assert.ok(snapshot.top.length <= timeline.sitesPerSnapshot);
    for (let i = 1; i < snapshot.top.length; i++) assert.ok(snapshot.top[i].bytes <= snapshot.top[i - 1].bytes);
    const listed = snapshot.top.reduce((sum, site) => sum + site.bytes, 0);
    assert.ok(listed <= snapshot.sitesBytes, JSON.stringify(snapshot).slice(0, 400));
  }
  // 40 one-MiB blocks at the top: the sites listed at the peak hold them all.
  assert.ok(atPeak[0].top.reduce((sum, site) => sum + site.bytes, 0) >= 40 << 20, JSON.stringify(atPeak[0].top[0]));
  // At the end 12 MiB of them are still live.
  assert.ok(atEnd[0].top.reduce((sum, site) => sum + site.bytes, 0) >= 12 << 20);
});

Deno.test("reset starts the timeline over: an earlier, higher peak is not in it", async () => {
  const result = await runDeno(["--v8-flags=--expose-gc", supportScript("timeline_child.ts"), "reset"]);
  assert.equal(result.code, 0, result.stderr);
  const { timeline, peakBytes } = lastJson<ChildReport>(result);
  assertAgreesWithPeak(timeline, peakBytes);
});

Deno.test("a preloaded C program's DHAT file carries a timeline whose peak is the counters' (t-gmax)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mod-alloc-timeline-" });
  try {
    const raw = `${dir}/raw.json`;
    const workload = new URL("../zig-out/bin/test/dhat_workload", import.meta.url).pathname;
    const output = await new Deno.Command(workload, {
      args: ["100"],
      env: { LD_PRELOAD: LIBRARY_PATH, MOD_ALLOC_OUT: raw, MOD_ALLOC_BACKTRACES: "1" },
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    const file: DhatFile = checkDhatFile(JSON.parse(await Deno.readTextFile(raw)), raw);
    const rawTimeline = file.modAlloc?.timeline;
    assert.ok(rawTimeline, "no modAlloc.timeline");
    const timeline = timelineOf(rawTimeline);
    // tests/fixture/dhat_workload.c: its 100,000-byte block sets the peak.
    assertAgreesWithPeak(timeline, file.modAlloc!.peakBytes);
    assert.ok(timeline.peak.bytes >= 100_000);
    assert.equal(timeline.allocationClock, true);
    assert.ok(file.tg! > 0);
    assert.equal(timeline.peak.allocations, file.tg);
    assert.equal(timeline.end.bytes, file.modAlloc!.endBytes);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a DHAT file with a malformed timeline is refused with the field named", () => {
  const base = {
    dhatFileVersion: 2,
    mode: "heap",
    cmd: "x",
    pid: 1,
    te: 0,
    ftbl: ["[root]"],
    pps: [],
  };
  const bad = { ...base, modAlloc: { timeline: { pointsMax: 512, skipped: 0, eventsWidth: 1, wallWidthNs: 1000 } } };
  assert.throws(() => checkDhatFile(bad, "bad.json"), /modAlloc\.timeline: peak is not/);
  const huge = {
    ...base,
    modAlloc: {
      timeline: {
        pointsMax: 512,
        skipped: 0,
        eventsWidth: 1,
        wallWidthNs: 1,
        peak: [0, 0, 0, -1],
        now: [0, 0, 0, 0],
        byEvents: [[0, 0, "x", 0]],
        byWall: [],
      },
    },
  };
  assert.throws(() => checkDhatFile(huge, "huge.json"), /byEvents\[0\] is not/);
  // Site snapshots: the kind, the rows and the counts are checked, and their number is bounded.
  const timeline = { ...huge.modAlloc.timeline, byEvents: [] };
  const withSites = (sites: unknown) => ({ ...base, modAlloc: { timeline: { ...timeline, sites } } });
  const good = { topMax: 256, intervalEvents: 1024, walkNsMax: 1, snapshots: [[2, 5, 7, 100, 100, 1, [[3, 100, 1]]]] };
  assert.doesNotThrow(() => checkDhatFile(withSites(good), "good.json"));
  assert.doesNotThrow(() => checkDhatFile(withSites(null), "none.json"));
  const cases: [unknown, RegExp][] = [
    [{ ...good, snapshots: [[7, 5, 7, 100, 100, 1, []]] }, /sites\.snapshots\[0\] is not \[kind/],
    [
      { ...good, snapshots: [[0, 5, 7, 100, 100, 1, [[1.5, 100, 1]]]] },
      /sites\.snapshots\[0\]\[6\]\[0\] is not \[site/,
    ],
    [{ ...good, snapshots: [[0, 5, 7, 100, 100, 1, "x"]] }, /lists no array of sites/],
    [{ ...good, snapshots: new Array(5000).fill(good.snapshots[0]) }, /sites\.snapshots is not an array of at most/],
    [{ ...good, topMax: -1 }, /sites\.topMax is not a count/],
  ];
  for (const [sites, message] of cases) {
    assert.throws(() => checkDhatFile(withSites(sites), "bad.json"), message);
  }
  const badRow = {
    ...base,
    pps: [{ tb: 1, tbk: 1, tl: 0, mb: 1, mbk: 1, gb: 0, gbk: 0, eb: 0, ebk: 0, fs: [0], site: "1" }],
  };
  assert.throws(() => checkDhatFile(badRow, "row.json"), /pps\[0\]\.site is not a row number/);
});

// The HTML report (`--html`): one page that fetches nothing, rendered in
// headless Chromium, its numbers checked against the profile it was made
// from — a C program with designed sizes and a real Deno program.
import assert from "node:assert/strict";
import type { DhatFile } from "../api/dhat.ts";
import { formatBytes } from "../api/report.ts";
import { timelineOf } from "../api/timeline.ts";
import { hasCommand, renderedDom } from "./support/tools.ts";
import { profile as cli } from "./support/profile_cli.ts";

const WORKLOAD = new URL("../zig-out/bin/test/dhat_workload", import.meta.url).pathname;
const DEMO = new URL("../examples/profile_demo.ts", import.meta.url).pathname;

/** `data-value` of a summary field in the rendered page. */
function summaryValue(dom: string, field: string): number {
  const match = new RegExp(`data-field="${field}" data-value="(-?[\\d.e+]+)"`).exec(dom);
  assert.ok(match, `no summary field ${field}`);
  return Number(match[1]);
}

/** The `data-bytes` of each row of a top table, in order. */
function tableBytes(dom: string, measure: string): { bytes: number; label: string }[] {
  const table = new RegExp(`<table class="top" id="top-${measure}">([\\s\\S]*?)</table>`).exec(dom);
  assert.ok(table, `no table top-${measure}`);
  return [...table[1].matchAll(/<tr data-bytes="(\d+)"[^>]*>.*?<td class="label">(.*?)<\/td><\/tr>/g)]
    .map((row) => ({ bytes: Number(row[1]), label: row[2] }));
}

/** Nothing in the page is loaded from elsewhere: no external script, style, font, image or frame. */
function assertSelfContained(html: string): void {
  assert.doesNotMatch(html, /<(?:script|img|iframe|link)\b[^>]*\b(?:src|href)=/i);
  assert.doesNotMatch(html, /@import|url\(|@font-face/i);
  assert.doesNotMatch(html, /\bfetch\(|XMLHttpRequest|import\(/);
}

/** The root box's tooltip of the drawn flame graph. */
function flameRootTitle(dom: string): string {
  const match = /<g class="frame" data-name="all"><title>([^<]*)<\/title>/.exec(dom);
  assert.ok(match, "the flame graph drew no root box");
  return match[1];
}

Deno.test({
  name: "the HTML report of a C program shows its counters, its peak and its leaks in Chromium",
  ignore: !hasCommand("chromium"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "mod-alloc-html-" });
    try {
      const html = `${dir}/report.html`;
      const result = await cli(["-o", `${dir}/out.json`, "--html", html, "--", WORKLOAD, "100"]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /HTML report: .*report\.html/);
      const data = JSON.parse(await Deno.readTextFile(`${dir}/out.json`)) as DhatFile;
      const totals = data.modAlloc!;
      const page = await Deno.readTextFile(html);
      assertSelfContained(page);
      const dom = await renderedDom(`file://${html}#measure=end`);
      assert.equal(summaryValue(dom, "totalBlocks"), totals.totalBlocks);
      assert.equal(summaryValue(dom, "totalBytes"), totals.totalBytes);
      assert.equal(summaryValue(dom, "peakBytes"), totals.countersPeakBytes);
      assert.equal(summaryValue(dom, "endBytes"), totals.endBytes);
      // The chart: every point of the file's timeline, the peak marked at the counters' peak.
      const timeline = timelineOf(totals.timeline!);
      const chart = /<svg class="timeline" id="timeline-time"[^>]*data-points="(\d+)" data-peak-bytes="(\d+)"/.exec(
        dom,
      );
      assert.ok(chart, "no timeline chart");
      assert.equal(Number(chart[1]), timeline.byTime.length);
      assert.equal(Number(chart[2]), totals.countersPeakBytes);
      assert.match(dom, /<circle class="peak"[^>]*data-bytes="110000"/);
      // tests/fixture/dhat_workload.c: the 100,000-byte block made the peak, 25 x 200 bytes leak.
      assert.equal(tableBytes(dom, "peak")[0].bytes, 100_000);
      assert.match(tableBytes(dom, "peak")[0].label, /^peak_block /);
      assert.deepEqual(tableBytes(dom, "end").map((row) => row.bytes), [5_000, 556]);
      assert.match(tableBytes(dom, "end")[0].label, /kept_to_the_end/);
      assert.equal(tableBytes(dom, "total").reduce((sum, row) => sum + row.bytes, 0), totals.totalBytes);
      // The flame graph opened on "live at the end" (#measure=end): 5,556 bytes in 27 blocks.
      assert.match(dom, /<em id="measure-words">bytes live at the end<\/em>/);
      assert.match(flameRootTitle(dom), /^all\n5\.4 KiB in 27 blocks/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "report --html of a Deno program's profile agrees with its DHAT file and draws all three views",
  ignore: !hasCommand("chromium"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "mod-alloc-html-deno-" });
    try {
      const profiled = await cli(["-o", `${dir}/out.json`, DEMO]);
      assert.equal(profiled.code, 0, profiled.stderr);
      const html = `${dir}/report.html`;
      const report = await cli(["report", "-o", `${dir}/again.json`, "--html", html, `${dir}/out.json`]);
      assert.equal(report.code, 0, report.stderr);
      const data = JSON.parse(await Deno.readTextFile(`${dir}/again.json`)) as DhatFile;
      const totals = data.modAlloc!;
      assertSelfContained(await Deno.readTextFile(html));
      for (const measure of ["total", "peak", "end"]) {
        const dom = await renderedDom(`file://${html}#measure=${measure}&view=all`);
        assert.equal(summaryValue(dom, "totalBytes"), totals.totalBytes);
        assert.equal(summaryValue(dom, "peakBytes"), totals.countersPeakBytes);
        assert.equal(summaryValue(dom, "endBytes"), totals.endBytes);
        assert.match(dom, new RegExp(`data-peak-bytes="${totals.countersPeakBytes}"`));
        const rows = tableBytes(dom, measure);
        assert.ok(rows.length > 0, `no rows live ${measure}`);
        for (let i = 1; i < rows.length; i++) {
          assert.ok(rows[i].bytes <= rows[i - 1].bytes, `${measure} rows out of order`);
        }
        // The drawn root box weighs the whole measure: the sites' sum under it (blocks of 0 bytes draw nothing).
        const measured = data.pps.map((pp) =>
          measure === "total" ? [pp.tb, pp.tbk] : measure === "peak" ? [pp.gb, pp.gbk] : [pp.eb, pp.ebk]
        ).filter(([bytes]) => bytes > 0);
        const bytes = measured.reduce((sum, [b]) => sum + b, 0);
        const blocks = measured.reduce((sum, [, b]) => sum + b, 0);
        assert.ok(flameRootTitle(dom).startsWith(`all\n${formatBytes(bytes)} in ${blocks} blocks, 100.00%`));
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

const PHASES = new URL("../zig-out/bin/test/timeline_phases", import.meta.url).pathname;

interface DrawnSnapshot {
  kind: string;
  x: number;
  liveBytes: number;
  sitesBytes: number;
  layers: number[];
}

/** The site snapshots drawn under a chart, in the page's order (by x). */
function drawnSnapshots(svg: string): DrawnSnapshot[] {
  return [
    ...svg.matchAll(
      /<line class="snapshot" x1="([\d.]+)"[^>]*data-kind="(\w+)" data-live-bytes="(-?\d+)" data-sites-bytes="(-?\d+)" data-layers="([\d,]+)"/g,
    ),
  ].map((m) => ({
    x: Number(m[1]),
    kind: m[2],
    liveBytes: Number(m[3]),
    sitesBytes: Number(m[4]),
    layers: m[5].split(",").map(Number),
  }));
}

/** The legend's label of each layer, in layer order. */
function layerLabels(dom: string): string[] {
  const legend = /<ul class="legend" id="layers-legend">([\s\S]*?)<\/ul>/.exec(dom);
  assert.ok(legend, "no legend of the stacked sites");
  return [...legend[1].matchAll(/<li data-layer="\d+"><span[^>]*><\/span>(.*?) <small>/g)].map((m) => m[1]);
}

/** The label of a snapshot's largest layer. */
function largestLayer(snapshot: DrawnSnapshot, labels: string[]): { label: string; bytes: number } {
  const named = snapshot.layers.slice(0, -1);
  const bytes = Math.max(...named);
  return { label: labels[named.indexOf(bytes)], bytes };
}

Deno.test({
  name:
    "the HTML report stacks the sites that held the bytes: each snapshot's layers make up its walk, and the largest site at the peak is the largest layer there",
  ignore: !hasCommand("chromium"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "mod-alloc-html-layers-" });
    try {
      const html = `${dir}/report.html`;
      const result = await cli(["-o", `${dir}/out.json`, "--html", html, "--", PHASES]);
      assert.equal(result.code, 0, result.stderr);
      const data = JSON.parse(await Deno.readTextFile(`${dir}/out.json`)) as DhatFile;
      const timeline = timelineOf(data.modAlloc!.timeline!);
      const dom = await renderedDom(`file://${html}`);
      const svg = /<svg class="timeline" id="timeline-time"[\s\S]*?<\/svg>/.exec(dom);
      assert.ok(svg, "no timeline chart");
      const labels = layerLabels(dom);
      assert.equal(labels[labels.length - 1], "other");
      // One filled layer per legend entry, the line drawn over them, the peak still marked.
      assert.equal([...svg[0].matchAll(/<path class="layer" data-layer="\d+"/g)].length, labels.length);
      assert.match(svg[0], /<path class="layer"[\s\S]*<path class="line"/);
      assert.match(svg[0], new RegExp(`<circle class="peak"[^>]*data-bytes="${data.modAlloc!.countersPeakBytes}"`));
      const snapshots = drawnSnapshots(svg[0]);
      assert.equal(snapshots.length, timeline.siteSnapshots.length);
      assert.ok(snapshots.some((s) => s.kind === "sample"), "no snapshot taken during the run");
      for (const snapshot of snapshots) {
        const named = snapshot.layers.slice(0, -1).reduce((sum, bytes) => sum + bytes, 0);
        // The named layers are part of the walk's sum; "other" is the rest of it.
        assert.ok(named <= snapshot.sitesBytes, JSON.stringify(snapshot));
        assert.equal(named + snapshot.layers[snapshot.layers.length - 1], snapshot.sitesBytes);
        // One thread: the walk's sum is within one fold (64 KiB) of the timeline's live bytes there.
        assert.ok(Math.abs(snapshot.sitesBytes - snapshot.liveBytes) < 64 * 1024, JSON.stringify(snapshot));
      }
      // tests/fixture/timeline_phases.c: first_phase leads the first snapshot (taken at the first fold
      // past 1,024 events), second_phase holds 4 MiB at the peak and 1 MiB at the end.
      const first = snapshots.find((s) => s.kind === "sample")!;
      assert.match(largestLayer(first, labels).label, /^first_phase /);
      const atPeak = snapshots.find((s) => s.kind === "peak")!;
      assert.deepEqual(largestLayer(atPeak, labels), { label: labels[0], bytes: 4 << 20 });
      assert.match(labels[0], /^second_phase /);
      assert.equal(atPeak.sitesBytes, data.modAlloc!.peakBytes);
      const atEnd = snapshots.find((s) => s.kind === "end")!;
      assert.deepEqual(largestLayer(atEnd, labels), { label: labels[0], bytes: 1 << 20 });
      assert.equal(atEnd.sitesBytes, data.modAlloc!.endBytes);
      const steady = labels.findIndex((label) => /^steady /.test(label));
      assert.ok(steady > 0, labels.join("; "));
      for (const snapshot of snapshots) assert.equal(snapshot.layers[steady], 128 << 10);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

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

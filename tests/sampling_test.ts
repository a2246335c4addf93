// Sampling mode (issue 17): unbiased per-site estimates with honest standard
// errors, exact process totals, and the settings' validation.
import assert from "node:assert/strict";
import { type DhatFile, nameDhatFile } from "../api/dhat.ts";
import { encodePprof } from "../api/pprof.ts";
import { summary } from "../cli/summary.ts";
import { htmlReport } from "../api/html_report.ts";
import { hasCommand, hasDhView, renderedDom, textOf } from "./support/tools.ts";
import { dhViewPage } from "./support/dh_view_page.ts";
import { parseProfileArgs } from "../cli/profile.ts";
import { UsageError } from "../cli/options.ts";
import { lastJson, LIBRARY_PATH, runDeno, supportScript } from "./support/child.ts";
import { estimates, profiled, runCommand, SAMPLE_WORKLOAD, sampledRun, UNSAMPLED } from "./support/sampled_workload.ts";

const DHAT_WORKLOAD = new URL("../zig-out/bin/test/dhat_workload", import.meta.url).pathname;
const INTERVAL = 524_288;

Deno.test("sampled site estimates above 10 intervals fall within 3 standard errors at the expected rate", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const runs = 30;
    const scores: number[] = [];
    let bytesWithin = 0;
    let blocksWithin = 0;
    let blocksChecks = 0;
    for (let seed = 1; seed <= runs; seed++) {
      const { exact, sampled } = await sampledRun(dir, INTERVAL, seed);
      for (const [name, truth] of Object.entries(exact)) {
        if (truth.bytes < 10 * INTERVAL) continue;
        const estimate = sampled.get(name) ?? UNSAMPLED;
        const error = estimate.bytes - truth.bytes;
        const standardError = Math.sqrt(estimate.bytesVariance);
        if (Math.abs(error) <= 3 * standardError) bytesWithin++;
        if (standardError > 0) scores.push(error / standardError);
        // A block count's variance estimate is too skewed to bound a site
        // of blocks above the interval (README: "Sampling mode").
        if (truth.bytes / truth.blocks < INTERVAL) {
          blocksChecks++;
          if (Math.abs(estimate.blocks - truth.blocks) <= 3 * Math.sqrt(estimate.blocksVariance)) blocksWithin++;
        }
      }
    }
    const checks = runs * 6; // six sites of the workload are above 10 intervals
    // Every site but the one-block one has a non-zero standard error.
    assert.ok(scores.length >= checks - runs, `sites with a standard error: ${scores.length}`);
    // A normal estimate falls within 3 s.e. 99.7% of the time; sites with
    // ~20 samples are skewed (measured: 98-100% per site over 300 runs).
    assert.ok(bytesWithin / checks >= 0.95, `bytes within 3 s.e.: ${bytesWithin} of ${checks}`);
    assert.ok(blocksWithin / blocksChecks >= 0.95, `blocks within 3 s.e.: ${blocksWithin} of ${blocksChecks}`);
    // Unbiased: the mean score is 0 within its own error (1/sqrt(150) ~ 0.08).
    const mean = scores.reduce((sum, score) => sum + score, 0) / scores.length;
    assert.ok(Math.abs(mean) < 0.3, `mean error in standard errors: ${mean}`);
    // Honest errors: the scores' spread is about 1 (too small an s.e. would show here).
    const spread = Math.sqrt(scores.reduce((sum, score) => sum + score * score, 0) / scores.length);
    assert.ok(spread > 0.7 && spread < 1.3, `spread of the scores: ${spread}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sampling mode's exact totals equal Tier 1's and the file says it is sampled", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const tier1 = (await profiled(dir, SAMPLE_WORKLOAD, {})).data.modAlloc!;
    const sampled = (await profiled(dir, SAMPLE_WORKLOAD, { MOD_ALLOC_SAMPLE: String(INTERVAL) })).data;
    const sampling = sampled.modAlloc?.sampling;
    assert.ok(sampling !== undefined);
    assert.equal(sampling.meanIntervalBytes, INTERVAL);
    assert.equal(sampling.exactBlocks, tier1.totalBlocks);
    assert.equal(sampling.exactBytes, tier1.totalBytes);
    assert.ok(sampled.pps.every((pp) => pp.tbSe !== undefined && pp.tbkSe !== undefined));
    // The sites are sampled: far fewer program points' blocks than the run's.
    assert.ok(sampled.pps.length < 20, `program points: ${sampled.pps.length}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the same sampling seed gives the same estimates; another seed others", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const figures = async (seed: string) => {
      const { data } = await profiled(dir, SAMPLE_WORKLOAD, {
        MOD_ALLOC_SAMPLE: String(INTERVAL),
        MOD_ALLOC_SAMPLE_SEED: seed,
      });
      return [...estimates(data).entries()].sort().map(([name, sum]) => `${name}=${sum.bytes}`).join(" ");
    };
    const first = await figures("42");
    assert.equal(await figures("42"), first);
    assert.notEqual(await figures("43"), first);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sampling every byte matches every allocation: frees, leaks and reallocs of sampled blocks are matched", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // With a 1-byte interval every block is sampled with weight 1: the
    // estimates must be the exact figures (a realloc counts its new size,
    // as valgrind's DHAT counts it).
    const exact = await profiled(dir, DHAT_WORKLOAD, { MOD_ALLOC_BACKTRACES: "1" });
    const kept = (JSON.parse(exact.stdout) as { reallocKeptBytes: number }).reallocKeptBytes;
    const every = await profiled(dir, DHAT_WORKLOAD, { MOD_ALLOC_SAMPLE: "1" });
    const sum = (data: DhatFile, field: "tb" | "tbk" | "eb" | "ebk" | "gb") =>
      data.pps.reduce((total, pp) => total + pp[field], 0);
    assert.equal(sum(every.data, "tbk"), sum(exact.data, "tbk"));
    assert.equal(sum(every.data, "tb"), sum(exact.data, "tb") + kept);
    assert.equal(sum(every.data, "eb"), sum(exact.data, "eb"));
    assert.equal(sum(every.data, "ebk"), sum(exact.data, "ebk"));
    assert.equal(sum(every.data, "gb"), 110_000); // the workload's designed peak
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a bad MOD_ALLOC_SAMPLE is named on stderr and sampling stays off", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { stderr, data } = await profiled(dir, SAMPLE_WORKLOAD, { MOD_ALLOC_SAMPLE: "512k" });
    assert.match(stderr, /MOD_ALLOC_SAMPLE="512k" is not a whole number from 0 to 1073741824/);
    assert.equal(data.modAlloc?.sampling, undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("profile --sample takes a whole number of bytes and says what is wrong otherwise", () => {
  assert.equal((parseProfileArgs(["--sample", "524288", "true"]) as { sample: number }).sample, 524288);
  assert.equal((parseProfileArgs(["true"]) as { sample: number }).sample, 0);
  for (const bad of ["0", "-1", "1.5", "512k", String(2 ** 31)]) {
    assert.throws(() => parseProfileArgs([`--sample=${bad}`, "true"]), (error: Error) => {
      assert.ok(error instanceof UsageError);
      assert.match(error.message, /--sample needs a whole number from 1 to 1073741824/);
      return true;
    });
  }
});

Deno.test("ModAlloc.install({ sampleBytes }) samples call sites in process with standard errors", async () => {
  const result = lastJson<{
    interval: number;
    allocDelta: number;
    siteBytes: number;
    standardErrors: boolean;
    text: string;
    badOption: string;
    conflict: string;
  }>(await runDeno([supportScript("sampling_child.ts")]));
  assert.equal(result.interval, 65536);
  // 200 blocks of 1 MiB: each far above the interval, so each is sampled
  // (p = 1 - e^-16) and stands for itself.
  assert.ok(result.allocDelta >= 200, `allocations counted: ${result.allocDelta}`);
  assert.equal(result.siteBytes, 200 * 1048576);
  assert.ok(result.standardErrors);
  assert.match(result.text, /± 1 s\.e\./);
  assert.match(result.text, /Sampled: one allocation per 64\.0 KiB on average/);
  assert.match(result.badOption, /option "sampleBytes" must be a whole number from 1 to 1073741824; got 0/);
  assert.match(result.conflict, /already on with other settings or in the other mode/);
});

Deno.test("the summary, the leak view, the HTML report and pprof of a sampled run say they are sampled and at what rate", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const raw = `${dir}/raw.json`;
    const env = { LD_PRELOAD: LIBRARY_PATH, MOD_ALLOC_OUT: raw, MOD_ALLOC_SAMPLE: String(INTERVAL) };
    const { stdout } = await runCommand(SAMPLE_WORKLOAD, { ...env, MOD_ALLOC_SAMPLE_SEED: "5" });
    const exact = JSON.parse(stdout) as Record<string, { bytes: number }>;
    const { data, sites } = nameDhatFile(raw, `${dir}/named.json`);
    const text = summary("sampled", data, sites, 10, "function");
    assert.match(text, /exact {2}\d+ allocations, [\d.]+ MiB, \d+ frees/);
    assert.match(text, /Sampled: one allocation per 512\.0 KiB on average/);
    assert.match(text, /64\.0 MiB ± 0 B .*one_huge_block/);
    const leaks = summary("sampled", data, sites, 10, "function", "end");
    assert.match(leaks, /by bytes live at the end/);
    assert.match(leaks, /± for live and peak bytes is a bound/);
    assert.ok(exact.one_huge_block.bytes === 64 << 20);
    const page = htmlReport(data, sites, { title: "sampled", groupBy: "function" });
    const sampling = data.modAlloc?.sampling;
    assert.ok(sampling !== undefined);
    assert.ok(page.includes(`data-field="exactBlocks" data-value="${sampling.exactBlocks}"`));
    assert.match(page, /<th>± 1 s\.e\.<\/th>/);
    assert.match(page, /<td data-se="0">± 0 B<\/td><td>1<\/td><td>1<\/td><td class="label">one_huge_block/);
    assert.match(page, /Sampled: one allocation per 512\.0 KiB on average/);
    if (hasCommand("go")) {
      const path = `${dir}/sampled.pb.gz`;
      await Deno.writeFile(
        path,
        encodePprof(sites, { sampleIntervalBytes: data.modAlloc?.sampling?.meanIntervalBytes }),
      );
      const output = await new Deno.Command("go", {
        args: ["tool", "pprof", "-raw", path],
        stdout: "piped",
        stderr: "piped",
      })
        .output();
      const raw = new TextDecoder().decode(output.stdout);
      assert.match(raw, /Period: 524288/);
      assert.match(raw, /Comment: mod-alloc sampling mode: one allocation sampled per 524288 bytes on average/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "valgrind's dh_view.html loads a sampled file and shows its estimated totals",
  ignore: !hasCommand("chromium") || !hasDhView(),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const { data } = await profiled(dir, SAMPLE_WORKLOAD, { MOD_ALLOC_SAMPLE: String(INTERVAL) });
      const page = await dhViewPage(JSON.stringify(data));
      const text = textOf(await renderedDom(`file://${page}/index.html`));
      await Deno.remove(page, { recursive: true });
      const bytes = data.pps.reduce((total, pp) => total + pp.tb, 0);
      const blocks = data.pps.reduce((total, pp) => total + pp.tbk, 0);
      assert.match(
        text,
        new RegExp(
          `Total:\\s+${bytes.toLocaleString("en")} bytes \\(100%.*?in\\s+${blocks.toLocaleString("en")} blocks`,
        ),
      );
      assert.match(text, /one_huge_block \(.*sample_workload\.c:\d+\)/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

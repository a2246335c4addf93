// The error table of sampling mode (README, "Sampling mode"): the
// accuracy workload (tests/fixture/sample_workload.c, sites from 64 B to
// 64 MiB) sampled with seeds 1..N; per site, how far the estimates fall
// from the exact totals and how often within 1, 2 and 3 of their own
// standard errors. Usage: deno run -A bench/sampling_accuracy.ts [runs] [interval bytes]
import { markdownTable } from "./stats.ts";
import { type ExactSites, sampledRun, type SiteEstimate, UNSAMPLED } from "../tests/support/sampled_workload.ts";
import { formatBytes } from "../api/report.ts";

const runs = Number(Deno.args[0] ?? "200");
const interval = Number(Deno.args[1] ?? "524288");
const dir = await Deno.makeTempDir();
const results = new Map<string, { exact: ExactSites[string]; estimates: SiteEstimate[] }>();
try {
  for (let seed = 1; seed <= runs; seed++) {
    const { exact, sampled } = await sampledRun(dir, interval, seed);
    for (const [name, truth] of Object.entries(exact)) {
      const entry = results.get(name) ?? { exact: truth, estimates: [] };
      entry.estimates.push(sampled.get(name) ?? UNSAMPLED);
      results.set(name, entry);
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}

const percent = (value: number) => `${(value * 100).toFixed(1)}%`;
const rows = [...results.entries()].map(([name, { exact, estimates }]) => {
  const errors = estimates.map((estimate) => estimate.bytes - exact.bytes);
  const within = (k: number) =>
    estimates.filter((estimate, i) => Math.abs(errors[i]) <= k * Math.sqrt(estimate.bytesVariance)).length / runs;
  const blocksWithin = estimates.filter((estimate) =>
    Math.abs(estimate.blocks - exact.blocks) <= 3 * Math.sqrt(estimate.blocksVariance)
  ).length / runs;
  const bias = errors.reduce((sum, error) => sum + error, 0) / runs / exact.bytes;
  const rms = Math.sqrt(errors.reduce((sum, error) => sum + error * error, 0) / runs) / exact.bytes;
  const meanError = estimates.reduce((sum, estimate) => sum + Math.sqrt(estimate.bytesVariance), 0) / runs /
    exact.bytes;
  const size = exact.bytes / exact.blocks;
  return [
    name,
    `${exact.blocks.toLocaleString("en")} x ${formatBytes(size)}`,
    formatBytes(exact.bytes),
    (exact.bytes / interval).toFixed(2),
    `${bias >= 0 ? "+" : ""}${percent(bias)}`,
    percent(rms),
    percent(meanError),
    percent(within(1)),
    percent(within(2)),
    percent(within(3)),
    percent(blocksWithin),
  ];
});
console.log(
  `\nSampling accuracy: ${runs} runs (seeds 1-${runs}), mean interval ${formatBytes(interval)}; ` +
    `errors relative to the exact total bytes\n`,
);
console.log(markdownTable(
  [
    "site",
    "blocks",
    "exact bytes",
    "intervals",
    "bias",
    "rms error",
    "mean s.e.",
    "within 1 s.e.",
    "2 s.e.",
    "3 s.e.",
    "blocks within 3 s.e.",
  ],
  rows,
));

// `deno task bench:peers`: this project's overhead next to its peers on one
// Rust workload (bench/rust), as ratios to the plain build measured in the
// same run: the crate mod-alloc (counters; backtraces), dhat-rs, heaptrack
// and valgrind's DHAT, and our library preloaded (Tier 1; Tier 2).
// Usage: deno run -A bench/peers.ts [--small] [--check]
//   --small  a size that fits CI (the test command runs it once);
//   --check  exit non-zero if the profilers' counts disagree.
import { markdownTable, median, ratio } from "./stats.ts";
import { hasCommand } from "../tests/support/tools.ts";

const root = new URL("../", import.meta.url).pathname;
const small = Deno.args.includes("--small");
const check = Deno.args.includes("--check");
const repeats = small ? 1 : 5;
const peerRepeats = small ? 1 : 3;
const steps = small ? 20_000 : 1_000_000;
const rounds = small ? 5 : 200;
const library = `${root}zig-out/lib/libmod_alloc.so`;
const crate = `${root}bench/rust`;

interface Variant {
  name: string;
  features: string[];
}

const variants: Variant[] = [
  { name: "system", features: [] },
  { name: "modalloc", features: ["modalloc"] },
  { name: "modalloc-backtraces", features: ["modalloc-backtraces"] },
  { name: "dhat-heap", features: ["dhat-heap"] },
];

function binary(variant: string): string {
  return `${crate}/target/${variant}/release/workload`;
}

async function build(variant: Variant): Promise<void> {
  const args = ["build", "--release", "--locked", "--quiet", "--target-dir", `${crate}/target/${variant.name}`];
  if (variant.features.length > 0) args.push("--features", variant.features.join(","));
  const output = await new Deno.Command("cargo", {
    args,
    cwd: crate,
    // Every build keeps frame pointers: mod-alloc's backtraces and our
    // Tier 2 need them, and the same code runs in every configuration.
    env: { RUSTFLAGS: "-C force-frame-pointers=yes" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) throw new Error(`cargo ${args.join(" ")} failed:\n${new TextDecoder().decode(output.stderr)}`);
}

interface Config {
  name: string;
  variant: string;
  env?: Record<string, string>;
  wrapper?: string[];
  peer?: boolean;
}

const scratch = Deno.makeTempDirSync({ prefix: "mod-alloc-peers-" });
const configs: Config[] = [
  { name: "plain (system allocator)", variant: "system" },
  { name: "mod-alloc crate, counters", variant: "modalloc" },
  { name: "mod-alloc crate, backtraces", variant: "modalloc-backtraces" },
  { name: "mod-alloc-deno Tier 1 (LD_PRELOAD)", variant: "system", env: { LD_PRELOAD: library } },
  {
    name: "mod-alloc-deno Tier 2 (LD_PRELOAD, call sites)",
    variant: "system",
    env: { LD_PRELOAD: library, MOD_ALLOC_BACKTRACES: "1" },
  },
  { name: "dhat-rs (heap)", variant: "dhat-heap", peer: true },
];
const missing: string[] = [];
if (hasCommand("heaptrack")) {
  configs.push({
    name: "heaptrack",
    variant: "system",
    wrapper: ["heaptrack", "-o", `${scratch}/heaptrack`],
    peer: true,
  });
} else missing.push("heaptrack");
if (hasCommand("valgrind")) {
  configs.push({
    name: "valgrind --tool=dhat",
    variant: "system",
    wrapper: ["valgrind", "--tool=dhat", `--dhat-out-file=${scratch}/dhat.json`, "-q"],
    peer: true,
  });
} else missing.push("valgrind");

interface Result {
  elapsed_ns: number;
  max_rss_kib: number;
  counts: Record<string, { allocs: number; bytes: number }>;
}

async function run(config: Config, threads: number): Promise<Result> {
  const args = [String(threads), String(steps), String(rounds)];
  const [command, ...rest] = config.wrapper ?? [binary(config.variant)];
  const commandArgs = config.wrapper === undefined ? args : [...rest, binary(config.variant), ...args];
  const output = await new Deno.Command(command, {
    args: commandArgs,
    cwd: scratch,
    env: config.env ?? {},
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  if (!output.success) throw new Error(`${config.name} failed: ${new TextDecoder().decode(output.stderr)}`);
  const line = text.split("\n").reverse().find((candidate) => candidate.startsWith("{"));
  if (line === undefined) throw new Error(`${config.name} printed no result:\n${text}`);
  return JSON.parse(line);
}

for (const variant of variants) await build(variant);

const speedRows: string[][] = [];
const countRows: string[][] = [];
let disagreements = 0;
for (const threads of [1, 2]) {
  const results = new Map<string, Result[]>(configs.map((config) => [config.name, []]));
  for (let repeat = 0; repeat < repeats; repeat++) {
    for (const config of configs) {
      if (config.peer && repeat >= peerRepeats) continue;
      results.get(config.name)!.push(await run(config, threads));
    }
  }
  const baseline = median(results.get(configs[0].name)!.map((r) => r.elapsed_ns));
  for (const config of configs) {
    const runs = results.get(config.name)!;
    const time = median(runs.map((r) => r.elapsed_ns));
    const rss = median(runs.map((r) => r.max_rss_kib));
    speedRows.push([
      `${threads} thread${threads > 1 ? "s" : ""}`,
      config.name,
      `${(time / 1e6).toFixed(1)} ms`,
      ratio(time, baseline),
      `${(rss / 1024).toFixed(1)} MiB`,
    ]);
  }
  // The same work seen by three profilers: our preloaded Tier 1, the
  // crate's counters and dhat-rs must count the same allocations and bytes.
  const seen = [
    ["mod-alloc-deno (Tier 1)", results.get("mod-alloc-deno Tier 1 (LD_PRELOAD)")![0].counts.modAllocDeno],
    ["mod-alloc crate", results.get("mod-alloc crate, counters")![0].counts.modAllocCrate],
    ["dhat-rs", results.get("dhat-rs (heap)")![0].counts.dhatRs],
  ] as const;
  for (const [name, counts] of seen) {
    const agrees = counts.allocs === seen[0][1].allocs && counts.bytes === seen[0][1].bytes;
    if (!agrees) disagreements++;
    countRows.push([
      `${threads} thread${threads > 1 ? "s" : ""}`,
      name,
      String(counts.allocs),
      String(counts.bytes),
      agrees ? "=" : "DIFFERS",
    ]);
  }
}

const machine = `${Deno.build.arch}, ${navigator.hardwareConcurrency} cores, deno ${Deno.version.deno}`;
console.log(
  `\nRust workload (bench/rust): ${
    steps.toLocaleString("en")
  } window steps + ${rounds} HashMap/tree rounds per thread; ` +
    `median of ${repeats} runs (${peerRepeats} for dhat-rs, heaptrack, valgrind); ${machine}\n`,
);
console.log(markdownTable(["threads", "configuration", "median time", "vs plain", "peak RSS"], speedRows));
console.log("\nAllocations counted for the same work\n");
console.log(markdownTable(["threads", "profiler", "allocations", "bytes", "agrees"], countRows));
if (missing.length > 0) console.log(`\nNot measured (not installed): ${missing.join(", ")}.`);
await Deno.mkdir(`${root}bench/out`, { recursive: true });
await Deno.writeTextFile(
  `${root}bench/out/peers.json`,
  JSON.stringify({ machine, small, speedRows, countRows }, null, 2),
);
Deno.removeSync(scratch, { recursive: true });
if (check && disagreements > 0) {
  console.error(`bench:peers: ${disagreements} profiler counts disagree (see the table above).`);
  Deno.exit(1);
}

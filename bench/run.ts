// `deno task bench`: overhead of the profiler as ratios to a plain run,
// measured in one run, configurations interleaved so machine noise hits
// them alike. Usage: deno run -A bench/run.ts [--small]
// Writes bench/out/results.json and prints markdown tables.
import { markdownTable, median, ratio } from "./stats.ts";
import { hasCommand } from "../tests/support/tools.ts";

const root = new URL("../", import.meta.url).pathname;
const small = Deno.args.includes("--small");
const repeats = small ? 2 : 5;
const steps = small ? 100_000 : 2_000_000;
/** The slow peers (heaptrack, valgrind) run fewer times. */
const peerRepeats = small ? 1 : 3;
const window = 1024;
const memoryWindow = small ? 50_000 : 1_000_000;
const denoRounds = small ? 20 : 300;
const library = `${root}zig-out/lib/libmod_alloc.so`;
const mallocBench = `${root}zig-out/bin/malloc_bench`;

interface Config {
  name: string;
  env: Record<string, string>;
  /** A tool the benchmark runs under (heaptrack, valgrind), if any. */
  wrapper?: string[];
  peer?: boolean;
}

const scratch = Deno.makeTempDirSync({ prefix: "mod-alloc-bench-" });
const configs: Config[] = [
  { name: "plain", env: {} },
  { name: "Tier 1 (LD_PRELOAD)", env: { LD_PRELOAD: library } },
  { name: "Tier 2 (LD_PRELOAD, call sites)", env: { LD_PRELOAD: library, MOD_ALLOC_BACKTRACES: "1" } },
  // Issue 17's sampling mode at Go's and jemalloc's default rate.
  { name: "sampled call sites, 512 KiB (LD_PRELOAD)", env: { LD_PRELOAD: library, MOD_ALLOC_SAMPLE: "524288" } },
];
const missingPeers: string[] = [];
if (hasCommand("heaptrack")) {
  configs.push({ name: "heaptrack", env: {}, wrapper: ["heaptrack", "-o", `${scratch}/heaptrack`], peer: true });
} else missingPeers.push("heaptrack");
if (hasCommand("valgrind")) {
  configs.push({
    name: "valgrind --tool=dhat",
    env: {},
    wrapper: ["valgrind", "--tool=dhat", `--dhat-out-file=${scratch}/dhat.json`, "-q"],
    peer: true,
  });
} else missingPeers.push("valgrind");

async function runJson(command: string, args: string[], env: Record<string, string>): Promise<Record<string, number>> {
  const output = await new Deno.Command(command, { args, env, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(output.stdout).trim();
  if (output.code !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed (${output.code}): ${new TextDecoder().decode(output.stderr)}`);
  }
  // Tools around the program may print lines of their own.
  const line = text.split("\n").reverse().find((candidate) => candidate.startsWith("{"));
  if (line === undefined) throw new Error(`${command} printed no JSON result:\n${text}`);
  return JSON.parse(line);
}

function runConfig(config: Config, args: string[]): Promise<Record<string, number>> {
  const [command, ...rest] = config.wrapper ?? [];
  return config.wrapper === undefined
    ? runJson(mallocBench, args, config.env)
    : runJson(command, [...rest, mallocBench, ...args], config.env);
}

/** A variant of the C loop: extra options of malloc_bench and a row label. */
interface Variant {
  label: string;
  threads: number;
  options: string[];
  /** Run heaptrack and valgrind too (the base rows only: they are slow). */
  peers: boolean;
}

const variants: Variant[] = [
  { label: "C malloc/free, 1 thread", threads: 1, options: [], peers: true },
  { label: "C malloc/free, 2 threads", threads: 2, options: [], peers: true },
  {
    label: "C malloc/free, 1 thread, 16-frame variant (20 frames deep, 8 call sites)",
    threads: 1,
    options: ["--deep"],
    peers: false,
  },
  {
    label: "C malloc/free, 2 threads, 16-frame variant (20 frames deep, 8 call sites)",
    threads: 2,
    options: ["--deep"],
    peers: false,
  },
  { label: "C malloc/free, 1 thread, 1,100 threads alive", threads: 1, options: ["--alive", "1100"], peers: false },
  {
    label: "C malloc/free, 1 thread, after 10,000 exited threads",
    threads: 1,
    options: ["--exited", small ? "2000" : "10000"],
    peers: false,
  },
];

/** Ratios of the quiet 1-thread row, for the "vs quiet" column. */
const quietRatios = new Map<string, number>();

async function variantRows(variant: Variant): Promise<string[][]> {
  const chosen = configs.filter((config) => variant.peers || !config.peer);
  const times = new Map<string, number[]>(chosen.map((config) => [config.name, []]));
  const args = [String(variant.threads), String(steps), String(window), ...variant.options];
  for (let repeat = 0; repeat < repeats; repeat++) {
    for (const config of chosen) {
      if (config.peer && repeat >= peerRepeats) continue;
      const result = await runConfig(config, args);
      times.get(config.name)!.push(result.elapsed_ns / 1e6);
    }
  }
  const baseline = median(times.get("plain")!);
  const rows: string[][] = [];
  for (const config of chosen) {
    const value = median(times.get(config.name)!);
    const quotient = value / baseline;
    if (variant === variants[0]) quietRatios.set(config.name, quotient);
    const quiet = quietRatios.get(config.name);
    const versusQuiet = variant === variants[0] || quiet === undefined || config.name === "plain"
      ? ""
      : `${(quotient / quiet).toFixed(2)}x`;
    rows.push([variant.label, config.name, `${value.toFixed(1)} ms`, ratio(value, baseline), versusQuiet]);
  }
  return rows;
}

async function mallocRows(): Promise<string[][]> {
  const rows: string[][] = [];
  for (const variant of variants) rows.push(...await variantRows(variant));
  return rows;
}

async function denoRows(): Promise<string[][]> {
  const script = `${root}bench/deno_workload.ts`;
  const plain: number[] = [];
  const installed: number[] = [];
  const sampled: number[] = [];
  const workload = async (...options: string[]) =>
    (await runJson(Deno.execPath(), ["run", "-A", script, String(denoRounds), ...options], {})).elapsedMs;
  for (let repeat = 0; repeat < repeats; repeat++) {
    plain.push(await workload());
    installed.push(await workload("--install"));
    sampled.push(await workload("--sample", "524288"));
  }
  const baseline = median(plain);
  return [
    ["Deno typed arrays + JSON", "plain", `${baseline.toFixed(1)} ms`, "1.00x", ""],
    [
      "Deno typed arrays + JSON",
      "Tier 1 (ModAlloc.install())",
      `${median(installed).toFixed(1)} ms`,
      ratio(median(installed), baseline),
      "",
    ],
    [
      "Deno typed arrays + JSON",
      "sampled call sites, 512 KiB (ModAlloc.install({ sampleBytes: 524288 }))",
      `${median(sampled).toFixed(1)} ms`,
      ratio(median(sampled), baseline),
      "",
    ],
  ];
}

async function memoryRow(): Promise<{ row: string[]; perLiveBytes: number }> {
  // One thread, `memoryWindow` blocks live at once (the window fills to
  // 1 - e^-2 = 86% after 2 x window steps): what the profiler holds, as
  // the library reports it (static tables plus pages resident per mincore).
  const args = ["1", String(memoryWindow * 2), String(memoryWindow)];
  const profiled = await runJson(mallocBench, args, { LD_PRELOAD: library });
  const live = Math.round(memoryWindow * (1 - Math.exp(-2)));
  const perLiveBytes = profiled.profiler_bytes / live;
  return {
    perLiveBytes,
    row: [
      `~${live.toLocaleString("en")} live blocks (16-512 B)`,
      `${(profiled.profiler_bytes / 1024).toFixed(0)} KiB`,
      `${perLiveBytes.toFixed(1)} B`,
    ],
  };
}

const speed = [...await mallocRows(), ...await denoRows()];
const memory = await memoryRow();
const machine = `${Deno.build.arch}, ${navigator.hardwareConcurrency} cores, deno ${Deno.version.deno}`;
console.log(
  `\nmod-alloc overhead (median of ${repeats} runs, ${peerRepeats} for heaptrack/valgrind; ` +
    `C: ${steps.toLocaleString("en")} steps per thread; ${small ? "small" : "default"} size; ${machine})\n`,
);
console.log(
  markdownTable(["workload", "configuration", "median time", "vs plain", "vs the quiet 1-thread ratio"], speed),
);
console.log("\nProfiler memory\n");
console.log(markdownTable(["workload", "profiler memory", "per live block"], [memory.row]));
if (missingPeers.length > 0) console.log(`\nNot measured (not installed): ${missingPeers.join(", ")}.`);
Deno.removeSync(scratch, { recursive: true });
await Deno.mkdir(`${root}bench/out`, { recursive: true });
await Deno.writeTextFile(`${root}bench/out/results.json`, JSON.stringify({ machine, small, speed, memory }, null, 2));

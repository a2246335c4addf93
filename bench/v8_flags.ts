// `deno run -A bench/v8_flags.ts [--runs N]`: how many native allocations
// the V8 flags `profile` could pass add to a real npm program
// (tests/support/profile_targets/npm_render.ts), counted exactly by the
// preloaded library (Tier 1, no call sites), as ratios to the same program
// without flags in the same run. Counts, not times: they do not depend on
// the machine's load, though V8's GC and compilers make them vary a little
// from run to run (the table shows medians).
import { markdownTable, median } from "./stats.ts";

const root = new URL("../", import.meta.url).pathname;
const library = `${root}zig-out/lib/libmod_alloc.so`;
const program = `${root}tests/support/profile_targets/npm_render.ts`;
const runsIndex = Deno.args.indexOf("--runs");
const runs = runsIndex >= 0 ? Number(Deno.args[runsIndex + 1]) : 3;

/** The flag sets measured; `--logfile=/dev/null` keeps V8's log out of the working directory. */
const FLAG_SETS: { name: string; flags: string[] }[] = [
  { name: "no flags", flags: [] },
  { name: "--perf-basic-prof", flags: ["--perf-basic-prof", "--logfile=/dev/null"] },
  { name: "--interpreted-frames-native-stack", flags: ["--interpreted-frames-native-stack"] },
  {
    name: "--perf-basic-prof --interpreted-frames-native-stack",
    flags: ["--perf-basic-prof", "--interpreted-frames-native-stack", "--logfile=/dev/null"],
  },
  {
    name: "--perf-basic-prof-only-functions --interpreted-frames-native-stack",
    flags: ["--perf-basic-prof-only-functions", "--interpreted-frames-native-stack", "--logfile=/dev/null"],
  },
  { name: "--perf-prof (jitdump)", flags: ["--perf-prof", "--logfile=/dev/null"] },
  {
    name: "--perf-prof --interpreted-frames-native-stack (profile's)",
    flags: ["--perf-prof", "--interpreted-frames-native-stack", "--logfile=/dev/null"],
  },
];

interface Count {
  blocks: number;
  bytes: number;
}

async function count(flags: string[], dir: string): Promise<Count> {
  const out = `${dir}/out-%p.json`;
  const args = ["run", "-A", "--no-lock"];
  if (flags.length > 0) args.push(`--v8-flags=${flags.join(",")}`);
  const child = await new Deno.Command(Deno.execPath(), {
    args: [...args, program],
    cwd: dir, // --perf-prof writes jit-<pid>.dump into the working directory
    env: { LD_PRELOAD: library, MOD_ALLOC_OUT: out },
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!child.success) throw new Error(`deno ${args.join(" ")} failed: ${new TextDecoder().decode(child.stderr)}`);
  const file = [...Deno.readDirSync(dir)].find((entry) => entry.name.startsWith("out-"));
  if (file === undefined) throw new Error("the preloaded library wrote no file");
  const data = JSON.parse(Deno.readTextFileSync(`${dir}/${file.name}`));
  for (const entry of Deno.readDirSync(dir)) Deno.removeSync(`${dir}/${entry.name}`);
  return { blocks: data.modAlloc.totalBlocks, bytes: data.modAlloc.totalBytes };
}

const dir = Deno.makeTempDirSync({ prefix: "mod-alloc-v8-flags-" });
try {
  const counts = FLAG_SETS.map(() => [] as Count[]);
  // Interleaved: each round measures every flag set once.
  for (let run = 0; run < runs; run++) {
    for (const [i, set] of FLAG_SETS.entries()) counts[i].push(await count(set.flags, dir));
  }
  const blocks = counts.map((list) => median(list.map((c) => c.blocks)));
  const bytes = counts.map((list) => median(list.map((c) => c.bytes)));
  const rows = FLAG_SETS.map((set, i) => [
    set.name,
    String(blocks[i]),
    `${((blocks[i] / blocks[0] - 1) * 100).toFixed(1)}%`,
    `${(bytes[i] / 1048576).toFixed(1)} MiB`,
    `${((bytes[i] / bytes[0] - 1) * 100).toFixed(1)}%`,
  ]);
  console.log(`native allocations of ${program.slice(root.length)} (median of ${runs} runs)\n`);
  console.log(markdownTable(["V8 flags", "allocations", "extra", "bytes", "extra bytes"], rows));
} finally {
  Deno.removeSync(dir, { recursive: true });
}

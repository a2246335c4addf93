// `deno task stress`: reliability evidence. Real programs under preload
// (output unchanged), threads, fork and exec, faults, bad input, fuzzing,
// glibc's heap checks. Prints a report; exits non-zero if anything failed.
// Usage: deno run -A tests/stress/run.ts [--small]
import { fuzzAll } from "./fuzz.ts";
import { realPrograms } from "./programs.ts";
import { hasCommand } from "../support/tools.ts";

const root = new URL("../../", import.meta.url).pathname;
const small = Deno.args.includes("--small");
const library = `${root}zig-out/lib/libmod_alloc.so`;
/** The test build: reads the MOD_ALLOC_TEST_* switches a release library ignores. */
const testLibrary = `${root}zig-out/lib/test/libmod_alloc_test.so`;
const stress = `${root}zig-out/bin/test/stress`;
const sitesMain = `${root}zig-out/bin/test/sites_main`;
const scratch = Deno.makeTempDirSync({ prefix: "mod-alloc-stress-" });
const failures: string[] = [];
const report: string[] = [];

function check(ok: boolean, what: string): void {
  if (!ok) failures.push(what);
}

interface Run {
  code: number;
  stdout: Uint8Array;
  stderr: Uint8Array;
}

/** Runs a program; one that hangs (a deadlock) is killed after `timeoutMs` and fails with code -1. */
async function run(command: string[], env: Record<string, string> = {}, timeoutMs = 300_000): Promise<Run> {
  const output = await new Deno.Command(command[0], {
    args: command.slice(1),
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  return { code: output.signal === null ? output.code : -1, stdout: output.stdout, stderr: output.stderr };
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((byte, i) => byte === b[i]);

/** Allocation events the profiled processes wrote in their DHAT files. */
function eventsIn(dir: string): number {
  let events = 0;
  for (const entry of Deno.readDirSync(dir)) {
    if (!entry.name.startsWith("out-")) continue;
    const data = JSON.parse(Deno.readTextFileSync(`${dir}/${entry.name}`));
    // Sampled files carry the exact count beside the estimates.
    events += data.modAlloc?.sampling?.exactBlocks ?? data.modAlloc?.totalBlocks ?? 0;
    Deno.removeSync(`${dir}/${entry.name}`);
  }
  return events;
}

async function realProgramsSection(): Promise<void> {
  const rows: string[] = [];
  for (const program of realPrograms(root, Deno.execPath())) {
    if (!hasCommand(program.requires)) {
      rows.push(`| ${program.name} | not installed | | | |`);
      continue;
    }
    const plain = await run(program.command);
    const counts: string[] = [];
    // Tier 2 with the profile command's table size: node and deno make more
    // distinct stacks than the raw default holds, and an overflowing table is
    // announced on stderr at exit, which this byte-for-byte check would count
    // as changed output (tests/exit_report_test.ts pins that notice).
    const tier2 = { MOD_ALLOC_BACKTRACES: "1", MOD_ALLOC_BUCKETS: "65536" };
    const sampled = { MOD_ALLOC_SAMPLE: "524288", MOD_ALLOC_BUCKETS: "65536" };
    for (const [tier, extra] of [["Tier 1", {}], ["Tier 2", tier2], ["sampled", sampled]] as const) {
      const dir = Deno.makeTempDirSync({ dir: scratch });
      const profiled = await run(program.command, {
        LD_PRELOAD: library,
        MOD_ALLOC_OUT: `${dir}/out-%p.json`,
        ...extra,
      });
      const unchanged = profiled.code === plain.code && same(profiled.stdout, plain.stdout) &&
        same(profiled.stderr, plain.stderr);
      check(unchanged, `${program.name} under ${tier}: output or exit code changed`);
      const events = eventsIn(dir);
      check(events > 0, `${program.name} under ${tier}: no allocation events recorded`);
      counts.push(`${unchanged ? "same" : "CHANGED"}, ${events.toLocaleString("en")} events`);
    }
    rows.push(`| ${program.name} | exit ${plain.code} | ${counts.join(" | ")} |`);
  }
  report.push(
    "### Real programs under LD_PRELOAD (stdout, stderr and exit code compared byte for byte with a plain run)\n",
    "| program | plain | Tier 1 | Tier 2 | sampled call sites, 512 KiB |",
    "| --- | --- | --- | --- | --- |",
    ...rows,
    "",
  );
}

async function stressJson(command: string[], env: Record<string, string>, what: string) {
  const result = await run(command, { LD_PRELOAD: library, ...env });
  check(result.code === 0, `${what}: exit code ${result.code}: ${text(result.stderr).slice(0, 300)}`);
  const line = text(result.stdout).trim().split("\n").at(-1) ?? "{}";
  try {
    return JSON.parse(line);
  } catch {
    failures.push(`${what}: no result line`);
    return {};
  }
}

async function processSection(): Promise<void> {
  const ms = small ? 300 : 5000;
  const rows: string[] = [];
  for (const [tier, env] of [["Tier 1", {}], ["Tier 2", { MOD_ALLOC_BACKTRACES: "1" }]] as const) {
    const threads = await stressJson([stress, "threads", "8", String(ms)], env, `threads (${tier})`);
    rows.push(
      `| threads, ${tier} | 8 threads + ${threads.holderThreads} short-lived ones, ${ms} ms, blocks freed across threads | ` +
        `${
          (threads.events ?? 0).toLocaleString("en")
        } events; live bytes Δ ${threads.liveBytesDelta}, blocks Δ ${threads.liveBlocksDelta} |`,
    );
    const children = small ? 10 : 200;
    const forked = await stressJson([stress, "fork", String(children)], env, `fork (${tier})`);
    rows.push(
      `| fork, ${tier} | ${children} forks while 2 threads allocate; each child checks its counters | ${forked.failures} failures |`,
    );
    const exec = await run(["sh", "-c", `exec ${stress} churn 20000`], { LD_PRELOAD: library, ...env });
    check(exec.code === 0, `exec (${tier}) failed`);
    rows.push(`| exec, ${tier} | sh exec's the program under preload | exit ${exec.code} |`);
    const oom = await run(["sh", "-c", `ulimit -v 400000; exec ${stress} oom`], { LD_PRELOAD: library, ...env });
    check(oom.code === 0, `out of memory (${tier}): ${text(oom.stdout)}`);
    rows.push(
      `| out of memory, ${tier} | ulimit -v 400 MB: malloc until NULL, an overflowing calloc | ${
        text(oom.stdout).trim()
      } |`,
    );
  }
  const full = await stressJson(
    [stress, "hold", "60000", "1100"],
    { LD_PRELOAD: testLibrary, MOD_ALLOC_TEST_LARGE_TABLE_MAX: "1024" },
    "full table",
  );
  check(full.foreign > 0, "full table: no block was left unrecorded");
  // A release library ignores the test switch (it is read by the test build only).
  const release = await stressJson(
    [stress, "hold", "60000", "1100"],
    { MOD_ALLOC_TEST_LARGE_TABLE_MAX: "1024" },
    "test switch in a release library",
  );
  check(release.foreign === 0, `a release library obeyed MOD_ALLOC_TEST_LARGE_TABLE_MAX: ${release.foreign} foreign`);
  rows.push(
    `| live table full | hash table capped (test switch); 60,000 blocks of 1100 B held at once, then freed | ` +
      `${full.counted} counted, ${full.foreign} forwarded unrecorded; live Δ ${full.liveBytesDelta} B after the frees; ` +
      `the release library, given the same switch, recorded all (${release.foreign} forwarded) |`,
  );
  const nofp = await stressJson([stress, "nofp"], { MOD_ALLOC_BACKTRACES: "1" }, "garbage frame pointer");
  rows.push(
    `| corrupt frame chain | ${nofp.allocations} mallocs with a garbage frame pointer, call sites on | no fault |`,
  );
  const checked = await run([stress, "threads", "4", String(small ? 200 : 2000)], {
    LD_PRELOAD: library,
    MOD_ALLOC_BACKTRACES: "1",
    MALLOC_CHECK_: "3",
    GLIBC_TUNABLES: "glibc.malloc.perturb=165:glibc.malloc.tcache_count=0",
  });
  check(checked.code === 0, `glibc heap checks: exit ${checked.code} ${text(checked.stderr).slice(0, 200)}`);
  rows.push(`| glibc heap checks | threads under MALLOC_CHECK_=3, perturbed frees, no tcache | exit ${checked.code} |`);
  const churned = small ? 5_000 : 100_000;
  for (const sites of [false, true]) {
    const probe = await stressJson(
      [`${root}zig-out/bin/test/thread_records`, "churn", String(churned), "0", "10000"],
      sites ? { MOD_ALLOC_BACKTRACES: "1" } : {},
      "thread churn",
    );
    const exact = probe.start?.allocCount === 0 && probe.start?.currentBytes === 0 &&
      probe.after?.allocCount === 10_000 && probe.after?.totalBytes === 480_000 && probe.after?.currentBytes === 0;
    check(exact, `thread churn${sites ? " with call sites" : ""}: ${JSON.stringify(probe).slice(0, 300)}`);
    rows.push(
      `| thread churn, Tier ${sites ? 2 : 1} | ${churned.toLocaleString("en")} short-lived threads on new stacks, ` +
        `then a new thread's own counters | ${exact ? "start at 0, 10,000 pairs exact" : "WRONG"}; ` +
        `${probe.figures?.chunks} record chunks for ${probe.figures?.claimsTotal} claims |`,
    );
  }
  report.push("### Threads, fork, exec, faults\n", "| case | what | result |", "| --- | --- | --- |", ...rows, "");
}

const bin = `${root}zig-out/bin/test`;

/** Issue 16's hosts: fork storms, signals at every lock, fibers, small stacks, a program's own allocator. */
async function hostSection(): Promise<void> {
  const rows: string[] = [];
  const forks = small ? 40 : 1000;
  const storm = await run([`${bin}/fork_handlers`, library, String(forks), "4"], {}, 120_000);
  check(
    storm.code === 0,
    `fork storm (run time): exit ${storm.code}: ${text(storm.stdout)} ${text(storm.stderr).slice(0, 200)}`,
  );
  rows.push(
    `| fork storm, run-time install | ${forks} forks while 4 threads allocate; fork handlers registered before ` +
      `install malloc, free and dlopen | ${storm.code === 0 ? "every child clean" : "FAILED"} |`,
  );
  const rounds = small ? 10 : 200;
  for (const [tier, env] of [["Tier 1", {}], ["Tier 2", { MOD_ALLOC_BACKTRACES: "1" }]] as const) {
    const forkers = await stressJson([stress, "forkers", "4", String(rounds)], env, `forking threads (${tier})`);
    rows.push(
      `| forking threads, ${tier} | 4 threads fork ${rounds} times each, at once; each keeps its own record and ` +
        `exact counts | ${forkers.failures} failures |`,
    );
  }
  const signalRuns: [string, string[], Record<string, string>][] = [
    ["preload, Tier 1", ["preload"], { LD_PRELOAD: testLibrary }],
    ["preload, Tier 2", ["preload"], { LD_PRELOAD: testLibrary, MOD_ALLOC_BACKTRACES: "1" }],
    ["run-time install", ["runtime", testLibrary], {}],
  ];
  for (const [how, args, env] of signalRuns) {
    const result = await run([`${bin}/signal_in_locks`, ...args], env, 60_000);
    check(result.code === 0, `signals in locks (${how}): exit ${result.code} ${text(result.stderr).slice(0, 200)}`);
    const phases = result.code === 0 ? JSON.parse(text(result.stdout)) : {};
    rows.push(
      `| signals in locks, ${how} | SIGUSR1 at every lock the test build takes; the handler allocates | ` +
        `${result.code === 0 ? "no deadlock" : "HUNG or FAILED"}; handled: hooks ${phases.hooks}, threads ` +
        `${phases.threads}, fork ${phases.fork}, reads ${phases.reads} |`,
    );
  }
  const switches = small ? 50 : 2000;
  for (const [tier, env] of [["Tier 1", {}], ["Tier 2", { MOD_ALLOC_BACKTRACES: "1" }]] as const) {
    const fibers = await stressJson([stress, "fibers", "16", String(switches)], env, `fibers (${tier})`);
    rows.push(
      `| fibers, ${tier} | 16 ucontext fibers on stacks 8 MiB apart with unmapped holes, ${switches} switches each, ` +
        `half through a frame pointer that is data | ${fibers.allocCounted} of ${fibers.mallocs} mallocs counted |`,
    );
  }
  const exits = small ? 2 : 25;
  let exitsOk = 0;
  for (let i = 0; i < exits; i++) {
    for (const [mode, code] of [["thread", 7], ["altstack", 9]] as const) {
      const dir = Deno.makeTempDirSync({ dir: scratch });
      const result = await run([`${bin}/small_stack_exit`, mode], {
        LD_PRELOAD: library,
        MOD_ALLOC_BACKTRACES: i % 2 === 0 ? "1" : "0",
        MOD_ALLOC_OUT: `${dir}/out-%p.json`,
      });
      const written = eventsIn(dir) >= 100;
      check(result.code === code && written, `small-stack exit (${mode}): exit ${result.code}, report ${written}`);
      if (result.code === code && written) exitsOk++;
    }
  }
  rows.push(
    `| exits from small stacks | exit() on a 16 KiB thread stack, _exit() on a 16 KiB sigaltstack, ${exits} each, ` +
      `both tiers | ${exitsOk} of ${exits * 2} kept their exit code and wrote the report |`,
  );
  const plain = await run([`${bin}/own_allocator`, "2000"]);
  for (const [tier, env] of [["Tier 1", {}], ["Tier 2", { MOD_ALLOC_BACKTRACES: "1" }]] as const) {
    const result = await run([`${bin}/own_allocator`, "2000"], { LD_PRELOAD: library, ...env });
    const warned = text(result.stderr).split("\n").filter((line) => line.includes("defines its own malloc")).length;
    const ok = result.code === 0 && same(result.stdout, plain.stdout) && warned === 1;
    check(ok, `own allocator (${tier}): exit ${result.code}, ${warned} warnings, ${text(result.stdout)}`);
    rows.push(
      `| own allocator, ${tier} | the executable defines malloc…valloc, calls reallocarray and pvalloc | ` +
        `${ok ? "output as plain, one warning" : "FAILED"} |`,
    );
  }
  report.push("### Hosts (issue 16)\n", "| case | what | result |", "| --- | --- | --- |", ...rows, "");
}

async function runtimeSection(): Promise<void> {
  const result = await run([
    Deno.execPath(),
    "run",
    "-A",
    "--no-lock",
    `${root}tests/stress/runtime_child.ts`,
    small ? "20" : "200",
  ]);
  check(result.code === 0, `run-time install faults: exit ${result.code}: ${text(result.stderr).slice(0, 400)}`);
  const out = JSON.parse(text(result.stdout).trim().split("\n").at(-1) ?? "{}");
  report.push(
    "### Run-time install (in a Deno child)\n",
    `- uninstall/install ${out.cycles} times while 4 native threads allocate: ${
      out.threadsOk ? "no fault, threads finished" : "FAILED"
    }`,
    `- a library dlopen-ed after install (its slots patched) closed, then uninstall: ${
      out.dlcloseOk ? "no fault" : "FAILED"
    }`,
    `- the API before install and after uninstall: ${out.apiOk ? "answers, no fault" : "FAILED"}`,
    "",
  );
  check(out.threadsOk && out.dlcloseOk && out.apiOk, "run-time install faults");
}

async function badInputSection(): Promise<void> {
  const values = ["", "abc", "-1", "0", "99999999999999999999", "1e3", " 16", "16 ", "0x10", "NaN", "∞"];
  let tried = 0;
  for (const variable of ["MOD_ALLOC_FRAMES", "MOD_ALLOC_BUCKETS", "MOD_ALLOC_BACKTRACES"]) {
    for (const value of values) {
      const result = await run([sitesMain, "10"], {
        LD_PRELOAD: library,
        MOD_ALLOC_BACKTRACES: "1",
        [variable]: value,
      });
      tried++;
      check(result.code === 0, `${variable}=${JSON.stringify(value)}: exit ${result.code}`);
      const warned = text(result.stderr).includes(`mod-alloc: ${variable}=`);
      const accepted = value === "" || (variable === "MOD_ALLOC_BACKTRACES" && value === "0");
      check(
        warned !== accepted,
        `${variable}=${JSON.stringify(value)}: ${warned ? "unexpected warning" : "no warning"}`,
      );
    }
  }
  for (const path of ["", "/nonexistent-dir/out.json", "/proc/out.json"]) {
    const result = await run([stress, "churn", "100"], { LD_PRELOAD: library, MOD_ALLOC_OUT: path });
    tried++;
    check(result.code === 0, `MOD_ALLOC_OUT=${path}: exit ${result.code}`);
  }
  const libraries = [["a missing library", "/nonexistent/libmod_alloc.so"], ["a text file", `${root}deno.json`], [
    "another ABI version",
    `${root}zig-out/lib/test/libmod_alloc_abi_skew.so`,
  ]];
  for (const [what, path] of libraries) {
    const result = await run([Deno.execPath(), "run", "-A", "--no-lock", `${root}tests/support/install_child.ts`], {
      MOD_ALLOC_LIB: path,
    });
    tried++;
    const out = JSON.parse(text(result.stdout).trim() || "{}");
    check(result.code === 0 && out.ok === false, `${what}: not refused cleanly`);
  }
  report.push(
    "### Bad input\n",
    `- ${tried} bad values tried: every MOD_ALLOC_FRAMES, MOD_ALLOC_BUCKETS and MOD_ALLOC_BACKTRACES value in ` +
      `${JSON.stringify(values)} (a warning and the default, never a crash), unwritable MOD_ALLOC_OUT paths ` +
      `(a warning, no file), ${libraries.map(([what]) => what).join(", ")} for MOD_ALLOC_LIB (a clear error). ` +
      "Install options, profile command flags and report paths are covered by the Deno tests.",
    "",
  );
}

function fuzzSection(): void {
  const results = fuzzAll(`${root}zig-out/lib/libmod_alloc_fixture.so`, small ? 0.5 : 10);
  report.push(
    "### Fuzzing (bounded)\n",
    "| target | inputs | rejected with an error | unexpected |",
    "| --- | --- | --- | --- |",
  );
  for (const result of results) {
    report.push(`| ${result.target} | ${result.inputs} | ${result.rejected} | ${result.unexpected.length} |`);
    check(result.unexpected.length === 0, `fuzz ${result.target}: ${result.unexpected.join("; ")}`);
    check(result.inputs > 0, `fuzz ${result.target}: no inputs`);
  }
  report.push("");
}

await realProgramsSection();
await processSection();
await hostSection();
await runtimeSection();
await badInputSection();
fuzzSection();
Deno.removeSync(scratch, { recursive: true });
console.log(`## Stress (${small ? "small" : "full"} size)\n\n${report.join("\n")}`);
if (failures.length > 0) {
  console.error(`\nstress: ${failures.length} failures:\n- ${failures.join("\n- ")}`);
  Deno.exit(1);
}
console.log("Nothing crashed and nothing was lost.");

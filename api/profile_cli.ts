/**
 * `profile`: runs a Deno script in a child `deno` with the library
 * preloaded, call sites on and V8's perf map enabled, then writes a DHAT
 * file (and optionally a flame graph) and prints a summary on stderr. The
 * child's stdin, stdout, stderr and exit code pass through untouched.
 *
 * @module
 */

import { libraryCandidates } from "../ffi/library.ts";
import { type DhatFile, type DhatSite, finishDhatFile, writeFileAtomically } from "./dhat.ts";
import { collapsedStacks, flameGraphHtml } from "./flamegraph.ts";
import { formatBytes } from "./report.ts";

/** Settings of one profile run. */
export interface ProfileSettings {
  output: string;
  frames: number;
  buckets: number;
  top: number;
  flamegraph?: string;
  js: boolean;
  denoFlags: string[];
  script: string;
  scriptArgs: string[];
}

/** A usage error: printed with the usage, exit code 2. */
export class UsageError extends Error {}

export const USAGE = `usage: deno task profile [options] <script.ts> [script args...]
       deno run -A cli.ts [options] <script.ts> [script args...]

Runs the script in a child deno with mod-alloc preloaded and call sites on,
then writes a DHAT file (open it in valgrind's dh_view.html) and prints the
top allocation sites. The script's output and exit code pass through.

options:
  -o, --output <file>     DHAT file to write (default dhat-heap.json)
  --frames <1-64>         frames walked per allocation (default 24)
  --buckets <n>           call-site table entries, 16-1048576 (default 65536)
  --top <n>               sites in the summary (default 10)
  --flamegraph <file>     also write a flame graph (HTML) and <file>.folded
  --no-js                 do not ask V8 for its perf map (no JS frame names)
  -h, --help              this text
deno run flags passed to the child: -A, --allow-*, --deny-*, --v8-flags=...,
  --unstable*, -c/--config, --import-map, --no-check, --lock, --no-lock,
  --env-file, --cached-only, --location, --seed, --node-modules-dir, -q, -r`;

const PASSED_WITH_VALUE = new Set(["-c", "--config", "--import-map", "--lock", "--location", "--seed", "--env-file"]);
const PASSED_PATTERN =
  /^(-A|--allow-[a-z-]+(=.*)?|--deny-[a-z-]+(=.*)?|--v8-flags=.*|--unstable(-[a-z-]+)?|--no-check(=.*)?|--no-lock|--cached-only|--node-modules-dir(=.*)?|-q|--quiet|-r|--reload(=.*)?|--(config|import-map|lock|location|seed|env-file)=.*)$/;

function integer(value: string | undefined, name: string, min: number, max: number): number {
  const parsed = Number(value);
  if (value === undefined || !/^\d+$/.test(value) || parsed < min || parsed > max) {
    throw new UsageError(
      `${name} needs a whole number from ${min} to ${max}; got ${value === undefined ? "nothing" : `"${value}"`}.`,
    );
  }
  return parsed;
}

/** Parses the command line; throws `UsageError` on bad usage. `null` = help. */
export function parseArgs(args: string[]): ProfileSettings | null {
  const settings: Omit<ProfileSettings, "script" | "scriptArgs"> = {
    output: "dhat-heap.json",
    frames: 24,
    buckets: 1 << 16,
    top: 10,
    js: true,
    denoFlags: [],
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = () => {
      if (i + 1 >= args.length) throw new UsageError(`${arg} needs a value.`);
      return args[++i];
    };
    if (arg === "-h" || arg === "--help") return null;
    else if (arg === "-o" || arg === "--output") settings.output = value();
    else if (arg.startsWith("--output=")) settings.output = arg.slice(9);
    else if (arg === "--frames") settings.frames = integer(value(), "--frames", 1, 64);
    else if (arg === "--buckets") settings.buckets = integer(value(), "--buckets", 16, 1 << 20);
    else if (arg === "--top") settings.top = integer(value(), "--top", 0, 10_000);
    else if (arg === "--flamegraph") settings.flamegraph = value();
    else if (arg === "--no-js") settings.js = false;
    else if (PASSED_WITH_VALUE.has(arg)) settings.denoFlags.push(arg, value());
    else if (PASSED_PATTERN.test(arg)) settings.denoFlags.push(arg);
    else if (arg === "--") {
      if (i + 1 >= args.length) break;
      return { ...settings, script: args[i + 1], scriptArgs: args.slice(i + 2) };
    } else if (arg.startsWith("-")) throw new UsageError(`unknown option ${arg}.`);
    else return { ...settings, script: arg, scriptArgs: args.slice(i + 1) };
  }
  throw new UsageError("no script to profile.");
}

/** Fails early, before the script runs, if `path` cannot be written. */
function checkWritable(path: string, what: string): void {
  const slash = path.lastIndexOf("/");
  const directory = slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
  try {
    const probe = Deno.makeTempFileSync({ dir: directory, prefix: ".mod-alloc-probe-" });
    Deno.removeSync(probe);
  } catch (error) {
    throw new UsageError(`cannot write the ${what} ${path}: ${(error as Error).message}.`);
  }
}

function libraryPath(): string {
  for (const { path } of libraryCandidates()) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // next candidate
    }
  }
  throw new UsageError("libmod_alloc.so is not built: run `bash tools/dev.sh build` first.");
}

/** The deno run flags for the child: the user's, plus V8's perf map. */
function childFlags(settings: ProfileSettings): string[] {
  if (!settings.js) return settings.denoFlags;
  // --logfile: --perf-basic-prof also opens V8's own log, by default a
  // file in the working directory.
  const ours = "--perf-basic-prof,--interpreted-frames-native-stack,--logfile=/dev/null";
  const user = settings.denoFlags.find((flag) => flag.startsWith("--v8-flags="));
  const rest = settings.denoFlags.filter((flag) => flag !== user);
  return [...rest, user === undefined ? `--v8-flags=${ours}` : `${user},${ours}`];
}

function summary(settings: ProfileSettings, data: DhatFile, sites: DhatSite[], code: number): string {
  const totals = data.modAlloc;
  const lines = [`mod-alloc: profile of ${settings.script} (exit code ${code})`];
  if (totals !== undefined) {
    lines.push(
      `  total  ${totals.totalBlocks} allocations, ${formatBytes(totals.totalBytes)}`,
      `  peak   ${formatBytes(totals.peakBytes)} in ${totals.peakBlocks} blocks`,
      `  at end ${formatBytes(totals.endBytes)} in ${totals.endBlocks} blocks`,
    );
  }
  const top = [...sites].sort((a, b) => b.pp.tb - a.pp.tb).slice(0, settings.top);
  if (top.length > 0) {
    lines.push(`  top ${top.length} sites by bytes:`);
    top.forEach((site, i) => {
      lines.push(
        `  ${String(i + 1).padStart(3)}. ${formatBytes(site.pp.tb).padStart(10)} ${
          String(site.pp.tbk).padStart(7)
        } allocs  ${site.label}`,
      );
    });
  }
  const overflow = sites.find((site) => site.label.startsWith("[mod-alloc overflow"));
  if (overflow !== undefined) {
    lines.push(
      `  ${overflow.pp.tbk} allocations did not fit the site table: raise --buckets (now ${settings.buckets}).`,
    );
  }
  return lines.join("\n");
}

function stacksOf(sites: DhatSite[]) {
  return sites.map((site) => ({ frames: [...site.frames].reverse(), bytes: site.pp.tb }));
}

/** Runs the command; returns the exit code to use. */
export async function main(args: string[]): Promise<number> {
  let settings: ProfileSettings | null;
  try {
    settings = parseArgs(args);
    if (settings === null) {
      console.log(USAGE);
      return 0;
    }
    checkWritable(settings.output, "output file");
    if (settings.flamegraph !== undefined) checkWritable(settings.flamegraph, "flame graph");
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`profile: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  const library = libraryPath();
  const preload = [library, Deno.env.get("LD_PRELOAD")].filter((entry) => entry).join(":");
  const rawTemplate = `${settings.output}.raw-%p`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...childFlags(settings), settings.script, ...settings.scriptArgs],
    env: {
      LD_PRELOAD: preload,
      MOD_ALLOC_BACKTRACES: "1",
      MOD_ALLOC_FRAMES: String(settings.frames),
      MOD_ALLOC_BUCKETS: String(settings.buckets),
      MOD_ALLOC_OUT: rawTemplate,
    },
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const status = await child.status;
  const code = status.signal === null
    ? status.code
    : 128 + (Deno.build.os === "linux" ? signalNumber(status.signal) : 0);
  const raw = rawTemplate.replace("%p", String(child.pid));
  try {
    const sites = finishDhatFile(raw, settings.output);
    const data = JSON.parse(Deno.readTextFileSync(settings.output)) as DhatFile;
    if (settings.flamegraph !== undefined) {
      const stacks = stacksOf(sites);
      writeFileAtomically(settings.flamegraph, flameGraphHtml(stacks, `Allocated bytes: ${settings.script}`));
      writeFileAtomically(`${settings.flamegraph}.folded`, collapsedStacks(stacks));
    }
    console.error(summary(settings, data, sites, code));
    console.error(`  DHAT file: ${settings.output} (open in /usr/libexec/valgrind/dh_view.html)`);
    if (settings.flamegraph !== undefined) {
      console.error(`  flame graph: ${settings.flamegraph} (collapsed stacks: ${settings.flamegraph}.folded)`);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      console.error(
        `mod-alloc: the profiled process wrote no report (it was killed${
          status.signal ? ` by ${status.signal}` : ""
        }, or exec'd another program).`,
      );
    } else {
      console.error(`mod-alloc: could not finish the report: ${(error as Error).message}`);
    }
  } finally {
    for (const leftover of [raw, `/tmp/perf-${child.pid}.map`]) {
      try {
        Deno.removeSync(leftover);
      } catch {
        // not there
      }
    }
  }
  return code;
}

function signalNumber(signal: Deno.Signal): number {
  const numbers: Partial<Record<Deno.Signal, number>> = { SIGINT: 2, SIGKILL: 9, SIGSEGV: 11, SIGTERM: 15, SIGABRT: 6 };
  return numbers[signal] ?? 0;
}

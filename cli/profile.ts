/**
 * `profile`: runs a script or any command with the library preloaded and
 * call sites on, then names the report, writes the DHAT file (and a flame
 * graph) and prints a summary on stderr. The program's stdin, stdout,
 * stderr and exit code pass through untouched.
 *
 * @module
 */

import { nameDhatFile } from "../api/dhat.ts";
import { ModAllocError } from "../types/errors.ts";
import { type ChildCommand, childCommand } from "./child_command.ts";
import { childEnvironment, libraryPath, perfMapPath, rawReportPath, rawReportPids } from "./child_environment.ts";
import { type OptionSpec, parseOptions, UsageError } from "./options.ts";
import { checkReportOutputs, childPath, expandPid } from "./paths.ts";
import { forwardSignals, type ProgramExit, waitForExit } from "./signals.ts";
import { printWritten, summary, writeFlameGraph } from "./summary.ts";
import {
  HELP_OPTION,
  outputOption,
  REPORT_SHAPE_DEFAULTS,
  REPORT_SHAPE_OPTIONS,
  type ReportShape,
} from "./shared_options.ts";
import { FORMAT_OPTIONS, type FormatOutputs, formatPaths, withCheckedPaths, writeFormats } from "./formats.ts";

/** The profile command's options, in the order `--help` lists them. */
export const PROFILE_OPTIONS: readonly OptionSpec[] = [
  outputOption("DHAT file to write (default dhat-heap.json; %p becomes the pid)"),
  {
    names: ["--frames"],
    key: "frames",
    kind: "integer",
    placeholder: "1-64",
    min: 1,
    max: 64,
    help: "frames walked per allocation (default 64: deep enough for JS under V8's recursive frames)",
  },
  {
    names: ["--buckets"],
    key: "buckets",
    kind: "integer",
    placeholder: "n",
    min: 16,
    max: 1 << 20,
    help: "call-site table entries, 16-1048576 (default 65536)",
  },
  {
    names: ["--sample"],
    key: "sample",
    kind: "integer",
    placeholder: "bytes",
    min: 1,
    max: 1 << 30,
    help: "sampling mode: call sites for one allocation per this many bytes on average (e.g. 524288), " +
      "near the cost of no profiler; sites become estimates with standard errors, totals stay exact",
  },
  ...REPORT_SHAPE_OPTIONS,
  ...FORMAT_OPTIONS,
  {
    names: ["--no-js"],
    key: "js",
    kind: "flag",
    value: false,
    help: "do not ask V8 for its jitdump (no JS frame names; about 40% fewer allocation events)",
  },
  {
    names: ["--follow-children"],
    key: "followChildren",
    kind: "flag",
    help: "profile child processes too, each into its own file (<output>-<pid>.json)",
  },
  HELP_OPTION,
  { names: ["-V", "--version"], key: "version", kind: "flag", help: "the version" },
];

// 64 frames: the most the core walks, deep enough to reach JS under V8's
// recursive parser and compiler frames and a thread's entry; measured no
// slower than 24 on a real npm program (README, "Profiling a program").
const DEFAULTS = {
  ...REPORT_SHAPE_DEFAULTS,
  output: "dhat-heap.json",
  frames: 64,
  buckets: 1 << 16,
  sample: 0,
  js: true,
  followChildren: false,
};

/** Settings of one profile run. */
export interface ProfileSettings extends FormatOutputs, ReportShape {
  output: string;
  frames: number;
  buckets: number;
  /** Sampling mode's mean interval in bytes; 0: every allocation. */
  sample: number;
  js: boolean;
  followChildren: boolean;
  command: ChildCommand;
}

/** Parses the command line (after the options come the script or command). */
export function parseProfileArgs(args: string[]): ProfileSettings | "help" | "version" {
  const parsed = parseOptions(args, PROFILE_OPTIONS);
  if (parsed.values.help) return "help";
  if (parsed.values.version) return "version";
  const values = { ...DEFAULTS, ...parsed.values } as typeof DEFAULTS & { flamegraph?: string };
  return { ...values, command: childCommand(args.slice(parsed.rest), parsed.unknown) };
}

/** Why there is no report, in words, when the program left none. */
function missingReport(exit: ProgramExit): string {
  if (exit.signal !== null) return `it was killed by ${exit.signal} before it could write one`;
  return "it was not a dynamically linked glibc program, or it ended without running exit handlers (Go programs do)";
}

/** The main process's report: DHAT file, flame graph, summary. */
function writeMainReport(settings: ProfileSettings, scratch: string, pid: number, exit: ProgramExit): void {
  const title = `${settings.command.display} (exit code ${exit.code})`;
  if (!rawReportPids(scratch).includes(pid)) {
    console.error(`mod-alloc: ${title} wrote no report: ${missingReport(exit)}.`);
    return;
  }
  const output = expandPid(settings.output, pid);
  const flamegraph = settings.flamegraph === undefined ? undefined : expandPid(settings.flamegraph, pid);
  const names = { perfMap: perfMapPath(scratch, pid), jitDumpDirectory: scratch };
  const { data, sites } = nameDhatFile(rawReportPath(scratch, pid), output, names);
  if (flamegraph !== undefined) {
    writeFlameGraph(flamegraph, sites, settings.command.display, settings.flamegraphView, settings.bytes);
  }
  console.error(summary(`profile of ${title}`, data, sites, settings.top, settings.groupBy, settings.bytes));
  printWritten(output, flamegraph);
  writeFormats(
    {
      pprof: settings.pprof && expandPid(settings.pprof, pid),
      heapprofile: settings.heapprofile && expandPid(settings.heapprofile, pid),
      html: settings.html && expandPid(settings.html, pid),
    },
    data,
    sites,
    { title, top: Math.max(settings.top, 20), groupBy: settings.groupBy, view: settings.flamegraphView },
  );
}

/** The children's reports (with --follow-children), one file each, listed. */
function writeChildReports(settings: ProfileSettings, scratch: string, pid: number): void {
  const children = rawReportPids(scratch).filter((other) => other !== pid);
  if (!settings.followChildren && settings.command.args[0] === "task" && /deno$/.test(settings.command.program)) {
    console.error("  deno task runs its commands as child processes: add --follow-children to profile them.");
  }
  if (children.length > 0) console.error(`  ${children.length} child process${children.length === 1 ? "" : "es"}:`);
  for (const child of children) {
    const path = childPath(settings.output, child);
    const names = { perfMap: perfMapPath(scratch, child), jitDumpDirectory: scratch };
    const { data } = nameDhatFile(rawReportPath(scratch, child), path, names);
    console.error(
      `    pid ${child}: ${path} (${data.modAlloc?.totalBlocks ?? "?"} allocations) ${data.cmd.slice(0, 80)}`,
    );
  }
}

/** Runs the profile command; returns the exit code to use. */
export async function profileMain(settings: ProfileSettings): Promise<number> {
  const script = settings.command.script;
  const inputs = script === undefined ? [] : [{ path: script, what: "script" }];
  const [output, flamegraph, ...formats] = checkReportOutputs(
    settings.output,
    settings.flamegraph,
    inputs,
    formatPaths(settings),
  );
  settings = { ...settings, output, flamegraph, ...withCheckedPaths(settings, formats) };
  const library = await libraryPath();
  const scratch = Deno.makeTempDirSync({ prefix: "mod-alloc-profile-" });
  try {
    const env = childEnvironment(settings, scratch, library);
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(settings.command.program, {
        args: settings.command.args,
        env,
        stdin: "inherit",
        stdout: "inherit",
        stderr: "inherit",
      }).spawn();
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      console.error(`profile: ${settings.command.program}: command not found.`);
      return 127;
    }
    const stopForwarding = forwardSignals(child);
    const exit = await waitForExit(child).finally(stopForwarding);
    try {
      writeMainReport(settings, scratch, child.pid, exit);
      writeChildReports(settings, scratch, child.pid);
    } catch (error) {
      // Whatever went wrong with the report, the program's exit code passes through.
      const message = error instanceof ModAllocError ? error.message : String(error);
      console.error(`mod-alloc: could not finish the report: ${message}`);
    }
    return exit.code;
  } finally {
    Deno.removeSync(scratch, { recursive: true });
  }
}

export { UsageError };

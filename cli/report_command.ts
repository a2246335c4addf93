/**
 * `profile report <file.json>`: names a raw file written by the library in
 * any program (`MOD_ALLOC_OUT`), or re-reads a named DHAT file, and writes
 * the DHAT file, the flame graph and the summary again.
 *
 * @module
 */

import { nameDhatFile } from "../api/dhat.ts";
import { type OptionSpec, parseOptions, UsageError } from "./options.ts";
import { checkReportOutputs } from "./paths.ts";
import { printWritten, summary, writeFlameGraph } from "./summary.ts";
import { FLAMEGRAPH_OPTION, HELP_OPTION, outputOption, TOP_OPTION } from "./shared_options.ts";

/** The report command's options. */
export const REPORT_OPTIONS: readonly OptionSpec[] = [
  outputOption("named DHAT file to write (default dhat-heap.json; may be the input)"),
  FLAMEGRAPH_OPTION,
  {
    names: ["--perf-map"],
    key: "perfMap",
    kind: "string",
    placeholder: "file",
    help: "V8's perf map of the process (default: the one its command line asked for, if any)",
  },
  TOP_OPTION,
  HELP_OPTION,
];

/** Settings of the report command. */
export interface ReportSettings {
  input: string;
  output: string;
  flamegraph?: string;
  perfMap?: string;
  top: number;
  help?: boolean;
}

/** Parses `report`'s arguments (after the word `report`). */
export function parseReportArgs(args: string[]): ReportSettings {
  const parsed = parseOptions(args, REPORT_OPTIONS);
  if (parsed.values.help) return { input: "", output: "", top: 0, help: true };
  if (parsed.unknown.length > 0) throw new UsageError(`unknown option ${parsed.unknown[0]}.`);
  const rest = args.slice(parsed.rest);
  if (rest.length !== 1) throw new UsageError(`report takes one file; got ${rest.length}.`);
  return { output: "dhat-heap.json", top: 10, ...parsed.values, input: rest[0] } as ReportSettings;
}

/** Runs the report command; throws `ReportError` for a file it cannot read. */
export function reportMain(settings: ReportSettings): number {
  // The input may be rewritten in place (named again), not used twice as output.
  const [output, flamegraph] = checkReportOutputs(settings.output, settings.flamegraph, []);
  const { data, sites } = nameDhatFile(settings.input, output, { perfMap: settings.perfMap });
  const title = `report of ${data.cmd.slice(0, 120)} (pid ${data.pid})`;
  if (flamegraph !== undefined) writeFlameGraph(flamegraph, sites, `Allocated bytes: ${data.cmd.slice(0, 120)}`);
  console.error(summary(title, data, sites, settings.top));
  printWritten(output, flamegraph);
  return 0;
}

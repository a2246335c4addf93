/**
 * `profile report <file.json>`: names a raw file written by the library in
 * any program (`MOD_ALLOC_OUT`), or re-reads a named DHAT file, and writes
 * the DHAT file, the flame graph and the summary again.
 *
 * @module
 */

import { nameDhatFile, symbolizeDhat } from "../api/dhat.ts";
import { readDhatFile } from "../api/dhat_input.ts";
import { diffProfiles, formatProfileDiff, growthBreaches, parseGrowthLimit } from "../api/profile_diff.ts";
import { OptionError } from "../types/errors.ts";
import { groupOf } from "../api/grouping.ts";
import { FORMAT_OPTIONS, type FormatOutputs, formatPaths, withCheckedPaths, writeFormats } from "./formats.ts";
import { type OptionSpec, parseOptions, UsageError } from "./options.ts";
import { checkReportOutputs } from "./paths.ts";
import { printWritten, summary, writeFlameGraph } from "./summary.ts";
import {
  HELP_OPTION,
  outputOption,
  REPORT_SHAPE_DEFAULTS,
  REPORT_SHAPE_OPTIONS,
  type ReportShape,
} from "./shared_options.ts";

/** The report command's options. */
export const REPORT_OPTIONS: readonly OptionSpec[] = [
  outputOption("named DHAT file to write (default dhat-heap.json; may be the input)"),
  ...REPORT_SHAPE_OPTIONS,
  {
    names: ["--perf-map"],
    key: "perfMap",
    kind: "string",
    placeholder: "file",
    help: "V8's perf map of the process (default: the one its command line asked for, if any)",
  },
  ...FORMAT_OPTIONS,
  {
    names: ["--diff"],
    key: "diff",
    kind: "string",
    placeholder: "base.json",
    help: "compare with an earlier profile (a DHAT file): totals and the sites that changed most",
  },
  {
    names: ["--fail-on-growth"],
    key: "failOnGrowth",
    kind: "string",
    placeholder: "limit",
    help: "with --diff: exit 1 when total or peak bytes grew by more than <limit> (bytes, 64KiB, 5%)",
  },
  HELP_OPTION,
];

/** Settings of the report command. */
export interface ReportSettings extends FormatOutputs, ReportShape {
  input: string;
  /** The DHAT file to write; absent with --diff and no -o (nothing is rewritten). */
  output?: string;
  diff?: string;
  failOnGrowth?: string;
  perfMap?: string;
  help?: boolean;
}

/** Parses `report`'s arguments (after the word `report`). */
export function parseReportArgs(args: string[]): ReportSettings {
  const parsed = parseOptions(args, REPORT_OPTIONS);
  if (parsed.values.help) return { ...REPORT_SHAPE_DEFAULTS, input: "", output: "", help: true };
  if (parsed.unknown.length > 0) throw new UsageError(`unknown option ${parsed.unknown[0]}.`);
  const rest = args.slice(parsed.rest);
  if (rest.length !== 1) throw new UsageError(`report takes one file; got ${rest.length}.`);
  const values = parsed.values as Partial<ReportSettings>;
  if (values.failOnGrowth !== undefined) {
    if (values.diff === undefined) throw new UsageError("--fail-on-growth needs --diff <base.json>.");
    try {
      parseGrowthLimit(values.failOnGrowth);
    } catch (error) {
      if (error instanceof OptionError) throw new UsageError(error.message);
      throw error;
    }
  }
  const output = values.diff === undefined ? "dhat-heap.json" : undefined;
  return { ...REPORT_SHAPE_DEFAULTS, output, ...values, input: rest[0] } as ReportSettings;
}

/** `report --diff base new`: the comparison, and the verdict against --fail-on-growth. */
function diffMain(settings: ReportSettings & { diff: string }, next: ReturnType<typeof symbolizeDhat>): number {
  const base = symbolizeDhat(readDhatFile(settings.diff));
  const diff = diffProfiles(base, next, (site) => groupOf(site, settings.groupBy));
  console.error(`mod-alloc: ${settings.input} against ${settings.diff}`);
  console.error(formatProfileDiff(diff, settings.top));
  if (settings.failOnGrowth === undefined) return 0;
  const breaches = growthBreaches(diff, parseGrowthLimit(settings.failOnGrowth));
  for (const breach of breaches) console.error(`  FAIL: ${breach}`);
  return breaches.length === 0 ? 0 : 1;
}

/** Runs the report command; throws `ReportError` for a file it cannot read. */
export function reportMain(settings: ReportSettings): number {
  // The input may be rewritten in place (named again), not used twice as output.
  const [output, flamegraph, ...formats] = checkReportOutputs(
    settings.output,
    settings.flamegraph,
    [],
    formatPaths(settings),
  );
  const named = output === undefined
    ? symbolizeDhat(readDhatFile(settings.input))
    : nameDhatFile(settings.input, output, { perfMap: settings.perfMap });
  const { data, sites } = named;
  if (flamegraph !== undefined) {
    writeFlameGraph(flamegraph, sites, data.cmd.slice(0, 120), settings.flamegraphView, settings.bytes);
  }
  writeFormats(withCheckedPaths(settings, formats), data, sites, {
    title: `${data.cmd.slice(0, 120)} (pid ${data.pid})`,
    top: Math.max(settings.top, 20),
    groupBy: settings.groupBy,
    view: settings.flamegraphView,
  });
  if (settings.diff !== undefined) return diffMain({ ...settings, diff: settings.diff }, named);
  const title = `report of ${data.cmd.slice(0, 120)} (pid ${data.pid})`;
  console.error(summary(title, data, sites, settings.top, settings.groupBy, settings.bytes));
  printWritten(output, flamegraph);
  return 0;
}

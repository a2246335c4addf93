/**
 * Options both commands take (`profile` and `profile report`), defined
 * once.
 *
 * @module
 */

import { FLAME_GRAPH_VIEWS, type FlameGraphView } from "../api/flamegraph.ts";
import { GROUP_BYS, type GroupBy } from "../api/grouping.ts";
import { SITE_MEASURES, type SiteMeasure } from "../api/site_measure.ts";
import type { OptionSpec } from "./options.ts";

/** `-o/--output <file>`, with the command's own help text. */
export function outputOption(help: string): OptionSpec {
  return { names: ["-o", "--output"], key: "output", kind: "string", placeholder: "file", help };
}

/** `--flamegraph <file>`. */
export const FLAMEGRAPH_OPTION: OptionSpec = {
  names: ["--flamegraph"],
  key: "flamegraph",
  kind: "string",
  placeholder: "file",
  help: "also write a flame graph (HTML) and <file>.folded",
};

/** `--top <n>`. */
export const TOP_OPTION: OptionSpec = {
  names: ["--top"],
  key: "top",
  kind: "integer",
  placeholder: "n",
  min: 0,
  max: 10_000,
  help: "rows in the summary (default 10)",
};

/** `--group-by <how>`: the summary's rows (api/grouping.ts). */
export const GROUP_BY_OPTION: OptionSpec = {
  names: ["--group-by"],
  key: "groupBy",
  kind: "choice",
  placeholder: "how",
  choices: [...GROUP_BYS],
  help: "rows by the innermost JS function of your code (function, the default), its file, " +
    "its package, the first named native function, or stack (each distinct stack a row)",
};

/** `--flamegraph-view <view>`: the view the flame graph page opens with. */
export const FLAMEGRAPH_VIEW_OPTION: OptionSpec = {
  names: ["--flamegraph-view"],
  key: "flamegraphView",
  kind: "choice",
  placeholder: "view",
  choices: [...FLAME_GRAPH_VIEWS],
  help: "the view the flame graph opens with: js (your JS only, the default), all, inverted, js-inverted",
};

/** `--bytes <which>` and `--leaks`: what the rows and the flame graph weigh. */
export const BYTES_OPTIONS: readonly OptionSpec[] = [
  {
    names: ["--bytes"],
    key: "bytes",
    kind: "choice",
    placeholder: "which",
    choices: [...SITE_MEASURES],
    help: "what rows and flame graph weigh: total (allocated, the default), peak (live at the global peak), " +
      "end (live at the end: leaks)",
  },
  { names: ["--leaks"], key: "bytes", kind: "flag", value: "end", help: "the leak view: the same as --bytes end" },
];

/** `-h/--help`. */
export const HELP_OPTION: OptionSpec = { names: ["-h", "--help"], key: "help", kind: "flag", help: "this text" };

/** What shapes a report's outputs: the summary's rows and the flame graph. */
export interface ReportShape {
  top: number;
  groupBy: GroupBy;
  bytes: SiteMeasure;
  flamegraph?: string;
  flamegraphView: FlameGraphView;
}

/** The options of {@linkcode ReportShape}, which both commands take. */
export const REPORT_SHAPE_OPTIONS: readonly OptionSpec[] = [
  TOP_OPTION,
  GROUP_BY_OPTION,
  FLAMEGRAPH_OPTION,
  FLAMEGRAPH_VIEW_OPTION,
  ...BYTES_OPTIONS,
];

/** Their defaults: rows by function, the flame graph on your JS. */
export const REPORT_SHAPE_DEFAULTS: Omit<ReportShape, "flamegraph"> = {
  top: 10,
  groupBy: "function",
  bytes: "total",
  flamegraphView: "js",
};

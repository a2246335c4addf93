/**
 * Options both commands take (`profile` and `profile report`), defined
 * once.
 *
 * @module
 */

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
  help: "sites in the summary (default 10)",
};

/** `-h/--help`. */
export const HELP_OPTION: OptionSpec = { names: ["-h", "--help"], key: "help", kind: "flag", help: "this text" };

/**
 * Command-line options as data: each option is one entry of a table
 * (names, value kind, bounds, help), and one parser reads any table. Every
 * option with a value takes both `--name value` and `--name=value`.
 * Adding an option is adding an entry.
 *
 * @module
 */

/** Bad usage: printed with the usage text, exit code 2. */
export class UsageError extends Error {}

/** One option. `key` is the field of the parsed settings it sets. */
export type OptionSpec<K extends string = string> =
  & {
    names: string[];
    key: K;
    help: string;
  }
  & (
    | { kind: "flag"; value?: boolean | string }
    | { kind: "string"; placeholder: string }
    | { kind: "integer"; placeholder: string; min: number; max: number }
    | { kind: "choice"; placeholder: string; choices: string[] }
  );

/** Parsed values by key: strings, numbers or booleans. */
export type OptionValues = Record<string, string | number | boolean>;

function integer(text: string, name: string, min: number, max: number): number {
  const parsed = Number(text);
  if (!/^\d+$/.test(text) || parsed < min || parsed > max) {
    throw new UsageError(`${name} needs a whole number from ${min} to ${max}; got "${text}".`);
  }
  return parsed;
}

function convert(spec: OptionSpec, name: string, text: string): string | number {
  if (spec.kind === "integer") return integer(text, name, spec.min, spec.max);
  if (spec.kind === "choice" && !spec.choices.includes(text)) {
    throw new UsageError(`${name} is one of ${spec.choices.join(", ")}; got "${text}".`);
  }
  if (spec.kind === "string" && text === "") throw new UsageError(`${name} needs a non-empty value.`);
  return text;
}

/** The parsed options and where the first argument that is not one of them starts. */
export interface ParsedOptions {
  values: OptionValues;
  /** Index in `args` of the first argument that is not one of ours (after `--` if it ended the options). */
  rest: number;
  /** Options before `rest` that are not in the table, in order (the caller decides what they are). */
  unknown: string[];
  /** True when `--` ended the options. */
  dashDash: boolean;
}

/**
 * Reads options from the front of `args` until the first argument that
 * does not start with `-` (or `--`). Unknown options are collected, not
 * refused: the caller decides (the profile command passes them to
 * `deno run`).
 */
export function parseOptions(args: string[], table: readonly OptionSpec[]): ParsedOptions {
  const values: OptionValues = {};
  const unknown: string[] = [];
  const byName = new Map<string, OptionSpec>();
  for (const spec of table) for (const name of spec.names) byName.set(name, spec);
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") return { values, rest: i + 1, unknown, dashDash: true };
    if (!arg.startsWith("-") || arg === "-") break;
    const equals = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const name = equals < 0 ? arg : arg.slice(0, equals);
    const spec = byName.get(name);
    if (spec === undefined) {
      unknown.push(arg);
      continue;
    }
    if (spec.kind === "flag") {
      if (equals >= 0) throw new UsageError(`${name} takes no value.`);
      values[spec.key] = spec.value ?? true;
      continue;
    }
    let text: string;
    if (equals >= 0) text = arg.slice(equals + 1);
    else if (i + 1 < args.length) text = args[++i];
    else throw new UsageError(`${name} needs a value (${spec.placeholder}).`);
    values[spec.key] = convert(spec, name, text);
  }
  return { values, rest: i, unknown, dashDash: false };
}

/** The options part of a usage text, one line per option. */
export function optionsHelp(table: readonly OptionSpec[]): string {
  const lines = table.map((spec) => {
    const value = spec.kind === "flag" ? "" : ` <${spec.placeholder}>`;
    return [`  ${spec.names.join(", ")}${value}`, spec.help] as const;
  });
  const width = Math.max(...lines.map(([left]) => left.length)) + 2;
  return lines.map(([left, help]) => `${left.padEnd(width)}${help}`).join("\n");
}

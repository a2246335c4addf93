/**
 * What the profile command runs: `profile script.ts args` runs
 * `deno run [flags] script.ts args` (options before the script that are
 * not ours are deno run flags, passed untouched); `profile <command> args`
 * runs any program as it is (`deno test`, `deno task build`, `python3
 * app.py`, `node server.js` …).
 *
 * @module
 */

import { UsageError } from "./options.ts";

/** A script to run with `deno run`, rather than a command. */
const SCRIPT = /^(https?:|file:|npm:|jsr:)|\.(ts|tsx|mts|cts|js|jsx|mjs|cjs)$/;

/** The program to start. */
export interface ChildCommand {
  program: string;
  args: string[];
  /** The script file, in the script form. */
  script?: string;
  /** A short name for the summary. */
  display: string;
}

/** The child command from the arguments after the options. */
export function childCommand(rest: string[], denoRunFlags: string[]): ChildCommand {
  if (rest.length === 0) throw new UsageError("no script or command to profile.");
  const [first, ...more] = rest;
  if (SCRIPT.test(first)) {
    return {
      program: Deno.execPath(),
      args: ["run", ...denoRunFlags, first, ...more],
      script: /^[a-z]+:/.test(first) ? undefined : first,
      display: first,
    };
  }
  if (denoRunFlags.length > 0) {
    throw new UsageError(
      `unknown option ${denoRunFlags[0]}. Options that are not the profiler's are deno run flags, for a script ` +
        `(profile ${denoRunFlags[0]} script.ts); for a command, put them in it (profile deno run ${
          denoRunFlags[0]
        } script.ts). A flag with a value after a space needs the --flag=value form.`,
    );
  }
  // `deno` is the deno this command runs on, unless PATH names another.
  const program = first === "deno" ? onPath("deno") ?? Deno.execPath() : first;
  return { program, args: more, display: rest.join(" ") };
}

function onPath(name: string): string | undefined {
  for (const directory of (Deno.env.get("PATH") ?? "").split(":")) {
    if (directory === "") continue;
    try {
      const info = Deno.statSync(`${directory}/${name}`);
      if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) return `${directory}/${name}`;
    } catch {
      // not here
    }
  }
  return undefined;
}

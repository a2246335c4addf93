/**
 * The command line: `profile [options] [--] <script.ts | command …>` and
 * `profile report [options] <file.json>`. Usage errors print the usage and
 * exit 2; unreadable reports exit 1 with a message.
 *
 * @module
 */

import denoJson from "../deno.json" with { type: "json" };
import { ModAllocError } from "../types/errors.ts";
import { optionsHelp, UsageError } from "./options.ts";
import { parseProfileArgs, PROFILE_OPTIONS, profileMain } from "./profile.ts";
import { parseReportArgs, REPORT_OPTIONS, reportMain } from "./report_command.ts";

/** The usage text of the profile command. */
export const USAGE = `usage: deno task profile [options] [deno run flags] [--] <script.ts> [script args...]
       deno task profile [options] [--] <command> [args...]
       deno task profile report [options] <file.json>
       (or deno run -A cli.ts ...)

Runs the script (with deno run) or the command (deno test, deno task ...,
python3 ..., any dynamically linked glibc program) with mod-alloc preloaded
and call sites on, then writes a DHAT file (open it in valgrind's
dh_view.html) and prints the top allocation sites. The program's output and
exit code pass through (128+N when signal N ended it); Ctrl-C and SIGTERM
are passed on to it, and its report is still written.

options (each takes --opt value or --opt=value):
${optionsHelp(PROFILE_OPTIONS)}

Options that are not the profiler's, before a script, are deno run flags
(-A, --allow-read, --v8-flags=...); a flag with a value after a space needs
the --flag=value form, or the command form: profile -- deno run --config c.json s.ts.
Reports are written mode 0600: they hold the command line and memory map.`;

/** The usage text of the report command. */
export const REPORT_USAGE = `usage: deno task profile report [options] <file.json>

Names the frames of a raw file written by the library (MOD_ALLOC_OUT, in
any program), or reads a named DHAT file, and writes the DHAT file, flame
graph and summary again.

options (each takes --opt value or --opt=value):
${optionsHelp(REPORT_OPTIONS)}`;

/** Runs the command line; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const isReport = args[0] === "report";
  const usage = isReport ? REPORT_USAGE : USAGE;
  try {
    if (isReport) {
      const settings = parseReportArgs(args.slice(1));
      if (settings.help) {
        console.log(REPORT_USAGE);
        return 0;
      }
      return reportMain(settings);
    }
    const settings = parseProfileArgs(args);
    if (settings === "help" || settings === "version") {
      console.log(settings === "version" ? `mod-alloc ${denoJson.version} (deno ${Deno.version.deno})` : USAGE);
      return 0;
    }
    return await profileMain(settings);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`profile: ${error.message}\n\n${usage}`);
      return 2;
    }
    if (error instanceof ModAllocError) {
      console.error(`profile: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

// Runs a Deno script in a child process (for tests that need a process of
// their own: preload, before-install state, uninstall).
export const LIBRARY_PATH = new URL("../../zig-out/lib/libmod_alloc.so", import.meta.url).pathname;

export interface ChildResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno <subcommand> -A --no-lock <args>` (run, test, bench). */
export async function runDenoCommand(
  subcommand: "run" | "test" | "bench",
  args: string[],
  env: Record<string, string> = {},
): Promise<ChildResult> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [subcommand, "-A", "--no-lock", ...args],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: output.code, stdout: decoder.decode(output.stdout), stderr: decoder.decode(output.stderr) };
}

/** Runs a script with `deno run -A`. */
export function runDeno(args: string[], env: Record<string, string> = {}): Promise<ChildResult> {
  return runDenoCommand("run", args, env);
}

/** Path of a script in tests/support/. */
export function supportScript(name: string): string {
  return new URL(`./${name}`, import.meta.url).pathname;
}

/** The last line of stdout, parsed as JSON. */
export function lastJson<T>(result: ChildResult): T {
  const lines = result.stdout.trim().split("\n");
  try {
    return JSON.parse(lines[lines.length - 1]) as T;
  } catch {
    throw new Error(
      `child printed no JSON (exit ${result.code}).\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`,
    );
  }
}

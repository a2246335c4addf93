// Runs the profile command (cli.ts) in a child deno, as a user would.
import type { DhatFile } from "../../api/dhat.ts";

export const CLI = new URL("../../cli.ts", import.meta.url).pathname;
export const TARGETS = new URL("./profile_targets/", import.meta.url).pathname;

export interface CliResult {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Kill the command after this long (a hang fails the test instead of stalling the suite). */
  timeoutMs?: number;
}

/** `deno run -A cli.ts <args>`, output captured. */
export async function profile(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-lock", CLI, ...args],
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(options.timeoutMs ?? 60_000),
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    signal: output.signal,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

export function readDhat(path: string): DhatFile {
  return JSON.parse(Deno.readTextFileSync(path)) as DhatFile;
}

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
export async function inTempDir(fn: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "mod-alloc-test-" });
  try {
    await fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** Runs a command as user nobody (setpriv), for files "another user" plants. */
export function asNobody(command: string[]): void {
  const result = new Deno.Command("setpriv", {
    args: ["--reuid=65534", "--regid=65534", "--clear-groups", ...command],
    stderr: "piped",
  }).outputSync();
  if (!result.success) throw new Error(`setpriv ${command.join(" ")}: ${new TextDecoder().decode(result.stderr)}`);
}

/** True when this test run can act as another user (root with setpriv). */
export function canActAsNobody(): boolean {
  try {
    return Deno.uid() === 0 &&
      new Deno.Command("setpriv", { args: ["--version"], stdout: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

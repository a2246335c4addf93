/**
 * Output paths of the commands, checked before the program runs: a path
 * that is empty, a directory, a FIFO or device that would be replaced, in
 * a directory that cannot be written, equal to the script or to another
 * output is refused with exit code 2 instead of failing after a long run.
 * Relative paths are resolved against the directory the command started
 * in (the program may `chdir`), and `%p` becomes the program's pid.
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { refusalOf, targetKind } from "../api/safe_file.ts";
import { UsageError } from "./options.ts";

/** A file the command writes or reads, with what it is for messages. */
export interface NamedPath {
  path: string;
  what: string;
}

/** `template` with each `%p` replaced by `pid`. */
export function expandPid(template: string, pid: number): string {
  return template.replaceAll("%p", String(pid));
}

/**
 * The path for a child process `pid` of the profiled program: the
 * template's `%p` expanded, or `-<pid>` before the extension when it has
 * no `%p` (`dhat-heap.json` → `dhat-heap-1234.json`).
 */
export function childPath(template: string, pid: number): string {
  if (template.includes("%p")) return expandPid(template, pid);
  const slash = template.lastIndexOf("/");
  const dot = template.lastIndexOf(".");
  return dot > slash + 1 ? `${template.slice(0, dot)}-${pid}${template.slice(dot)}` : `${template}-${pid}`;
}

function realPath(path: string): string {
  try {
    return Deno.realPathSync(path);
  } catch {
    try {
      return resolve(Deno.realPathSync(dirname(path)), path.slice(path.lastIndexOf("/") + 1));
    } catch {
      return path;
    }
  }
}

/** Refuses an output that cannot be written, before anything runs. Returns it absolute. */
function checkedOutput({ path, what }: NamedPath): string {
  if (path === "") throw new UsageError(`the ${what} path is empty: name a file.`);
  const absolute = resolve(path);
  if (path.endsWith("/") || path === "." || path === "..") {
    throw new UsageError(`the ${what} ${path} is a directory: name a file in it.`);
  }
  const refusal = refusalOf(targetKind(expandPid(absolute, 0)));
  if (refusal !== undefined) throw new UsageError(`cannot write the ${what} ${path}: ${refusal}.`);
  try {
    const probe = Deno.makeTempFileSync({ dir: dirname(absolute), prefix: ".mod-alloc-probe-" });
    Deno.removeSync(probe);
  } catch (error) {
    throw new UsageError(`cannot write the ${what} ${path}: ${(error as Error).message}.`);
  }
  return absolute;
}

/**
 * Checks the report outputs (the DHAT file, and the flame graph with its
 * `.folded` file when asked for, then `more`) against each other and `inputs`.
 * Without `output` no DHAT file is written (`report --diff`).
 *
 * @returns The DHAT file and the flame graph, absolute, then each of `more`.
 * @throws {UsageError} Saying which path is wrong and why.
 */
export function checkReportOutputs(
  output: string,
  flamegraph: string | undefined,
  inputs: NamedPath[],
  more?: NamedPath[],
): [string, string | undefined, ...string[]];
export function checkReportOutputs(
  output: string | undefined,
  flamegraph: string | undefined,
  inputs: NamedPath[],
  more?: NamedPath[],
): [string | undefined, string | undefined, ...string[]];
export function checkReportOutputs(
  output: string | undefined,
  flamegraph: string | undefined,
  inputs: NamedPath[],
  more: NamedPath[] = [],
): [string | undefined, string | undefined, ...string[]] {
  const outputs = output === undefined ? [] : [{ path: output, what: "output file" }];
  if (flamegraph !== undefined) {
    outputs.push({ path: flamegraph, what: "flame graph" }, {
      path: `${flamegraph}.folded`,
      what: "collapsed stacks file",
    });
  }
  const checked = checkOutputs([...outputs, ...more], inputs);
  const dhat = output === undefined ? undefined : checked.shift();
  const graph = flamegraph === undefined ? undefined : checked.shift();
  if (flamegraph !== undefined) checked.shift(); // the .folded file
  return [dhat, graph, ...checked];
}

/**
 * Checks every output and returns them absolute, in order. Refuses an
 * output that is one of `inputs` (the script) or another output.
 *
 * @throws {UsageError} Saying which path is wrong and why.
 */
export function checkOutputs(outputs: NamedPath[], inputs: NamedPath[]): string[] {
  const absolute = outputs.map(checkedOutput);
  const seen = new Map<string, string>();
  for (const input of inputs) seen.set(realPath(resolve(input.path)), input.what);
  outputs.forEach((output, i) => {
    const key = realPath(absolute[i]);
    const clash = seen.get(key);
    if (clash !== undefined) {
      throw new UsageError(`the ${output.what} ${output.path} is also the ${clash}: give it another name.`);
    }
    seen.set(key, output.what);
  });
  return absolute;
}

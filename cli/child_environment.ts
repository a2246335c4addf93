/**
 * The environment of the profiled program: the library preloaded, call
 * sites on, raw reports and V8's jitdumps in a private directory of this
 * run (created 0700, so no other user can plant files there), the report
 * written on Ctrl-C/SIGTERM/SIGHUP, and the library's variables kept for
 * children only with `--follow-children`.
 *
 * @module
 */

import { resolveLibrary } from "../ffi/library.ts";
import { ModAllocError } from "../types/errors.ts";
import { UsageError } from "./options.ts";

/** What the environment is made from. */
export interface ChildSettings {
  frames: number;
  buckets: number;
  /** Sampling mode's mean interval in bytes (MOD_ALLOC_SAMPLE); 0 or absent: every allocation. */
  sample?: number;
  js: boolean;
  followChildren: boolean;
}

/** The raw report of process `pid` in the run's private directory. */
export function rawReportPath(scratch: string, pid: number): string {
  return `${scratch}/raw-${pid}.json`;
}

/** V8's perf map of process `pid`, written into the private directory. */
export function perfMapPath(scratch: string, pid: number): string {
  return `${scratch}/perf-${pid}.map`;
}

/** The pids that left a raw report in the private directory. */
export function rawReportPids(scratch: string): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync(scratch)) {
    const match = /^raw-(\d+)\.json$/.exec(entry.name);
    if (match !== null && entry.isFile) pids.push(Number(match[1]));
  }
  return pids.sort((a, b) => a - b);
}

/**
 * The library to preload: a local one (`MOD_ALLOC_LIB`, a build next to the
 * module, the verified cache), else the release's prebuilt library,
 * downloaded, checked against its pinned SHA-256 and cached.
 *
 * @returns Its path.
 * @throws {UsageError} when none can be had; the message says why and what to do.
 */
export async function libraryPath(): Promise<string> {
  try {
    return (await resolveLibrary()).path;
  } catch (error) {
    if (error instanceof ModAllocError) throw new UsageError(error.message);
    throw error;
  }
}

/**
 * The library's LD_PRELOAD entry. The loader splits LD_PRELOAD at spaces
 * and colons, so a path holding one is reached through a link in the
 * private directory.
 */
function preloadEntry(library: string, scratch: string): string {
  if (!/[\s:]/.test(library)) return library;
  const link = `${scratch}/libmod_alloc.so`;
  if (/[\s:]/.test(link)) {
    throw new UsageError(`the library path "${library}" and the temporary directory both hold spaces or colons.`);
  }
  Deno.symlinkSync(library, link);
  return link;
}

/** The variables set for the program (the rest of the environment is inherited). */
export function childEnvironment(settings: ChildSettings, scratch: string, library: string): Record<string, string> {
  const preload = [preloadEntry(library, scratch), Deno.env.get("LD_PRELOAD")].filter((entry) => entry);
  const env: Record<string, string> = {
    LD_PRELOAD: preload.join(":"),
    MOD_ALLOC_BACKTRACES: "1",
    MOD_ALLOC_FRAMES: String(settings.frames),
    MOD_ALLOC_BUCKETS: String(settings.buckets),
    MOD_ALLOC_OUT: `${scratch}/raw-%p.json`,
    MOD_ALLOC_SIGNALS: "1",
    MOD_ALLOC_FOLLOW_CHILDREN: settings.followChildren ? "1" : "0",
  };
  if ((settings.sample ?? 0) > 0) env.MOD_ALLOC_SAMPLE = String(settings.sample);
  if (settings.js) {
    // DENO_V8_FLAGS reaches deno however it is started (deno test, deno
    // task's children) and adds to any --v8-flags of the command line.
    // --perf-prof: V8's jitdump (jit-<pid>.dump) names JIT code and gives
    // the line of each instruction of compiled code; it costs as many
    // allocations as --perf-basic-prof (bench/v8_flags.ts). --logfile: the
    // code logger also opens V8's log, by default a file in the working
    // directory.
    const ours = `--perf-prof,--perf-prof-path=${scratch},--interpreted-frames-native-stack,--logfile=/dev/null`;
    const user = Deno.env.get("DENO_V8_FLAGS");
    env.DENO_V8_FLAGS = user ? `${user},${ours}` : ours;
  }
  return env;
}

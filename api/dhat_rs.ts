/**
 * The surface users of dhat-rs know: heap statistics with its field
 * names, and ad-hoc events written as an ad-hoc mode DHAT file.
 *
 * @module
 */

import { OptionError } from "./errors.ts";
import { ModAlloc } from "./mod_alloc.ts";
import { writeFileSafely } from "./safe_file.ts";

/** dhat-rs's `HeapStats`, from the process-wide counters. */
export interface HeapStats {
  /** Blocks allocated in all (allocation events). */
  totalBlocks: number;
  /** Bytes allocated in all. */
  totalBytes: number;
  /** Blocks live now. */
  currBlocks: number;
  /** Bytes live now. */
  currBytes: number;
  /** Highest number of live blocks. */
  maxBlocks: number;
  /** Highest number of live bytes. */
  maxBytes: number;
}

/**
 * The heap statistics of the whole process, as dhat-rs names them.
 *
 * @example
 * ```ts
 * import { heapStats } from "@mod-alloc/deno";
 *
 * const { totalBlocks, currBytes, maxBytes } = heapStats();
 * console.log(totalBlocks, currBytes, maxBytes);
 * ```
 */
export function heapStats(): HeapStats {
  const stats = ModAlloc.install().snapshot();
  return {
    totalBlocks: stats.allocCount,
    totalBytes: stats.totalBytes,
    currBlocks: stats.liveCount,
    currBytes: stats.currentBytes,
    maxBlocks: stats.peakLiveCount,
    maxBytes: stats.peakBytes,
  };
}

const events = new Map<string, { weight: number; count: number; frames: string[] }>();
let eventTime = 0;

/** The JS stack of the caller of `adHocEvent`, innermost first. */
function callerFrames(): string[] {
  const stack = new Error().stack ?? "";
  return stack.split("\n").slice(3).map((line) => line.trim().replace(/^at /, "")).filter((line) => line !== "");
}

/**
 * Records an ad-hoc event of `weight` at the calling JS stack, as
 * dhat-rs's `ad_hoc_event` does; {@linkcode writeAdHocDhat} writes them.
 *
 * @example
 * ```ts
 * import { adHocEvent } from "@mod-alloc/deno";
 *
 * function cacheMiss(bytes: number) {
 *   adHocEvent(bytes);
 * }
 * cacheMiss(4096);
 * ```
 */
export function adHocEvent(weight: number): void {
  if (typeof weight !== "number" || !Number.isFinite(weight) || weight < 0) {
    throw new OptionError(`adHocEvent: weight must be a finite number >= 0; got ${JSON.stringify(weight)}.`);
  }
  const frames = callerFrames();
  const key = frames.join("\n");
  const entry = events.get(key) ?? { weight: 0, count: 0, frames };
  entry.weight += weight;
  entry.count += 1;
  events.set(key, entry);
  eventTime++;
}

/**
 * Writes the ad-hoc events recorded so far as an ad-hoc mode DHAT file
 * (dh_view.html shows it like dhat-rs's).
 *
 * @example
 * ```ts
 * import { adHocEvent, writeAdHocDhat } from "@mod-alloc/deno";
 *
 * adHocEvent(10);
 * const path = Deno.makeTempFileSync({ suffix: ".json" });
 * writeAdHocDhat(path);
 * console.log(JSON.parse(Deno.readTextFileSync(path)).mode); // "ad-hoc"
 * ```
 */
export function writeAdHocDhat(path: string): void {
  const ftbl = ["[root]"];
  const index = new Map<string, number>();
  const frameIndex = (frame: string) => {
    let i = index.get(frame);
    if (i === undefined) {
      i = ftbl.push(`JS ${frame}`) - 1;
      index.set(frame, i);
    }
    return i;
  };
  const pps = [...events.values()].map((event) => ({
    tb: event.weight,
    tbk: event.count,
    fs: event.frames.map(frameIndex),
  }));
  const data = {
    dhatFileVersion: 2,
    mode: "ad-hoc",
    verb: "Occurred",
    bklt: false,
    bkacc: false,
    tu: "events",
    Mtu: "Mevents",
    cmd: [Deno.execPath(), ...Deno.args].join(" "),
    pid: Deno.pid,
    te: eventTime,
    pps,
    ftbl,
  };
  writeFileSafely(path, JSON.stringify(data));
}

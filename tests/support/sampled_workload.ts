// The sampling-mode accuracy workload (tests/fixture/sample_workload.c) run
// under the library, for tests/sampling_test.ts and bench/sampling_accuracy.ts.
import assert from "node:assert/strict";
import { type DhatFile, finishDhatFile } from "../../api/dhat.ts";
import { LIBRARY_PATH } from "./child.ts";

export const SAMPLE_WORKLOAD = new URL("../../zig-out/bin/test/sample_workload", import.meta.url).pathname;

/** The workload's exact per-site figures, as it prints them. */
export type ExactSites = Record<string, { blocks: number; bytes: number; endBlocks: number; endBytes: number }>;

/** Estimated bytes and blocks of one function's sites, with their variances. */
export interface SiteEstimate {
  bytes: number;
  bytesVariance: number;
  blocks: number;
  blocksVariance: number;
}

/** Runs `command` (no arguments) and returns its output; fails on a non-zero exit. */
export async function runCommand(command: string, env: Record<string, string>) {
  const output = await new Deno.Command(command, { env, stdout: "piped", stderr: "piped" }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stderr);
  return { stdout: new TextDecoder().decode(output.stdout), stderr };
}

/** Runs a program preloaded with `env` and returns its output and DHAT file, frames named. */
export async function profiled(dir: string, command: string, env: Record<string, string>) {
  const raw = `${dir}/raw.json`;
  const { stdout, stderr } = await runCommand(command, { LD_PRELOAD: LIBRARY_PATH, MOD_ALLOC_OUT: raw, ...env });
  finishDhatFile(raw, `${dir}/named.json`);
  const data = JSON.parse(await Deno.readTextFile(`${dir}/named.json`)) as DhatFile;
  return { stdout, stderr, data };
}

/** A program point's allocating function ("0x…: name (file:line)" -> name). */
function functionOf(data: DhatFile, frames: number[]): string {
  return data.ftbl[frames[0]].replace(/^0x[0-9A-Fa-f]+: /, "").replace(/ \((in )?[^()]*\)$/, "");
}

/** Per allocating function: the estimates of its program points, summed. */
export function estimates(data: DhatFile): Map<string, SiteEstimate> {
  const sums = new Map<string, SiteEstimate>();
  for (const pp of data.pps) {
    const name = functionOf(data, pp.fs);
    const sum = sums.get(name) ?? { bytes: 0, bytesVariance: 0, blocks: 0, blocksVariance: 0 };
    sum.bytes += pp.tb;
    sum.bytesVariance += (pp.tbSe ?? 0) ** 2;
    sum.blocks += pp.tbk;
    sum.blocksVariance += (pp.tbkSe ?? 0) ** 2;
    sums.set(name, sum);
  }
  return sums;
}

/** One sampled run of the workload: exact figures and estimates per site. */
export async function sampledRun(dir: string, intervalBytes: number, seed: number) {
  const env = { MOD_ALLOC_SAMPLE: String(intervalBytes), MOD_ALLOC_SAMPLE_SEED: String(seed) };
  const { stdout, data } = await profiled(dir, SAMPLE_WORKLOAD, env);
  return { exact: JSON.parse(stdout) as ExactSites, sampled: estimates(data), data };
}

/** No estimate: a site that was never sampled. */
export const UNSAMPLED: SiteEstimate = { bytes: 0, bytesVariance: 0, blocks: 0, blocksVariance: 0 };

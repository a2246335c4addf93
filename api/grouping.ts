/**
 * Grouping call sites into report rows. A site is one distinct stack, so
 * one JS function is many sites (interpreted and optimised code, different
 * native frames beneath it); reports group them by what a reader asks:
 * the innermost user JS function (the default), its file or package, the
 * first named native function, or not at all (the full stack).
 *
 * @module
 */

import type { Frame } from "../symbols/symbolizer.ts";
import {
  attribute,
  type Attribution,
  describeFrame,
  firstNamedNative,
  isRuntimeScript,
  packageOf,
  shortFile,
  threadKindLabel,
  threadShortLabel,
} from "./attribution.ts";
import { OptionError } from "./errors.ts";

/** How sites are grouped into rows. */
export type GroupBy = "function" | "file" | "package" | "native" | "stack";

/** The groupings, the default first. */
export const GROUP_BYS: readonly GroupBy[] = ["function", "file", "package", "native", "stack"];

/** What a report row stands for: see {@linkcode SiteGroup.kind}. */
export type RowKind = "js" | "native" | "runtime" | "overflow";

/** What a grouping needs of a site. */
export interface GroupableSite {
  /** Innermost first. */
  frames: Frame[];
  /** The kernel name of the thread that allocated here, when the core recorded it. */
  threadName?: string;
  /** True for the row of sites that did not fit the table. */
  overflow?: boolean;
}

/** One row: the sites it holds and how it is named. */
export interface SiteGroup<T> {
  key: string;
  label: string;
  /**
   * `js`: user JavaScript; `native`: a named native function outside the runtime (no user JS frame);
   * `runtime`: neither (Deno's and V8's own work); `overflow`: the full table's row.
   */
  kind: RowKind;
  members: T[];
}

/** Checks a `groupBy` value (from an option or the command line). */
export function checkGroupBy(value: unknown, where = "groupBy"): GroupBy {
  if (GROUP_BYS.includes(value as GroupBy)) return value as GroupBy;
  throw new OptionError(`${where} must be one of ${GROUP_BYS.join(", ")}; got ${JSON.stringify(value)}.`);
}

/** A frame's position: `file:line:column`, as much as is known. */
export function position(frame: Frame): string {
  if (frame.file === undefined) return "";
  const line = frame.line === undefined ? "" : `:${frame.line}`;
  const column = frame.line === undefined || frame.column === undefined ? "" : `:${frame.column}`;
  return `${shortFile(frame.file)}${line}${column}`;
}

/** `in caller` for an anonymous function: its first named user caller. */
function enclosing(frames: readonly Frame[], index: number): string {
  const named = frames.slice(index + 1).find((frame) =>
    frame.kind === "js" && frame.symbol !== "(anonymous)" && frame.symbol !== "(top level)" && !isRuntimeScript(frame)
  );
  return named === undefined ? "" : ` in ${named.symbol}`;
}

function jsKey(by: GroupBy, frames: readonly Frame[], who: Extract<Attribution, { kind: "js" }>) {
  const { frame } = who;
  const file = frame.file ?? "?";
  if (by === "file" || (by === "package" && packageOf(file) === undefined)) {
    return { key: `file:${file}`, label: `JS ${shortFile(file)}` };
  }
  if (by === "package") return { key: `package:${packageOf(file)}`, label: `JS ${packageOf(file)}` };
  // The line that allocated, for compiled code (jitdump): shown, not part of the key, so that the
  // function's interpreted and compiled sites stay one row (the heaviest site's line is shown).
  const call = frame.callLine === undefined ? "" : ` → line ${frame.callLine}:${frame.callColumn ?? 1}`;
  if (who.topLevel) return { key: `top:${file}`, label: `JS (top level) ${shortFile(file)}${call}` };
  const where = position(frame);
  const name = frame.symbol ?? "(anonymous)";
  const within = name === "(anonymous)" ? enclosing(frames, who.index) : "";
  return { key: `fn:${name}@${where}${within}`, label: `JS ${name} ${where}${within}${call}` };
}

/**
 * A native function as a row names it: its symbol and source file (DWARF),
 * else its module; the same whether the frame was named now or read back
 * from a named DHAT file (which keeps the file, not the module).
 */
function nativeName(frame: Frame): string {
  const module = frame.module === undefined ? "?" : frame.module.slice(frame.module.lastIndexOf("/") + 1);
  if (frame.symbol === undefined) return `${module} (no symbols)`;
  return `${frame.symbol} (${frame.file ?? module})`;
}

/** The row a site belongs to under `by`. */
export function groupOf(site: GroupableSite, by: GroupBy): Omit<SiteGroup<never>, "members"> {
  if (site.overflow === true) {
    return { key: "overflow", label: "[overflow: sites that did not fit the table]", kind: "overflow" };
  }
  // Under `stack` every site is a row of its own, labelled as under `function`.
  const stack = by === "stack" ? `stack:${site.frames.map((f) => f.address.toString(16)).join(",")}|` : "";
  const who = attribute(site.frames, site.threadName);
  if (by === "native") {
    const named = firstNamedNative(site.frames);
    if (named !== undefined) return { key: `native:${nativeName(named)}`, label: nativeName(named), kind: "native" };
  }
  if (who.kind === "js") {
    const { key, label } = jsKey(by === "stack" || by === "native" ? "function" : by, site.frames, who);
    return { key: stack + key, label, kind: "js" };
  }
  // A native row off the main thread says whose thread it ran on, briefly.
  const thread = site.threadName === undefined || who.thread === "main"
    ? ""
    : ` [${threadShortLabel(who.thread, site.threadName)}]`;
  if (who.kind === "native") {
    const label = (by === "stack" ? describeFrame(who.frame) : nativeName(who.frame)) + thread;
    return { key: `${stack}native:${nativeName(who.frame)}${thread}`, label, kind: "native" };
  }
  const label = threadKindLabel(who.thread, site.threadName);
  return { key: `${stack}runtime:${who.thread}:${site.threadName ?? ""}`, label, kind: "runtime" };
}

/**
 * Groups sites into rows, heaviest first.
 *
 * @param sites The sites (frames innermost first).
 * @param by The grouping.
 * @param weight What orders the rows (e.g. total bytes).
 * @returns The rows, each with its member sites (heaviest first).
 */
export function groupSites<T extends GroupableSite>(
  sites: readonly T[],
  by: GroupBy,
  weight: (site: T) => number,
): SiteGroup<T>[] {
  const groups = new Map<string, SiteGroup<T>>();
  for (const site of sites) {
    const { key, label, kind } = groupOf(site, by);
    let group = groups.get(key);
    if (group === undefined) {
      group = { key, label, kind, members: [] };
      groups.set(key, group);
    }
    group.members.push(site);
  }
  const total = (group: SiteGroup<T>) => group.members.reduce((sum, site) => sum + weight(site), 0);
  const rows = [...groups.values()].map((group) => ({ group, weight: total(group) }));
  rows.sort((a, b) => b.weight - a.weight || a.group.key.localeCompare(b.group.key));
  for (const { group } of rows) {
    group.members.sort((a, b) => weight(b) - weight(a));
    group.label = groupOf(group.members[0], by).label; // named after its heaviest site
  }
  return rows.map((row) => row.group);
}

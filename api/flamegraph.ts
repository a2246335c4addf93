/**
 * Flame graphs of allocated bytes by stack: a collapsed-stack export for
 * the usual flame graph tools, and a self-contained HTML page (one inline
 * script, nothing fetched) with four views — all frames or your JS only
 * (native frames and Deno's own JS folded into their caller), each upright or inverted (the
 * allocating functions at the root) — search, click to zoom, and tooltips
 * with bytes, blocks and share. Every stack is rooted at the kind of
 * thread that made it, so walks cut at different depths do not make a comb
 * of separate roots.
 *
 * @module
 */

import type { Frame } from "../symbols/symbolizer.ts";
import {
  attribute,
  describeFrame,
  isProfilerFrame,
  isRuntimeScript,
  isTopLevel,
  shortFile,
  threadKindLabel,
} from "./attribution.ts";
import { FLAME_GRAPH_SCRIPT, FLAME_GRAPH_STYLE } from "./flamegraph_page.ts";
import { position } from "./grouping.ts";

/** The views of the page: all frames or your JS only, upright or inverted. */
export type FlameGraphView = "all" | "js" | "inverted" | "js-inverted";

/** The views, for option checking. */
export const FLAME_GRAPH_VIEWS: readonly FlameGraphView[] = ["all", "js", "inverted", "js-inverted"];

/** A stack (outermost frame first), its weight in bytes and its allocations. */
export interface WeightedStack {
  frames: Frame[];
  bytes: number;
  /** Allocation events (default 0: not shown). */
  blocks?: number;
  /** The kernel name of the allocating thread, when recorded. */
  threadName?: string;
}

/** A frame's name in a flame graph: `JS name npm:pkg@v/file:line:col`, else the native description. */
function frameName(frame: Frame): string {
  if (frame.kind !== "js") return describeFrame(frame).replaceAll(";", ",");
  const where = position(frame);
  return `JS ${frame.symbol ?? "(anonymous)"}${where === "" ? "" : ` ${where}`}`.replaceAll(";", ",");
}

/** `frame;frame;frame bytes` lines, outermost frame first. */
export function collapsedStacks(stacks: WeightedStack[]): string {
  const lines = new Map<string, number>();
  for (const stack of stacks) {
    if (stack.bytes <= 0) continue;
    const key = stack.frames.length === 0 ? "[no frames]" : stack.frames.map(frameName).join(";");
    lines.set(key, (lines.get(key) ?? 0) + stack.bytes);
  }
  return [...lines].map(([key, bytes]) => `${key} ${bytes}`).join("\n") + "\n";
}

/** A tree node as embedded in the page: [name index, bytes, blocks, 1 if JS, children]. */
type PackedNode = [number, number, number, number, PackedNode[]];

interface Node {
  name: string;
  js: boolean;
  bytes: number;
  blocks: number;
  children: Map<string, Node>;
}

/** A path through the tree: names (root side first) and whether each is JS. */
type Path = { name: string; js: boolean }[];

function pathsOf(stack: WeightedStack, jsOnly: boolean, inverted: boolean): Path {
  const innermostFirst = [...stack.frames].reverse();
  const root = attributionRoot(innermostFirst, stack.threadName);
  // Module top level has one name, whichever function V8 ran it as (see `isTopLevel`).
  const count = innermostFirst.length;
  const names = stack.frames.map((frame, i) => ({
    frame,
    name: frame.kind === "js" && isTopLevel(innermostFirst, count - 1 - i)
      ? `JS (top level) ${shortFile(frame.file ?? "?")}`
      : frameName(frame),
  }))
    .filter(({ frame }) => !jsOnly || isUserJs(frame))
    .map(({ frame, name }) => ({ name, js: frame.kind === "js" }));
  return [root, ...(inverted ? names.reverse() : names)];
}

/** Frames of the user's JavaScript (not Deno's `ext:`/`node:` code, not the profiler's). */
function isUserJs(frame: Frame): boolean {
  return frame.kind === "js" && !isRuntimeScript(frame) && !isProfilerFrame(frame);
}

/** The base box of a stack: its kind of thread, as the report words it. */
function attributionRoot(innermostFirst: Frame[], threadName?: string): { name: string; js: boolean } {
  const who = attribute(innermostFirst, threadName);
  if (who.kind === "js") return { name: "code with JS of yours on the stack", js: true };
  return { name: threadKindLabel(who.thread, threadName), js: false };
}

function buildTree(stacks: WeightedStack[], jsOnly: boolean, inverted: boolean): Node {
  const root: Node = { name: "all", js: false, bytes: 0, blocks: 0, children: new Map() };
  for (const stack of stacks) {
    if (stack.bytes <= 0) continue;
    root.bytes += stack.bytes;
    root.blocks += stack.blocks ?? 0;
    let node = root;
    for (const { name, js } of pathsOf(stack, jsOnly, inverted)) {
      let child = node.children.get(name);
      if (child === undefined) {
        child = { name, js, bytes: 0, blocks: 0, children: new Map() };
        node.children.set(name, child);
      }
      child.bytes += stack.bytes;
      child.blocks += stack.blocks ?? 0;
      node = child;
    }
  }
  return root;
}

/**
 * Boxes narrower than this share of the whole are left out of the page
 * (their bytes stay in their parent): at 1200 px a box of 1/10,000 is a
 * tenth of a pixel, and keeping them made pages of tens of megabytes.
 */
const PRUNE_SHARE = 1 / 10_000;

function pack(node: Node, names: Map<string, number>, minimum: number): PackedNode {
  let index = names.get(node.name);
  if (index === undefined) {
    index = names.size;
    names.set(node.name, index);
  }
  const children = [...node.children.values()]
    .filter((child) => child.bytes >= minimum)
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((child) => pack(child, names, minimum));
  return [index, node.bytes, node.blocks, node.js ? 1 : 0, children];
}

/** The packed trees of the four views, keyed `all-upright`, `js-inverted` …, names shared in `names`. */
function packedViews(stacks: WeightedStack[], names: Map<string, number>): Record<string, PackedNode> {
  const views: Record<string, PackedNode> = {};
  for (const jsOnly of [false, true]) {
    for (const inverted of [false, true]) {
      const tree = buildTree(stacks, jsOnly, inverted);
      views[`${jsOnly ? "js" : "all"}-${inverted ? "inverted" : "upright"}`] = pack(
        tree,
        names,
        tree.bytes * PRUNE_SHARE,
      );
    }
  }
  return views;
}

/** One measure of a flame graph with several (the report's total / at peak / at end). */
export interface FlameGraphMeasure {
  /** The value of its radio button, e.g. `"peak"`. */
  key: string;
  /** Its label, e.g. `"live at the peak"`. */
  label: string;
  stacks: WeightedStack[];
}

/**
 * The flame graph's controls, drawing area, data and script, to place in
 * a page that includes {@linkcode FLAME_GRAPH_STYLE} (its element ids are
 * fixed: one flame graph per page). With more than one measure the reader
 * switches between them with radio buttons.
 *
 * @param measures What the widths can weigh; the first is shown first.
 * @param view The view it opens with.
 * @returns HTML: fetches nothing.
 */
export function flameGraphSection(measures: FlameGraphMeasure[], view: FlameGraphView = "all"): string {
  const jsView = view.startsWith("js");
  const invertedView = view.endsWith("inverted");
  const names = new Map<string, number>();
  const packed = Object.fromEntries(measures.map((measure) => [measure.key, packedViews(measure.stacks, names)]));
  // `<` escaped so that no frame name can close the script element.
  const data = JSON.stringify({ names: [...names.keys()], measures: packed }).replaceAll("<", "\\u003c");
  const measureRadios = measures.length < 2
    ? ""
    : measures.map((measure, i) =>
      `<label><input type="radio" name="measure" value="${escapeHtml(measure.key)}" id="measure-${
        escapeHtml(measure.key)
      }"${i === 0 ? " checked" : ""}> ${escapeHtml(measure.label)}</label>`
    ).join("\n") + "<br>";
  return `<form id="controls">
${measureRadios}<label><input type="radio" name="frames" value="all" id="view-all"${
    jsView ? "" : " checked"
  }> all frames</label>
<label><input type="radio" name="frames" value="js" id="view-js"${
    jsView ? " checked" : ""
  }> your JS only (native and Deno's own frames folded into their caller)</label>
<label><input type="checkbox" id="view-inverted"${
    invertedView ? " checked" : ""
  }> inverted (allocating functions at the root)</label>
<input type="search" id="search" placeholder="search frames (e.g. a package name)" size="36">
<button type="button" id="reset">reset zoom</button>
</form>
<p class="key">Width: <em id="measure-words">${escapeHtml(measures[0]?.label ?? "bytes")}</em>.
<span style="background:rgb(240,150,50)"></span>JavaScript
<span style="background:rgb(90,150,220)"></span>native <span style="background:#e040e0"></span>search match.
Hover a box for bytes, blocks and share; click to zoom. <b id="matched"></b></p>
<div id="graph"></div>
<script type="application/json" id="flame-data">${data}</script>
<script>${FLAME_GRAPH_SCRIPT}</script>`;
}

/**
 * Text made safe for HTML element content and attribute values.
 *
 * @param text Any text.
 * @returns It with `&`, `<`, `>` and `"` escaped.
 */
export function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

/**
 * The flame graph as a standalone HTML page.
 *
 * @param stacks The stacks, outermost frame first.
 * @param title The page's heading.
 * @param view The view the page opens with (the reader can switch).
 * @param weight What a box's width measures, for the key (default "bytes allocated").
 * @returns The page: inline style, data and script; it fetches nothing.
 */
export function flameGraphHtml(
  stacks: WeightedStack[],
  title: string,
  view: FlameGraphView = "all",
  weight = "bytes allocated",
): string {
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>${FLAME_GRAPH_STYLE}</style></head>
<body><h2>${escapeHtml(title)}</h2>
${flameGraphSection([{ key: "bytes", label: weight, stacks }], view)}
</body></html>
`;
}

/**
 * Chrome DevTools' sampling heap profile (`.heapprofile`): the call tree of
 * JavaScript frames, each node's `selfSize` the native bytes allocated
 * while it was the innermost JS frame. DevTools' Memory panel ("Load
 * profile") and speedscope open it, so native allocations read like V8's
 * own allocation sampling. Native frames are folded into their JS caller;
 * allocations with no JS frame hang under one node per first named native
 * frame, beneath a `(native, no JS frame)` node.
 *
 * @module
 */

import type { Frame } from "../symbols/symbolizer.ts";
import { unnamedFrameText } from "./attribution.ts";
import type { DhatSite } from "./dhat.ts";

/** A DevTools call frame (0-based line and column; -1 when unknown). */
export interface HeapProfileCallFrame {
  functionName: string;
  scriptId: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

/** One node of the call tree. */
export interface HeapProfileNode {
  callFrame: HeapProfileCallFrame;
  selfSize: number;
  id: number;
  children: HeapProfileNode[];
}

/** One sample: `size` bytes attributed to node `nodeId`. */
export interface HeapProfileSample {
  size: number;
  nodeId: number;
  ordinal: number;
}

/** The `.heapprofile` document (Chrome DevTools Protocol `HeapProfiler.SamplingHeapProfile`). */
export interface HeapProfile {
  head: HeapProfileNode;
  samples: HeapProfileSample[];
}

/** Which bytes a node's `selfSize` counts. */
export type HeapProfileValue = "total" | "end";

function callFrame(functionName: string, url = "", line = 0, column = 0): HeapProfileCallFrame {
  return { functionName, scriptId: "0", url, lineNumber: line - 1, columnNumber: column - 1 };
}

function jsFrame(frame: Frame): HeapProfileCallFrame {
  return callFrame(frame.symbol ?? "(anonymous)", frame.file ?? "", frame.line ?? 0, frame.column ?? 0);
}

function nativeName(frame: Frame | undefined): string {
  if (frame === undefined) return "(no frames)";
  return frame.symbol ?? unnamedFrameText(frame);
}

/** The path from the root: outermost JS frame first; native-only sites under a synthetic node. */
function pathOf(site: DhatSite): HeapProfileCallFrame[] {
  const js = site.frames.filter((frame) => frame.kind === "js");
  if (js.length > 0) return js.reverse().map(jsFrame);
  const named = site.frames.find((frame) => frame.symbol !== undefined) ?? site.frames[0];
  return [callFrame("(native, no JS frame)"), callFrame(nativeName(named))];
}

function frameKey(frame: HeapProfileCallFrame): string {
  return `${frame.functionName}\0${frame.url}\0${frame.lineNumber}\0${frame.columnNumber}`;
}

/**
 * Builds a DevTools heap profile from the named sites of a profile.
 *
 * @param sites The sites (from a DHAT file).
 * @param value `"total"` (default): bytes allocated over the run; `"end"`: bytes still live at the end.
 * @returns The document; `JSON.stringify` it into a `.heapprofile` file.
 */
export function buildHeapProfile(sites: readonly DhatSite[], value: HeapProfileValue = "total"): HeapProfile {
  let nextId = 1;
  const head: HeapProfileNode = { callFrame: callFrame("(root)"), selfSize: 0, id: nextId++, children: [] };
  const childIndex = new Map<HeapProfileNode, Map<string, HeapProfileNode>>();
  const samples: HeapProfileSample[] = [];
  for (const site of sites) {
    const bytes = value === "total" ? site.pp.tb : site.pp.eb;
    if (bytes <= 0) continue;
    let node = head;
    for (const frame of pathOf(site)) {
      let children = childIndex.get(node);
      if (children === undefined) childIndex.set(node, children = new Map());
      const key = frameKey(frame);
      let child = children.get(key);
      if (child === undefined) {
        child = { callFrame: frame, selfSize: 0, id: nextId++, children: [] };
        children.set(key, child);
        node.children.push(child);
      }
      node = child;
    }
    node.selfSize += bytes;
    samples.push({ size: bytes, nodeId: node.id, ordinal: samples.length + 1 });
  }
  return { head, samples };
}

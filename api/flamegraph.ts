/**
 * Flame graphs of allocated bytes by stack: a collapsed-stack export for
 * the usual flame graph tools, and a self-contained HTML page with an SVG
 * (no script, nothing fetched at view time). JS frames are drawn in warm
 * colours, native frames in cool ones.
 *
 * @module
 */

import type { Frame } from "../symbols/symbolizer.ts";
import { describeFrame } from "./call_sites.ts";
import { formatBytes } from "./report.ts";

/** A stack (outermost frame first) and its weight in bytes. */
export interface WeightedStack {
  frames: Frame[];
  bytes: number;
}

function frameName(frame: Frame): string {
  const text = describeFrame(frame).replaceAll(";", ",");
  return frame.kind === "js" ? `JS ${text}` : text;
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

interface Node {
  name: string;
  js: boolean;
  bytes: number;
  children: Map<string, Node>;
}

function buildTree(stacks: WeightedStack[]): Node {
  const root: Node = { name: "all", js: false, bytes: 0, children: new Map() };
  for (const stack of stacks) {
    if (stack.bytes <= 0) continue;
    root.bytes += stack.bytes;
    let node = root;
    for (const frame of stack.frames) {
      const name = frameName(frame);
      let child = node.children.get(name);
      if (child === undefined) {
        child = { name, js: frame.kind === "js", bytes: 0, children: new Map() };
        node.children.set(name, child);
      }
      child.bytes += stack.bytes;
      node = child;
    }
  }
  return root;
}

function escapeXml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

/** A stable colour per name: warm (JS) or cool (native). */
function colour(name: string, js: boolean): string {
  let hash = 0;
  for (let i = 0; i < name.length; i++) hash = (hash * 31 + name.charCodeAt(i)) >>> 0;
  const shade = hash % 40;
  return js ? `rgb(240,${130 + shade},${30 + shade})` : `rgb(${70 + shade},${130 + shade},220)`;
}

const WIDTH = 1200;
const ROW = 18;

/** The flame graph as a standalone HTML page (an inline SVG, no script). */
export function flameGraphHtml(stacks: WeightedStack[], title: string): string {
  const root = buildTree(stacks);
  const rects: string[] = [];
  let depthMax = 0;
  const place = (node: Node, x: number, depth: number) => {
    const width = root.bytes === 0 ? 0 : (node.bytes / root.bytes) * WIDTH;
    if (width < 0.3) return;
    depthMax = Math.max(depthMax, depth);
    const label = `${node.name} (${formatBytes(node.bytes)}, ${((node.bytes / root.bytes) * 100).toFixed(1)}%)`;
    const fits = Math.floor(width / 7);
    const text = fits >= 3 ? (node.name.length > fits ? `${node.name.slice(0, fits - 2)}..` : node.name) : "";
    rects.push(
      `<g><title>${escapeXml(label)}</title><rect x="${x.toFixed(2)}" y="{Y${depth}}" width="${
        width.toFixed(2)
      }" height="${ROW - 1}" fill="${node === root ? "#bbb" : colour(node.name, node.js)}" rx="2"/>` +
        (text === "" ? "" : `<text x="${(x + 3).toFixed(2)}" y="{T${depth}}">${escapeXml(text)}</text>`) + `</g>`,
    );
    let childX = x;
    for (const child of [...node.children.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      place(child, childX, depth + 1);
      childX += (child.bytes / root.bytes) * WIDTH;
    }
  };
  place(root, 0, 0);
  const height = (depthMax + 1) * ROW;
  // Flame graphs grow upward: depth 0 at the bottom.
  const svgBody = rects.join("\n").replace(/\{([YT])(\d+)\}/g, (_, kind, depth) => {
    const y = height - (Number(depth) + 1) * ROW;
    return String(kind === "Y" ? y : y + ROW - 5);
  });
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${escapeXml(title)}</title>
<style>body{font-family:sans-serif;margin:16px}svg text{font:11px monospace;fill:#000;pointer-events:none}
.key span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}</style></head>
<body><h2>${escapeXml(title)}</h2>
<p class="key">Width: bytes allocated. <span style="background:rgb(240,150,50)"></span>JavaScript
<span style="background:rgb(90,150,220)"></span>native. Hover a frame for its bytes.</p>
<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}">
${svgBody}
</svg></body></html>
`;
}

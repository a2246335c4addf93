/**
 * The style and script of the flame graph page (`flamegraph.ts` embeds
 * them): draws the selected view of the embedded trees as SVG boxes, with
 * search, click to zoom and tooltips. Plain browser JavaScript, no
 * dependency, nothing fetched.
 *
 * @module
 */

/** The page's CSS. */
export const FLAME_GRAPH_STYLE =
  `body{font-family:sans-serif;margin:16px}#graph svg text{font:11px monospace;fill:#000;pointer-events:none}
.key span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}
#controls label{margin-right:14px}#controls{margin-bottom:6px}#graph rect{cursor:pointer;stroke:#fff;stroke-width:.5}`;

/** The page's script: reads `#flame-data`, draws `#graph`. */
export const FLAME_GRAPH_SCRIPT = `"use strict";
(() => {
  const WIDTH = 1200, ROW = 18, MIN_PX = 0.3;
  const data = JSON.parse(document.getElementById("flame-data").textContent);
  const graph = document.getElementById("graph");
  const search = document.getElementById("search");
  const matched = document.getElementById("matched");
  let zoomPath = [];
  // One set of four views per measure (total, at peak, at end …); a radio picks it when there are several.
  const measureInput = () => document.querySelector('input[name="measure"]:checked');
  const views = () => data.measures[measureInput() ? measureInput().value : Object.keys(data.measures)[0]];
  const view = () => {
    const js = document.getElementById("view-js").checked;
    const inverted = document.getElementById("view-inverted").checked;
    return views()[(js ? "js" : "all") + "-" + (inverted ? "inverted" : "upright")];
  };
  const colour = (name, js) => {
    let hash = 0;
    for (let i = 0; i < name.length; i++) hash = (hash * 31 + name.charCodeAt(i)) >>> 0;
    const shade = hash % 40;
    return js ? "rgb(240," + (130 + shade) + "," + (30 + shade) + ")" : "rgb(" + (70 + shade) + "," + (130 + shade) + ",220)";
  };
  const formatBytes = (bytes) => {
    const units = ["B", "KiB", "MiB", "GiB"];
    let value = bytes, unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
    return unit === 0 ? value + " B" : value.toFixed(1) + " " + units[unit];
  };
  // Levels holding a box wide enough to draw (at most 200): the height of the picture.
  const visibleDepth = (node, total) =>
    (node[1] / total) * WIDTH < MIN_PX ? 0 : 1 + node[4].reduce((max, child) => Math.max(max, visibleDepth(child, total)), 0);
  const svgNode = (tag, attributes) => {
    const element = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
    return element;
  };
  function draw() {
    const tree = view();
    let root = tree;
    for (const index of zoomPath) root = root[4].find((child) => child[0] === index) || root;
    const inverted = document.getElementById("view-inverted").checked;
    const term = search.value.trim().toLowerCase();
    const depth = Math.min(visibleDepth(root, root[1] || 1), 200);
    const height = depth * ROW;
    const svg = svgNode("svg", { width: WIDTH, height, viewBox: "0 0 " + WIDTH + " " + height, id: "flame" });
    let matchedBytes = 0;
    const place = (node, x, level, path, insideMatch) => {
      const width = root[1] === 0 ? 0 : (node[1] / root[1]) * WIDTH;
      if (width < MIN_PX || level >= depth) return;
      const name = data.names[node[0]];
      const hit = term !== "" && name.toLowerCase().includes(term);
      if (hit && !insideMatch) matchedBytes += node[1];
      const y = inverted ? level * ROW : height - (level + 1) * ROW;
      const group = svgNode("g", { class: "frame" + (hit ? " match" : ""), "data-name": name });
      const title = svgNode("title", {});
      const share = tree[1] === 0 ? 0 : (node[1] / tree[1]) * 100;
      title.textContent = name + "\\n" + formatBytes(node[1]) + " in " + node[2] + " blocks, " + share.toFixed(2) + "% of all bytes";
      group.appendChild(title);
      const rect = svgNode("rect", { x: x.toFixed(2), y, width: width.toFixed(2), height: ROW - 1, rx: 2,
        fill: hit ? "#e040e0" : level === 0 ? "#bbb" : colour(name, node[3] === 1) });
      rect.addEventListener("click", () => { zoomPath = path; draw(); });
      group.appendChild(rect);
      const fits = Math.floor(width / 7);
      if (fits >= 3) {
        const text = svgNode("text", { x: (x + 3).toFixed(2), y: y + ROW - 5 });
        text.textContent = name.length > fits ? name.slice(0, fits - 2) + ".." : name;
        group.appendChild(text);
      }
      svg.appendChild(group);
      let childX = x;
      for (const child of node[4]) {
        place(child, childX, level + 1, path.concat([child[0]]), insideMatch || hit);
        childX += (child[1] / root[1]) * WIDTH;
      }
    };
    place(root, 0, 0, zoomPath, false);
    graph.replaceChildren(svg);
    matched.textContent = term === "" ? "" : "Matched: " + formatBytes(matchedBytes) + " (" +
      (tree[1] === 0 ? 0 : (matchedBytes / tree[1]) * 100).toFixed(1) + "% of all bytes)";
  }
  const inputs = [...document.querySelectorAll('input[name="measure"]'), ...["view-all", "view-js", "view-inverted"]
    .map((id) => document.getElementById(id))];
  for (const input of inputs) {
    input.addEventListener("change", () => {
      zoomPath = [];
      if (input.name === "measure") document.getElementById("measure-words").textContent = input.parentNode.textContent.trim();
      draw();
    });
  }
  search.addEventListener("input", draw);
  document.getElementById("reset").addEventListener("click", () => { zoomPath = []; draw(); });
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.get("view") === "js") document.getElementById("view-js").checked = true;
  if (params.get("view") === "all") document.getElementById("view-all").checked = true;
  if (params.get("inverted") === "1") document.getElementById("view-inverted").checked = true;
  if (params.has("search")) search.value = params.get("search");
  const measure = params.get("measure") && document.getElementById("measure-" + params.get("measure"));
  if (measure) { measure.checked = true; document.getElementById("measure-words").textContent = measure.parentNode.textContent.trim(); }
  // #zoom=<start of a base box's name>, e.g. #view=js&zoom=code (the stacks with JS of yours).
  const zoom = params.get("zoom");
  const base = zoom === null ? undefined : view()[4].find((child) => data.names[child[0]].startsWith(zoom));
  if (base !== undefined) zoomPath = [base[0]];
  draw();
})();
`;

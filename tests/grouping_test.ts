// Attribution and grouping on hand-made stacks: which frame a row is named
// after, how runtime rows are worded, and how sites merge.
import assert from "node:assert/strict";
import { attribute, packageOf, shortFile, threadKind } from "../api/attribution.ts";
import { groupOf, groupSites } from "../api/grouping.ts";
import type { Frame } from "../symbols/symbolizer.ts";

const own = new URL("../api/profiler.ts", import.meta.url).href;
const user = "file:///home/me/app/main.ts";
const npm = "file:///home/me/.cache/deno/npm/registry.npmjs.org/yaml/2.9.1/dist/parse/parser.js";

function js(symbol: string, file: string, line = 3, column = 5, extra: Partial<Frame> = {}): Frame {
  return { address: 0x1000 + line, kind: "js", symbol, file, line, column, module: "[V8 JIT]", ...extra };
}
function native(symbol: string | undefined, module: string): Frame {
  return { address: 0x2000, kind: "native", symbol, module, offset: 0x10 };
}

Deno.test("the innermost user frame is the answer: ext:, node: and the profiler's own frames are skipped", () => {
  const stack = [
    native(undefined, Deno.execPath()),
    js("encode", "ext:core/01_core.js"),
    js("readSites", own),
    js("writeRow", user, 12, 3),
    js("main", user, 40, 1),
  ];
  const who = attribute(stack);
  assert.equal(who.kind, "js");
  assert.equal(who.kind === "js" && who.frame.symbol, "writeRow");
  assert.equal(groupOf({ frames: stack }, "function").label, `JS writeRow ${user}:12:3`);
  assert.equal(groupOf({ frames: stack }, "file").label, `JS ${user}`);
});

Deno.test("npm files are named by package and version; each package is one row under package", () => {
  assert.equal(packageOf(npm), "npm:yaml@2.9.1");
  assert.equal(packageOf("file:///app/node_modules/@scope/pkg/index.js"), "npm:@scope/pkg");
  assert.equal(packageOf(user), undefined);
  assert.equal(shortFile(npm), "npm:yaml@2.9.1/dist/parse/parser.js");
  const a = { frames: [js("next", npm, 176, 10)] };
  const b = { frames: [js("parse", npm.replace("parser.js", "lexer.js"), 9, 2)] };
  const rows = groupSites([a, b], "package", () => 1);
  assert.deepEqual(rows.map((row) => [row.label, row.members.length]), [["JS npm:yaml@2.9.1", 2]]);
});

Deno.test("a function's interpreted and compiled sites are one row, named with the heaviest site's allocating line", () => {
  const interpreted = { frames: [native(undefined, Deno.execPath()), js("render", user, 5, 1)], bytes: 10 };
  const compiled = {
    frames: [
      native(undefined, Deno.execPath()),
      js("render", user, 5, 1, { address: 0x9999, callLine: 8, callColumn: 17 }),
    ],
    bytes: 30,
  };
  const rows = groupSites([interpreted, compiled], "function", (site) => site.bytes);
  assert.equal(rows.length, 1);
  assert.equal(rows[0].label, `JS render ${user}:5:1 → line 8:17`);
  assert.equal(groupSites([interpreted, compiled], "stack", (site) => site.bytes).length, 2);
});

Deno.test("rows without JS of yours are worded by kind of thread, never as an address", () => {
  const deno = native(undefined, Deno.execPath());
  assert.equal(threadKind("V8 DefaultWorke", [deno]), "v8-worker");
  assert.equal(threadKind("tokio-runtime-w", [deno]), "tokio");
  assert.equal(threadKind("deno", [deno]), "main");
  assert.equal(threadKind(undefined, [deno, js("x", "ext:core/01_core.js")]), "main");
  assert.equal(threadKind(undefined, [deno, native("start_thread", "/usr/lib/x86_64-linux-gnu/libc.so.6")]), "unknown");
  const worker = groupOf({ frames: [deno], threadName: "V8 DefaultWorke" }, "function");
  assert.deepEqual([worker.kind, worker.label], ["runtime", "V8 background threads (GC, compilers)"]);
  const unknown = groupOf({ frames: [deno, deno] }, "function");
  assert.equal(unknown.kind, "runtime");
  assert.doesNotMatch(unknown.label, /0x/);
  // A named function of a library the program loaded is its own row.
  const ffi = groupOf({
    frames: [native("malloc", "/usr/lib/x86_64-linux-gnu/libc.so.6"), native("encode_row", "/app/libcodec.so")],
  }, "function");
  assert.deepEqual([ffi.kind, ffi.label], ["native", "encode_row (libcodec.so)"]);
});

Deno.test("module top level is one row: Script code, a module body run as a generator, a CommonJS wrapper", () => {
  const script = { frames: [js("(top level)", user, 1, 1)] };
  const body = { frames: [js("(anonymous)", user, 1, 74), native("Builtin:GeneratorPrototypeNext", "[V8 JIT]")] };
  const resumed = {
    frames: [js("(anonymous)", user, 1, 1), native("Builtin:AsyncFunctionAwaitResolveClosure", "[V8 JIT]")],
  };
  const rows = groupSites([script, body, resumed], "function", () => 1);
  assert.deepEqual(rows.map((row) => row.label), [`JS (top level) ${user}`]);
  // An anonymous callback of the user's code is not top level.
  const callback = { frames: [js("(anonymous)", user, 7, 20), js("main", user, 40, 1)] };
  assert.equal(groupOf(callback, "function").label, `JS (anonymous) ${user}:7:20 in main`);
});

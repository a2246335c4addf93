// The report answers "which of my code allocates native memory" on a real
// program made of npm packages nobody here wrote (markdown-it, yaml):
// grouped rows name the packages' functions, runtime rows are few and
// worded, no row is a bare address, and the program's output is unchanged.
import assert from "node:assert/strict";
import { runDeno } from "./support/child.ts";
import { hasCommand, renderedDom, screenshot } from "./support/tools.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const PROGRAM = new URL("./support/profile_targets/npm_render.ts", import.meta.url).pathname;
const PACKAGES = ["npm:markdown-it@15.0.3", "npm:yaml@2.9.1"];

interface Row {
  bytes: string;
  label: string;
}

/** The numbered rows of the summary: `  1.    8.8 MiB    1500 allocs   12 sites  label`. */
function rowsOf(stderr: string): Row[] {
  const rows: Row[] = [];
  for (const line of stderr.split("\n")) {
    const match = /^\s+\d+\.\s+([\d.]+ \S+)\s+\d+ allocs\s+(?:\d+ sites)?\s+(.*)$/.exec(line);
    if (match !== null) rows.push({ bytes: match[1], label: match[2] });
  }
  return rows;
}

const BARE_ADDRESS = /\+0x[0-9a-f]+|\b0x[0-9a-f]{6,}\b/;

/** Runs `profile` on a target (default: the npm program), its DHAT file in a temporary directory. */
async function profileProgram(args: string[], target = PROGRAM) {
  const dir = await Deno.makeTempDir();
  try {
    return await runDeno([CLI, "-o", `${dir}/out.json`, "-A", ...args, target]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("an npm program's top 10 rows name the packages' functions, with at most two runtime rows and no bare address", async () => {
  const plain = await runDeno([PROGRAM]);
  assert.equal(plain.code, 0, plain.stderr);
  const result = await profileProgram([]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, plain.stdout, "the program's output is unchanged");
  const rows = rowsOf(result.stderr);
  assert.equal(rows.length, 10, result.stderr);
  const runtime = rows.filter((row) => !row.label.startsWith("JS "));
  assert.ok(runtime.length <= 2, `runtime rows:\n${runtime.map((row) => row.label).join("\n")}`);
  for (const row of runtime) assert.match(row.label, /^(native \(thread unknown\)|main thread|V8 background|Tokio)/);
  for (const row of rows) assert.doesNotMatch(row.label, BARE_ADDRESS, `no bare address: ${row.label}`);
  const named = rows.filter((row) => PACKAGES.some((name) => row.label.includes(` ${name}/`)));
  assert.ok(named.length >= 6, `rows naming a package's function:\n${rows.map((row) => row.label).join("\n")}`);
  for (const name of PACKAGES) {
    assert.ok(named.some((row) => row.label.includes(name)), `${name} is in the top 10`);
  }
  // Each named row is a function of the package (`JS name npm:pkg@v/file.js:line:col`, an anonymous one within
  // its named caller) or a module's top level.
  for (const row of named) {
    assert.match(
      row.label,
      /^JS ([\w$.<>]+ npm:\S+:\d+:\d+|\(anonymous\) npm:\S+:\d+:\d+ in \S+|\(top level\) npm:\S+)( → line \d+:\d+)?$/,
    );
  }
  assert.match(result.stderr, /By bytes: [\d.]+% under a JS function of yours/);
  assert.doesNotMatch(result.stderr, /did not fit the site table/, "profile's defaults hold the program's sites");
  assert.match(result.stderr, /[\d.]+% the runtime's own work, no JS of yours on the stack/);
});

Deno.test("--group-by package makes each npm package one row; --group-by stack keeps one row per stack", async () => {
  const byPackage = await profileProgram(["--group-by", "package", "--top", "6"]);
  assert.equal(byPackage.code, 0, byPackage.stderr);
  const labels = rowsOf(byPackage.stderr).map((row) => row.label);
  for (const name of PACKAGES) assert.ok(labels.includes(`JS ${name}`), `${name} row in:\n${labels.join("\n")}`);
  assert.match(byPackage.stderr, /grouped by package/);
  const byStack = await profileProgram(["--group-by", "stack", "--top", "5"]);
  assert.match(byStack.stderr, /top 5 sites, by bytes:/);
  const bad = await runDeno([CLI, "--group-by", "colour", PROGRAM]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--group-by is one of function, file, package, native, stack; got "colour"/);
  const badView = await runDeno([CLI, "--flamegraph-view", "sideways", PROGRAM]);
  assert.equal(badView.code, 2);
  assert.match(badView.stderr, /--flamegraph-view is one of all, js, inverted, js-inverted; got "sideways"/);
});

Deno.test({
  name: "the flame graph of the npm program in headless Chromium: four views, a markdown-it box, search and tooltips",
  ignore: !hasCommand("chromium"),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const files = ["-o", `${dir}/out.json`, "--flamegraph", `${dir}/fg.html`, "--flamegraph-view", "js"];
      const result = await runDeno([CLI, ...files, "-A", PROGRAM]);
      assert.equal(result.code, 0, result.stderr);
      const page = `file://${dir}/fg.html`;
      const upright = await renderedDom(page);
      for (const id of ["view-all", "view-js", "view-inverted", "search"]) {
        assert.match(upright, new RegExp(`id="${id}"`));
      }
      // --flamegraph-view js: the page opens on your JS only, where no native frame has a box.
      assert.match(upright, /id="view-js" checked/);
      const boxes = (dom: string) => [...dom.matchAll(/data-name="([^"]*)"/g)].map((match) => match[1]);
      assert.ok(!boxes(upright).some((name) => /\+0x|^Builtin:|^start_thread/.test(name)), "no native box");
      const all = boxes(await renderedDom(`${page}#view=all`));
      assert.ok(all.some((name) => /^start_thread /.test(name)), "all frames: walks reach glibc's start_thread");
      assert.match(
        upright,
        /<g class="frame" data-name="JS render npm:markdown-it@15\.0\.3\/dist\/markdown-it\.mjs:\d+:\d+">/,
      );
      assert.match(
        upright,
        /<title>JS render npm:markdown-it@15\.0\.3\S+\n[\d.]+ \w+ in \d+ blocks, [\d.]+% of all bytes<\/title>/,
      );
      // Your JS only, inverted: the root's children are the allocating JS functions, no native frame among them.
      const inverted = await renderedDom(`${page}#inverted=1&search=npm:yaml@2.9.1`);
      const names = boxes(inverted);
      assert.ok(names.some((name) => name.startsWith("JS ") && name.includes("npm:yaml@2.9.1")), "a yaml function box");
      assert.ok(names.every((name) => name.startsWith("JS ") || !/\+0x|^Builtin:/.test(name)), "no native frame");
      assert.match(inverted, /<g class="frame match" data-name="JS [^"]*npm:yaml@2\.9\.1/);
      assert.match(inverted, /Matched: [\d.]+ \w+ \([\d.]+% of all bytes\)/);
      await screenshot(`${page}#view=js&zoom=code`, `${dir}/fg.png`, "1240,900");
      const png = await Deno.readFile(`${dir}/fg.png`);
      assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
      assert.ok(png.length > 20_000, `screenshot of ${png.length} bytes`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("compiled code shows the line that allocated (V8's jitdump), mapped back to the TypeScript source", async () => {
  const target = new URL("./support/profile_targets/hot_loop.ts", import.meta.url).pathname;
  const result = await profileProgram(["--top", "3"], target);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "600000\n");
  const rows = rowsOf(result.stderr);
  // makeRows (or the top level it is inlined into) allocates at `new Uint8Array`: line 6, column 17.
  const allocating = rows.filter((row) =>
    row.label.endsWith("hot_loop.ts:2:10 → line 6:17") ||
    row.label.endsWith("hot_loop.ts → line 6:17")
  );
  assert.ok(allocating.length > 0, result.stderr);
  assert.match(rows[0].label, /hot_loop\.ts.* → line 6:17$/, "the top row is the allocating line");
});

Deno.test("module top level is one row before and after a top-level await", async () => {
  const target = new URL("./support/profile_targets/top_level_await.ts", import.meta.url).pathname;
  const result = await profileProgram(["--top", "20"], target);
  assert.equal(result.code, 0, result.stderr);
  const own = rowsOf(result.stderr).filter((row) => /top_level_await\.ts($|:1:| →)/.test(row.label));
  assert.equal(own.length, 1, own.map((row) => row.label).join("\n"));
  assert.match(own[0].label, /^JS \(top level\) file:\/\/\/\S+top_level_await\.ts( → line \d+:\d+)?$/);
  // 128 blocks of 64 KiB: both halves are in the row (V8 adds a little of its own).
  assert.match(own[0].bytes, /^([89]|1\d)\.\d MiB$/);
});

// Layers import downwards only: types/ ← ffi/ ← api/ (and symbols/ beside
// ffi/). A file that imports a higher layer fails here with its name.
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

/** The folders each layer may import from (its own included). */
const ALLOWED: Record<string, readonly string[]> = {
  types: ["types"],
  ffi: ["ffi", "types"],
  symbols: ["symbols", "types"],
  api: ["api", "ffi", "symbols", "types"],
};

/** Static and dynamic import specifiers of a source text, comments left out. */
export function importSpecifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const patterns = [
    /(?:^|[\n;])\s*(?:import|export)\b[^;"'`]*?\bfrom\s*["']([^"']+)["']/g,
    /(?:^|[\n;])\s*import\s*["']([^"']+)["']/g,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
  ];
  return patterns.flatMap((pattern) => [...code.matchAll(pattern)].map((match) => match[1]));
}

/** The top folder of the repository an import of `file` lands in ("" for the root). */
function targetFolder(file: URL, specifier: string): string | undefined {
  if (!specifier.startsWith(".")) return undefined; // npm:, node: and other packages are not layers
  const target = new URL(specifier, file).href.slice(ROOT.href.length);
  const slash = target.indexOf("/");
  return slash < 0 ? "" : target.slice(0, slash);
}

/** Imports in `folder` that reach a layer it may not use, as "file → specifier". */
export function upwardImports(folder: string, files: { url: URL; source: string }[]): string[] {
  const allowed = ALLOWED[folder];
  assert.ok(allowed !== undefined, `no layer rule for ${folder}/`);
  const bad: string[] = [];
  for (const { url, source } of files) {
    for (const specifier of importSpecifiers(source)) {
      const target = targetFolder(url, specifier);
      if (target !== undefined && !allowed.includes(target)) {
        bad.push(`${url.href.slice(ROOT.href.length)} → ${specifier}`);
      }
    }
  }
  return bad;
}

function sourcesOf(folder: string): { url: URL; source: string }[] {
  const files: { url: URL; source: string }[] = [];
  for (const entry of Deno.readDirSync(new URL(`${folder}/`, ROOT))) {
    if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
    const url = new URL(`${folder}/${entry.name}`, ROOT);
    files.push({ url, source: Deno.readTextFileSync(url) });
  }
  assert.ok(files.length > 0, `${folder}/ has no TypeScript files`);
  return files;
}

for (const folder of Object.keys(ALLOWED)) {
  Deno.test(`nothing in ${folder}/ imports a layer above it`, () => {
    assert.deepEqual(upwardImports(folder, sourcesOf(folder)), []);
  });
}

Deno.test("the layer check finds an upward import and ignores one in a comment", () => {
  const url = new URL("ffi/example.ts", ROOT);
  const source = [
    '/** import { Profiler } from "../api/profiler.ts"; */',
    '// import "../api/budget.ts";',
    'import type { ThreadScope } from "../types/alloc_stats.ts";',
    "import {",
    "  StateError,",
    '} from "../api/errors.ts";',
    'const lazy = () => import("../api/mod_alloc.ts");',
  ].join("\n");
  assert.deepEqual(upwardImports("ffi", [{ url, source }]), [
    "ffi/example.ts → ../api/errors.ts",
    "ffi/example.ts → ../api/mod_alloc.ts",
  ]);
});

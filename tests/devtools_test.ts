// The `.heapprofile` (Chrome DevTools' sampling heap profile) of a real
// profiled Deno program, read by the installed Chromium's DevTools: checked
// against the HeapProfiler.SamplingHeapProfile type the browser defines,
// and loaded by the Memory panel's own loader in its bundled frontend.
import assert from "node:assert/strict";
import type { DhatFile } from "../api/dhat.ts";
import type { HeapProfileNode } from "../api/heap_profile.ts";
import { hasCommand } from "./support/tools.ts";
import { profile as profileCommand } from "./support/profile_cli.ts";
import { checkCdpValue, withDevTools } from "./support/devtools_protocol.ts";

const DEMO = new URL("../examples/profile_demo.ts", import.meta.url).pathname;

/**
 * Loads a .heapprofile the way the Memory panel's "Load profile" does
 * (SamplingHeapProfileType.loadFromFile), then builds the panel's tree
 * model of it (SamplingHeapProfileModel): its total and its JS functions.
 */
function loadInMemoryPanel(text: string): string {
  return `(async () => {
    const profiler = await import("./panels/profiler/profiler.js");
    const type = profiler.ProfilesPanel.ProfilesPanel.registry.samplingHeapProfileType;
    const error = await type.loadFromFile(new File([${JSON.stringify(text)}], "demo.heapprofile"));
    const header = type.getProfiles().at(-1);
    const model = new profiler.HeapProfileView.SamplingHeapProfileModel(header.profile);
    const urls = new Set();
    const walk = (node) => { if (node.url) urls.add(node.url); node.children.forEach(walk); };
    walk(model.root);
    return JSON.stringify({ error: error ? String(error) : null, loaded: type.getProfiles().length, total: model.total, urls: [...urls] });
  })()`;
}

function selfBytes(node: HeapProfileNode): number {
  return node.children.reduce((sum, child) => sum + selfBytes(child), node.selfSize);
}

Deno.test({
  name: "a profiled program's .heapprofile conforms to Chromium's SamplingHeapProfile and loads in its Memory panel",
  ignore: !hasCommand("chromium"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "mod-alloc-devtools-" });
    try {
      const path = `${dir}/demo.heapprofile`;
      const result = await profileCommand(["-o", `${dir}/out.json`, "--heapprofile", path, DEMO]);
      assert.equal(result.code, 0, result.stderr);
      const text = await Deno.readTextFile(path);
      const profile = JSON.parse(text);
      const data = JSON.parse(await Deno.readTextFile(`${dir}/out.json`)) as DhatFile;
      const fileBytes = data.pps.reduce((sum, pp) => sum + pp.tb, 0);
      assert.equal(selfBytes(profile.head), fileBytes);
      await withDevTools(async (devtools) => {
        const types = await devtools.protocol();
        assert.ok(types.has("HeapProfiler.SamplingHeapProfile"), "the browser does not define the type");
        assert.deepEqual(checkCdpValue(types, "HeapProfiler.SamplingHeapProfile", profile).slice(0, 10), []);
        assert.ok(profile.samples.length > 0 && profile.head.children.length > 0);
        // The validator can fail: a node without its call frame is refused.
        const broken = structuredClone(profile);
        delete broken.head.children[0].callFrame;
        assert.match(
          checkCdpValue(types, "HeapProfiler.SamplingHeapProfile", broken).join("\n"),
          /callFrame: missing/,
        );
        const loaded = JSON.parse(await devtools.evaluateInFrontend(loadInMemoryPanel(text)));
        assert.equal(loaded.error, null);
        assert.equal(loaded.loaded, 1);
        assert.equal(loaded.total, fileBytes);
        assert.ok(loaded.urls.some((url: string) => url.endsWith("examples/profile_demo.ts")), loaded.urls.join("\n"));
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

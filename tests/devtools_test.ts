// The `.heapprofile` (Chrome DevTools' sampling heap profile) of a real
// profiled Deno program, checked against the definition of
// HeapProfiler.SamplingHeapProfile that the installed Chromium serves.
import assert from "node:assert/strict";
import { hasCommand } from "./support/tools.ts";
import { checkCdpValue, chromiumProtocol } from "./support/devtools_protocol.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const DEMO = new URL("../examples/profile_demo.ts", import.meta.url).pathname;

Deno.test({
  name: "a profiled program's .heapprofile conforms to Chromium's own HeapProfiler.SamplingHeapProfile",
  ignore: !hasCommand("chromium"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "mod-alloc-devtools-" });
    try {
      const path = `${dir}/demo.heapprofile`;
      const output = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--no-lock", CLI, "-o", `${dir}/out.json`, "--heapprofile", path, DEMO],
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
      const profile = JSON.parse(await Deno.readTextFile(path));
      const types = await chromiumProtocol();
      assert.ok(types.has("HeapProfiler.SamplingHeapProfile"), "the browser does not define the type");
      assert.deepEqual(checkCdpValue(types, "HeapProfiler.SamplingHeapProfile", profile).slice(0, 10), []);
      assert.ok(profile.samples.length > 0 && profile.head.children.length > 0);
      // The validator can fail: a node without its call frame is refused.
      const broken = structuredClone(profile);
      delete broken.head.children[0].callFrame;
      assert.match(checkCdpValue(types, "HeapProfiler.SamplingHeapProfile", broken).join("\n"), /callFrame: missing/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

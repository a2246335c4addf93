// Run by tests/bench_mem_test.ts with `deno bench --json`.
import { benchAllocations } from "../../mod.ts";
import { loadFixture } from "./fixture.ts";

const fixture = loadFixture();
const known = fixture.fixture_known_sequence;
const runs = { n: 200, warmup: 20 };

if (Deno.env.get("BENCH_CASE") === "promise without async") {
  benchAllocations("returns a promise", () => Promise.resolve().then(known), runs);
} else {
  benchAllocations("sync", () => known(), runs);
  benchAllocations("async, allocating after an await", async () => {
    await Promise.resolve();
    known();
  }, runs);
  benchAllocations("same name", () => {}, { ...runs, group: "empty" });
  benchAllocations("same name", () => known(), { ...runs, group: "known" });
  benchAllocations("setup outside start/end", (b) => {
    known();
    b.start();
    b.end();
  }, runs);
  benchAllocations("work inside start/end", (b) => {
    b.start();
    known();
    b.end();
  }, runs);
}

// Run by tests/bench_mem_test.ts with `deno bench`.
import { benchAllocations } from "../../mod.ts";
import { loadFixture } from "./fixture.ts";

const fixture = loadFixture();
benchAllocations("alloc_b x2 of 3000 B", () => fixture.fixture_alloc_b(2n, 3000n));

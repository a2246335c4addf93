/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
// Worker: reads its own thread's counters at start, then leaks `leak`
// blocks of 16 B through the native fixture on its own thread, and reads
// them again. Posts both and closes (its thread then exits).
import { ModAlloc } from "../../mod.ts";
import { loadFixture } from "./fixture.ts";

self.onmessage = (event: MessageEvent<{ leak: number }>) => {
  const alloc = ModAlloc.install();
  const start = alloc.snapshot({ thread: "current" });
  const fixture = loadFixture();
  for (let i = 0; i < event.data.leak; i++) fixture.fixture_malloc(16n);
  const end = alloc.snapshot({ thread: "current" });
  self.postMessage({ start: start.allocCount, end: end.allocCount });
  self.close();
};

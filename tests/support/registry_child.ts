// Imported by URL from the loopback registry (the test writes the import
// line in front of this file): makes the library available the way a
// registry user would, counts one Uint8Array, prints one JSON line.
const { ModAlloc, Profiler } = await import(Deno.args[0]);
try {
  const { source, path } = await ModAlloc.load();
  const profiler = Profiler.start({ thread: "current" });
  const bytes = new Uint8Array(1 << 20);
  const stats = profiler.stop();
  console.log(JSON.stringify({ ok: true, source, path, totalBytes: stats.totalBytes, length: bytes.length }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, name: (error as Error).name, message: (error as Error).message }));
}

// Module top level that allocates before and after a top-level await (in
// the module's own code, no callback): both halves are one report row,
// "(top level)".
const before: Uint8Array[] = [];
for (let i = 0; i < 64; i++) before.push(new Uint8Array(64 * 1024));
await new Promise<void>(function wait(resolve) {
  setTimeout(resolve, 10);
});
const after: Uint8Array[] = [];
for (let i = 0; i < 64; i++) after.push(new Uint8Array(64 * 1024));
console.log(before.length + after.length);

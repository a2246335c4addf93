// V8's jitdump: code-load records name JIT code like the perf map, debug-info
// records give the line of each instruction; a truncated or foreign file
// is handled without a hang or a guess.
import assert from "node:assert/strict";
import { jitLineAt, parseJitDump } from "../symbols/jitdump.ts";

/** A jitdump with one code load at `start` and, optionally, its line table. */
function jitDump(start: bigint, name: string, lines: [number, number, number][]): Uint8Array {
  const parts: number[] = [];
  const u32 = (value: number) => parts.push(...new Uint8Array(new Uint32Array([value]).buffer));
  const u64 = (value: bigint) => parts.push(...new Uint8Array(new BigUint64Array([value]).buffer));
  const text = (value: string) => parts.push(...new TextEncoder().encode(value), 0);
  u32(0x4a695444), u32(1), u32(40), u32(62), u32(0), u32(1234), u64(0n), u64(0n); // header, 40 bytes
  // Debug info comes before the code load it describes, as V8 writes it.
  const debugStart = parts.length;
  u32(2), u32(0), u64(0n), u64(start), u64(BigInt(lines.length));
  for (const [offset, line, column] of lines) {
    u64(start + BigInt(offset) + 0x40n), u32(line), u32(column);
    text("file:///x.js");
  }
  const debugSize = parts.length - debugStart;
  const loadStart = parts.length;
  u32(0), u32(0), u64(0n), u32(1234), u32(1234), u64(start), u64(start), u64(0x100n), u64(7n);
  text(name);
  const loadSize = parts.length - loadStart;
  const bytes = new Uint8Array(parts);
  const view = new DataView(bytes.buffer);
  view.setUint32(debugStart + 4, debugSize, true);
  view.setUint32(loadStart + 4, loadSize, true);
  return bytes;
}

Deno.test("a jitdump gives JIT names and the line of an instruction in compiled code", () => {
  const dump = parseJitDump(jitDump(0x7000n, "JS:*render file:///x.js:10:3", [[0x10, 11, 5], [0x30, 14, 9]]));
  assert.deepEqual(dump.entries, [{ start: 0x7000n, end: 0x7100n, name: "JS:*render file:///x.js:10:3", order: 0 }]);
  assert.equal(jitLineAt(dump, 0x7000n, 0x7008n), undefined, "before the first entry");
  assert.deepEqual(jitLineAt(dump, 0x7000n, 0x7020n), { address: 0x7010n, line: 11, column: 5 });
  assert.deepEqual(jitLineAt(dump, 0x7000n, 0x7090n), { address: 0x7030n, line: 14, column: 9 });
  assert.equal(jitLineAt(dump, 0x9000n, 0x9010n), undefined, "code without a line table");
});

Deno.test("a truncated jitdump keeps the records before the cut; a file that is not one is refused", () => {
  const whole = jitDump(0x7000n, "JS:~f file:///x.js:1:1", [[0, 1, 1]]);
  const cut = parseJitDump(whole.subarray(0, whole.length - 5));
  assert.equal(cut.entries.length, 0, "the cut code-load record is dropped");
  assert.equal(cut.lines.size, 1, "the debug-info record before it is kept");
  assert.throws(() => parseJitDump(new TextEncoder().encode("not a jitdump at all, just text here")), /JiTD/);
});

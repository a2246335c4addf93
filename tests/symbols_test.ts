// The symbolization pieces: demangling, perf maps, /proc maps, ELF symbols
// and DWARF lines of the native fixture.
import assert from "node:assert/strict";
import { demangle } from "../symbols/demangle.ts";
import { lookupLine, parseLineTables } from "../symbols/dwarf_line.ts";
import { ElfFile, ElfFormatError } from "../symbols/elf.ts";
import { parseJitName, parsePerfMap, PerfMap } from "../symbols/perf_map.ts";
import { findMapping, parseMaps } from "../symbols/proc_maps.ts";
import { decodeVlq, inlineSourceMap, SourceMap } from "../symbols/source_map.ts";

const FIXTURE = new URL("../zig-out/lib/libmod_alloc_fixture.so", import.meta.url).pathname;

Deno.test("demangle renders C++ and Rust legacy names and leaves C names alone", () => {
  assert.equal(demangle("_ZN2v88internal4Heap8AllocateEv"), "v8::internal::Heap::Allocate()");
  assert.equal(demangle("_ZNK3foo3barEv"), "foo::bar() const");
  assert.equal(demangle("_Z4freePv"), "free(void*)");
  assert.equal(demangle("_ZN2v88internal4Heap8AllocateEv@@V8_1"), "v8::internal::Heap::Allocate()");
  assert.equal(demangle("_ZN4core3ptr13drop_in_place17h0123456789abcdefE"), "core::ptr::drop_in_place");
  assert.equal(demangle("_ZN5alloc3vec12Vec$LT$T$GT$4push17h0123456789abcdefE"), "alloc::vec::Vec<T>::push");
  assert.equal(demangle("_RNvNvNtCslNYArtu3iFV_5alloc3fmt6format12format_inner"), "alloc::fmt::format::format_inner");
  assert.equal(demangle("_RNCNvCs1234_8workload4main0B3_"), "workload::main::{closure}");
  assert.equal(demangle("_RINvCs1_3std4swapE"), "_RINvCs1_3std4swapE"); // generics: left as they are
  assert.equal(demangle("malloc"), "malloc");
  assert.equal(demangle("_Zgarbage"), "_Zgarbage");
});

Deno.test("the latest perf-map entry covering an address wins", () => {
  const map = new PerfMap(parsePerfMap([
    "1000 100 JS:~first file:///a.ts:1:1",
    "not a line",
    "2000 10 Builtin:ArrayPrototypePush",
    "1000 80 JS:*second file:///a.ts:5:3",
  ].join("\n")));
  assert.equal(map.lookup(0x1010n)?.name, "JS:*second file:///a.ts:5:3");
  assert.equal(map.lookup(0x1090n)?.name, "JS:~first file:///a.ts:1:1");
  assert.equal(map.lookup(0x2005n)?.name, "Builtin:ArrayPrototypePush");
  assert.equal(map.lookup(0x3000n), undefined);
});

Deno.test("perf-map names become JS frames with file, line and column", () => {
  assert.deepEqual(parseJitName("JS:~makeBig file:///tmp/t.js:1:17"), {
    kind: "js",
    symbol: "makeBig",
    file: "file:///tmp/t.js",
    line: 1,
    column: 17,
  });
  assert.equal(parseJitName("Script:~ file:///tmp/t.js:1:1").symbol, "(top level)");
  assert.equal(parseJitName("JS:o+buildIndex file:///tmp/t.js:14:20").symbol, "buildIndex");
  assert.equal(parseJitName("JS:*oops file:///tmp/t.js:2:1").symbol, "oops");
  assert.equal(parseJitName("JS:+' file:///tmp/t.js:16:6").symbol, "(anonymous)");
  assert.deepEqual(parseJitName("Builtin:ArrayPrototypePush"), {
    kind: "native",
    symbol: "Builtin:ArrayPrototypePush",
  });
});

Deno.test("maps are parsed and searched by address", () => {
  const maps = parseMaps([
    "55d0c0000000-55d0c0001000 r--p 00000000 08:01 123 /usr/bin/deno",
    "7f0000000000-7f0000010000 r-xp 00002000 08:01 456 /lib/libc.so.6",
    "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [stack]",
  ].join("\n"));
  assert.equal(maps.length, 3);
  assert.equal(findMapping(maps, 0x7f0000000100n)?.path, "/lib/libc.so.6");
  assert.equal(findMapping(maps, 0x7f0000000100n)?.offset, 0x2000n);
  assert.equal(findMapping(maps, 0x1n), undefined);
});

Deno.test("ELF symbols and DWARF lines of the fixture name its functions", () => {
  const elf = new ElfFile(FIXTURE);
  try {
    const symbol = elf.functionSymbols().find((s) => s.name === "fixture_alloc_a");
    assert.ok(symbol !== undefined);
    assert.equal(elf.symbolAt(symbol.address + 4n)?.name, "fixture_alloc_a");
    const lines = parseLineTables(elf.sectionData(".debug_line")!, {
      lineStr: elf.sectionData(".debug_line_str"),
      debugStr: elf.sectionData(".debug_str"),
    });
    const location = lookupLine(lines, symbol.address + 4n);
    assert.match(location?.file ?? "", /fixture\.c$/);
    assert.ok((location?.line ?? 0) > 0);
  } finally {
    elf.close();
  }
});

Deno.test("a file that is not ELF is refused", () => {
  assert.throws(() => new ElfFile(new URL("../deno.json", import.meta.url).pathname), ElfFormatError);
});

Deno.test("source maps take a transpiled position back to the TypeScript source", () => {
  assert.deepEqual(decodeVlq("AAAA"), [0, 0, 0, 0]);
  assert.deepEqual(decodeVlq("AACA"), [0, 0, 1, 0]);
  assert.deepEqual(decodeVlq("2HAAgB"), [123, 0, 0, 16]);
  // Generated line 1 is original line 3 from column 4 on (original column 2).
  const map = new SourceMap(";;AAEA,IAAE");
  assert.deepEqual(map.original(3, 1), { line: 3, column: 1 });
  assert.deepEqual(map.original(3, 6), { line: 3, column: 3 });
  const mapping = btoa(JSON.stringify({ version: 3, sources: ["x.ts"], mappings: "AAAA;AACA" }));
  assert.deepEqual(
    inlineSourceMap(`a;\nb;\n//# sourceMappingURL=data:application/json;base64,${mapping}\n`)?.original(2, 1),
    {
      line: 2,
      column: 1,
    },
  );
  assert.equal(inlineSourceMap("no map here"), undefined);
});

// Separate debug files: a stripped library is named through its debug file,
// found by build ID (Debian's /usr/lib/debug/.build-id layout) or by
// .gnu_debuglink, and a debug file that does not match is refused.
import assert from "node:assert/strict";
import { crc32, openDebugFile } from "../symbols/debug_file.ts";
import { ElfFile } from "../symbols/elf.ts";
import { Symbolizer } from "../symbols/symbolizer.ts";
import { hasCommand } from "./support/tools.ts";

// A static function: only the full symbol table (.symtab) names it, and
// stripping removes that; .dynsym keeps just the exported entry point.
const SOURCE = `static int debug_fixture_function(int x) {\n  return x * 3 + 1;\n}\n` +
  `int debug_fixture_entry(int x) { return debug_fixture_function(x) + 1; }\n`;
const tools = hasCommand("gcc") && hasCommand("objcopy");

function run(command: string, args: string[]): void {
  const output = new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).outputSync();
  assert.ok(output.success, `${command} ${args.join(" ")}: ${new TextDecoder().decode(output.stderr)}`);
}

/** Builds the fixture with a build ID, splits off its debug file and strips it. */
function buildStripped(dir: string, buildId: boolean) {
  Deno.writeTextFileSync(`${dir}/fixture.c`, SOURCE);
  const library = `${dir}/libfixture.so`;
  run("gcc", [
    "-g",
    "-O0",
    "-shared",
    "-fPIC",
    `-Wl,--build-id=${buildId ? "sha1" : "none"}`,
    "-o",
    library,
    `${dir}/fixture.c`,
  ]);
  run("objcopy", ["--only-keep-debug", "--compress-debug-sections=zlib", library, `${dir}/fixture.debug`]);
  run("objcopy", ["--strip-all", library]);
  return { library, debug: `${dir}/fixture.debug` };
}

/** Symbolizes the address of `debug_fixture_function` + 4 in the stripped library, mapped at 0x100000. */
function symbolize(library: string, debugDirectories: string[], symbolAddress: bigint) {
  const base = 0x100000n;
  const maps = [{ start: base, end: base + 0x100000n, perms: "r-xp", offset: 0n, path: library }];
  const symbolizer = new Symbolizer(Deno.pid, { maps, debugDirectories });
  try {
    return symbolizer.frame(base + symbolAddress + 5n);
  } finally {
    symbolizer.close();
  }
}

function functionAddress(debug: string): bigint {
  const elf = new ElfFile(debug);
  try {
    const symbol = elf.functionSymbols().find((s) => s.name === "debug_fixture_function");
    assert.ok(symbol !== undefined, "the debug file has the symbol");
    return symbol.address;
  } finally {
    elf.close();
  }
}

Deno.test({
  name: "a stripped library is named through its debug file under .build-id/xx/….debug",
  ignore: !tools,
  fn() {
    const dir = Deno.makeTempDirSync();
    try {
      const { library, debug } = buildStripped(dir, true);
      const stripped = new ElfFile(library);
      const buildId = stripped.buildId();
      assert.equal(stripped.hasSymtab, false);
      assert.equal(
        stripped.symbolAt(functionAddress(debug) + 4n),
        undefined,
        "stripped: no name without the debug file",
      );
      stripped.close();
      assert.match(buildId ?? "", /^[0-9a-f]{40}$/);
      const address = functionAddress(debug);
      // Not found yet: the debug directory is empty.
      Deno.mkdirSync(`${dir}/debug/.build-id/${buildId!.slice(0, 2)}`, { recursive: true });
      assert.equal(symbolize(library, [`${dir}/debug`], address).symbol, undefined);
      Deno.renameSync(debug, `${dir}/debug/.build-id/${buildId!.slice(0, 2)}/${buildId!.slice(2)}.debug`);
      const frame = symbolize(library, [`${dir}/debug`], address);
      assert.equal(frame.symbol, "debug_fixture_function");
      assert.match(frame.file ?? "", /fixture\.c$/);
      // The compressed .debug_line of the debug file is read: a line of the function's three.
      assert.ok([1, 2, 3].includes(frame.line ?? 0), `line ${frame.line}`);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a .gnu_debuglink is followed only to a file whose CRC matches",
  ignore: !tools,
  fn() {
    const dir = Deno.makeTempDirSync();
    try {
      const { library, debug } = buildStripped(dir, false);
      const address = functionAddress(debug);
      run("objcopy", [`--add-gnu-debuglink=${debug}`, library]);
      const stripped = new ElfFile(library);
      assert.equal(stripped.buildId(), undefined);
      assert.deepEqual(stripped.debugLink(), { name: "fixture.debug", crc: crc32(Deno.readFileSync(debug)) });
      stripped.close();
      assert.equal(symbolize(library, [], address).symbol, "debug_fixture_function");
      // The same name with other contents is not the debug file.
      Deno.writeFileSync(debug, new Uint8Array([...Deno.readFileSync(debug), 0]));
      assert.equal(symbolize(library, [], address).symbol, undefined);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "glibc's start_thread is named through Debian's libc6-dbg",
  ignore: (() => {
    try {
      const elf = new ElfFile("/lib/x86_64-linux-gnu/libc.so.6");
      const id = elf.buildId();
      elf.close();
      return id === undefined ||
        !Deno.statSync(`/usr/lib/debug/.build-id/${id.slice(0, 2)}/${id.slice(2)}.debug`).isFile;
    } catch {
      return true;
    }
  })(),
  fn() {
    const elf = new ElfFile("/lib/x86_64-linux-gnu/libc.so.6");
    try {
      assert.equal(elf.hasSymtab, false);
      const debug = openDebugFile(elf);
      assert.ok(debug !== undefined);
      try {
        assert.ok(debug.functionSymbols().some((s) => s.name === "start_thread"));
      } finally {
        debug.close();
      }
    } finally {
      elf.close();
    }
  },
});

Deno.test("crc32 is the IEEE CRC-32 .gnu_debuglink records", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  assert.equal(crc32(new TextEncoder().encode("6789"), crc32(new TextEncoder().encode("12345"))), 0xcbf43926);
});

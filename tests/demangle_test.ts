// The Itanium C++ demangler against binutils' c++filt: every C++ symbol
// that node and libstdc++ export, and the constructs the old demangler got
// wrong (constructors, destructors, templates, substitutions, statics,
// operators, special names, clones).
import assert from "node:assert/strict";
import { demangleItanium } from "../symbols/itanium.ts";
import { hasCommand } from "./support/tools.ts";

/** Demangled as c++filt (binutils 2.40) prints them. */
const CASES: [string, string][] = [
  ["_ZN3FooC1Ev", "Foo::Foo()"],
  ["_ZN3FooD0Ev", "Foo::~Foo()"],
  ["_ZN3FooC2ERKS_", "Foo::Foo(Foo const&)"],
  ["_ZNSt6vectorIiSaIiEE9push_backERKi", "std::vector<int, std::allocator<int> >::push_back(int const&)"],
  ["_ZL10helper_fooPKci", "helper_foo(char const*, int)"],
  ["_ZN3FoopLERKS_", "Foo::operator+=(Foo const&)"],
  ["_ZN3FooclEv", "Foo::operator()()"],
  ["_ZNK3FoocviEv", "Foo::operator int() const"],
  ["_ZN3FoonwEm", "Foo::operator new(unsigned long)"],
  ["_Z1fIiEvT_", "void f<int>(int)"],
  ["_ZTV3Foo", "vtable for Foo"],
  ["_ZTI3Foo", "typeinfo for Foo"],
  ["_ZThn8_N3Foo3barEv", "non-virtual thunk to Foo::bar()"],
  ["_ZGVZ4mainE1x", "guard variable for main::x"],
  ["_ZZ4mainENKUlvE_clEv", "main::{lambda()#1}::operator()() const"],
  ["_Z3fooPFviEPA3_iM3BarFivE", "foo(void (*)(int), int (*) [3], int (Bar::*)())"],
  [
    "_ZN9__gnu_cxx13new_allocatorIcE8allocateEmPKv.isra.0",
    "__gnu_cxx::new_allocator<char>::allocate(unsigned long, void const*) [clone .isra.0]",
  ],
  [
    "_ZNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEC1EPKcRKS3_",
    "std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >::basic_string(char const*, std::allocator<char> const&)",
  ],
];

Deno.test("constructors, destructors, templates, substitutions, statics, operators and special names demangle as c++filt prints them", () => {
  for (const [mangled, expected] of CASES) assert.equal(demangleItanium(mangled), expected, mangled);
});

/** Substitution seq-id of entry `i` (`S_`, `S0_`, `S1_` …). */
const seqRef = (i: number) => i === 0 ? "S_" : `S${(i - 1).toString(36).toUpperCase()}_`;

/** f<A<int>, A<A<int>, A<int> >, …>: each argument is the previous one twice, so the text doubles per argument. */
function doubling(count: number): string {
  let mangled = "_Z1fI1AIiE"; // S_ = f, S0_ = A, S1_ = A<int>
  for (let k = 0; k < count; k++) mangled += `${seqRef(1)}I${seqRef(2 + k)}${seqRef(2 + k)}E`;
  return `${mangled}Evv`;
}

Deno.test("substitutions that double the text are followed, up to a bound", () => {
  assert.equal(
    demangleItanium(doubling(2)),
    "void f<A<int>, A<A<int>, A<int> >, A<A<A<int>, A<int> >, A<A<int>, A<int> > > >()",
  );
  assert.equal(demangleItanium(doubling(10))?.length, 24529);
  assert.equal(demangleItanium(doubling(30)), undefined, "2^30 times the text: refused, not built");
});

Deno.test("a symbol that is not Itanium, or is malformed, gives undefined instead of a guess", () => {
  for (const bad of ["malloc", "_Z", "_ZN3foo", "_Z3fooS9_", "_ZN3FooC1", "_Z" + "P".repeat(5000) + "v", "_Z1fT_"]) {
    assert.equal(demangleItanium(bad), undefined, bad);
  }
});

/** Every defined C++ symbol of a library's dynamic symbol table. */
function exportedCxxSymbols(path: string): string[] {
  const nm = new Deno.Command("nm", { args: ["-D", "--defined-only", path], stdout: "piped" }).outputSync();
  const names = new TextDecoder().decode(nm.stdout).split("\n").map((line) => line.split(" ").at(-1) ?? "")
    .filter((name) => name.startsWith("_Z")).map((name) => name.replace(/@.*$/, ""));
  return [...new Set(names)];
}

/** c++filt's reading of each name, in order. */
async function filtered(mangled: string[]): Promise<string[]> {
  const child = new Deno.Command("c++filt", { stdin: "piped", stdout: "piped" }).spawn();
  // Read while writing: c++filt answers line by line and would block on a full pipe.
  const reading = child.output();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(mangled.join("\n") + "\n"));
  await writer.close();
  const output = await reading;
  return new TextDecoder().decode(output.stdout).split("\n").slice(0, mangled.length);
}

const LIBRARIES = ["/usr/bin/node", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"].filter((path) => {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
});

Deno.test({
  name: "node's and libstdc++'s exported C++ symbols demangle as c++filt prints them (99.9% or better)",
  ignore: !hasCommand("c++filt") || !hasCommand("nm") || LIBRARIES.length === 0,
  async fn() {
    const mangled = LIBRARIES.flatMap(exportedCxxSymbols);
    assert.ok(mangled.length > 1000, `${mangled.length} symbols`);
    const expected = await filtered(mangled);
    const wrong = mangled.filter((name, i) => demangleItanium(name) !== expected[i]);
    const share = 1 - wrong.length / mangled.length;
    console.log(`demangled ${mangled.length - wrong.length} of ${mangled.length} as c++filt does`);
    assert.ok(share >= 0.999, `${wrong.length} differ, e.g.\n${wrong.slice(0, 5).join("\n")}`);
  },
});

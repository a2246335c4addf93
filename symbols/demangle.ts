/**
 * Demangling: Itanium C++ names as `c++filt` prints them (`itanium.ts`:
 * `_ZN3foo3barEv` -> `foo::bar()`), Rust's legacy scheme (Itanium-shaped,
 * with a trailing `17h<hash>` element dropped and `$..$` escapes decoded),
 * and Rust's v0 scheme for plain paths (`_RNvCs…_5alloc3fmt` ->
 * `alloc::fmt`; closures as `{closure}`; generic arguments and impl paths
 * are not rendered). A C++ name the full demangler does not handle falls
 * back to its nested name without parameters; anything else is returned
 * unchanged.
 *
 * @module
 */

import { demangleItanium } from "./itanium.ts";

const RUST_ESCAPES: Record<string, string> = {
  "$SP$": "@",
  "$BP$": "*",
  "$RF$": "&",
  "$LT$": "<",
  "$GT$": ">",
  "$LP$": "(",
  "$RP$": ")",
  "$C$": ",",
  "$u7e$": "~",
  "$u20$": " ",
  "$u27$": "'",
  "$u5b$": "[",
  "$u5d$": "]",
  "$u7b$": "{",
  "$u7d$": "}",
  "$u3b$": ";",
  "$u2b$": "+",
  "$u22$": '"',
};

function rustUnescape(element: string): string {
  let text = element.startsWith("_$") ? element.slice(1) : element;
  text = text.replace(/\$[A-Za-z0-9]+\$/g, (escape) => RUST_ESCAPES[escape] ?? escape);
  return text.replaceAll("..", "::");
}

/** Rust v0 paths made of crate roots and nested names; null otherwise. */
function demangleRustV0(mangled: string): string | null {
  let index = 2; // after "_R"
  while (/[0-9]/.test(mangled[index] ?? "")) index++; // encoding version
  const base62 = () => {
    while (index < mangled.length && mangled[index] !== "_") index++;
    index++;
  };
  const identifier = (): string => {
    if (mangled[index] === "s") {
      index++;
      base62(); // disambiguator
    }
    if (mangled[index] === "u") return "?"; // punycode: not rendered
    let digits = "";
    while (/[0-9]/.test(mangled[index] ?? "")) digits += mangled[index++];
    if (digits === "") throw new Error("no identifier");
    if (mangled[index] === "_") index++;
    const text = mangled.slice(index, index + Number(digits));
    index += Number(digits);
    return text;
  };
  const path = (): string[] => {
    const tag = mangled[index++];
    if (tag === "C") return [identifier()];
    if (tag === "N") {
      const namespace = mangled[index++];
      const parent = path();
      const name = identifier();
      if (namespace === "C") return [...parent, "{closure}"];
      if (namespace === "S") return [...parent, "{shim}"];
      return [...parent, name];
    }
    throw new Error(`unsupported v0 tag ${tag}`);
  };
  try {
    return path().join("::");
  } catch {
    return null;
  }
}

/** Demangles `name`, or returns it as it is. */
export function demangle(name: string): string {
  const bare = name.replace(/@.*$/, ""); // symbol versions (memcpy@GLIBC_2.14)
  if (bare.startsWith("_R")) return demangleRustV0(bare) ?? name;
  if (!bare.startsWith("_Z")) return name;
  if (!/17h[0-9a-f]{16}E$/.test(bare)) {
    const full = demangleItanium(bare);
    if (full !== undefined) return full;
  }
  let index = 2;
  const nested = bare[index] === "N";
  if (nested) index++;
  // Skip CV-qualifiers and ref-qualifiers of member functions.
  while (nested && "rVKRO".includes(bare[index] ?? "")) index++;
  const parts: string[] = [];
  while (index < bare.length && /[0-9]/.test(bare[index])) {
    let digits = "";
    while (/[0-9]/.test(bare[index] ?? "")) digits += bare[index++];
    const length = Number(digits);
    parts.push(bare.slice(index, index + length));
    index += length;
    if (!nested) break;
  }
  if (parts.length === 0) return name;
  const rustHash = /^h[0-9a-f]{16}$/.test(parts[parts.length - 1]);
  if (rustHash) parts.pop();
  return parts.map(rustHash ? rustUnescape : (part) => part).join("::");
}

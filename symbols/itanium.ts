/**
 * An Itanium C++ ABI demangler (the scheme of GCC and Clang), written to
 * print what binutils' `c++filt` prints: nested and local names,
 * constructors and destructors, templates with template-parameter and
 * substitution references, `std::` abbreviations, operators, ABI tags,
 * lambdas and unnamed types, function, array and pointer-to-member types,
 * literals, special names (vtables, typeinfo, thunks, guard variables) and
 * clone suffixes (`.cold`, `.isra.0`). Checked against `c++filt` on node's
 * and libstdc++'s symbols (tests/demangle_test.ts).
 *
 * Input is untrusted: the parser is recursive descent with a depth limit
 * and a bound on output size; anything it does not understand makes
 * `demangleItanium` return undefined, never throw.
 *
 * @module
 */

/** A type as text around a declarator: `left + declarator + right` (e.g. `void (*` + `)(int)`). */
interface Type {
  left: string;
  right: string;
  /** Function and array types need parentheses around a pointer or reference declarator. */
  kind: "plain" | "function" | "array";
  /** For function types: the cv/ref qualifiers printed after the parameters. */
  qualifiers?: string;
  /** For template-parameter references to packs: the pack's elements. */
  pack?: Type[];
  /** Set on reference types, for reference collapsing (`T&&` with `T = int&` is `int&`). */
  reference?: "&" | "&&";
}

class DemangleError extends Error {}

const DEPTH_MAX = 256;
const OUTPUT_MAX = 1 << 16;

const BUILTINS: Record<string, string> = {
  v: "void",
  w: "wchar_t",
  b: "bool",
  c: "char",
  a: "signed char",
  h: "unsigned char",
  s: "short",
  t: "unsigned short",
  i: "int",
  j: "unsigned int",
  l: "long",
  m: "unsigned long",
  x: "long long",
  y: "unsigned long long",
  n: "__int128",
  o: "unsigned __int128",
  f: "float",
  d: "double",
  e: "long double",
  g: "__float128",
  z: "...",
};

const D_BUILTINS: Record<string, string> = {
  n: "decltype(nullptr)",
  a: "auto",
  c: "decltype(auto)",
  i: "char32_t",
  s: "char16_t",
  u: "char8_t",
  d: "decimal64",
  e: "decimal128",
  f: "decimal32",
  h: "half",
};

const OPERATORS: Record<string, string> = {
  nw: "new",
  na: "new[]",
  dl: "delete",
  da: "delete[]",
  ps: "+",
  ng: "-",
  ad: "&",
  de: "*",
  co: "~",
  pl: "+",
  mi: "-",
  ml: "*",
  dv: "/",
  rm: "%",
  an: "&",
  or: "|",
  eo: "^",
  aS: "=",
  pL: "+=",
  mI: "-=",
  mL: "*=",
  dV: "/=",
  rM: "%=",
  aN: "&=",
  oR: "|=",
  eO: "^=",
  ls: "<<",
  rs: ">>",
  lS: "<<=",
  rS: ">>=",
  eq: "==",
  ne: "!=",
  lt: "<",
  gt: ">",
  le: "<=",
  ge: ">=",
  ss: "<=>",
  nt: "!",
  aa: "&&",
  oo: "||",
  pp: "++",
  mm: "--",
  cm: ",",
  pm: "->*",
  pt: "->",
  cl: "()",
  ix: "[]",
  qu: "?",
  aw: "co_await",
};

/** Literal suffixes as c++filt prints them (`Lj5E` -> `5u`); other types print as a cast: `(char)5`. */
const LITERAL_SUFFIX: Record<string, string> = { i: "", j: "u", l: "l", m: "ul", x: "ll", y: "ull" };

/** `Sa`, `Sb`, `Ss`, `Si`, `So`, `Sd`: what they stand for (c++filt prints them in full), and their class name. */
const STD_ABBREVIATIONS: Record<string, { name: string; full: string }> = {
  a: { name: "allocator", full: "std::allocator" },
  b: { name: "basic_string", full: "std::basic_string" },
  s: { name: "basic_string", full: "std::basic_string<char, std::char_traits<char>, std::allocator<char> >" },
  i: { name: "basic_istream", full: "std::basic_istream<char, std::char_traits<char> >" },
  o: { name: "basic_ostream", full: "std::basic_ostream<char, std::char_traits<char> >" },
  d: { name: "basic_iostream", full: "std::basic_iostream<char, std::char_traits<char> >" },
};

/** The qualifiers of `wanted` that `text` does not already end with. */
function missing(text: string, wanted: string): string {
  return wanted.split(" ").filter((word) => word !== "" && !text.endsWith(` ${word}`)).map((word) => ` ${word}`).join(
    "",
  );
}

function plain(text: string): Type {
  return { left: text, right: "", kind: "plain" };
}

function typeText(type: Type): string {
  if (type.pack !== undefined) return type.pack.map(typeText).join(", ");
  return type.kind === "function" ? joinDeclarator(type.left, type.right) : type.left + type.right;
}

function joinDeclarator(left: string, right: string): string {
  return `${left.endsWith(" ") ? left.slice(0, -1) : left}${right.startsWith("(") ? " " : ""}${right}`
    .replace(/ \)/g, ")");
}

/** A parsed name: its text, and what a constructor or destructor inside it is called. */
interface Name {
  text: string;
  /** The last unqualified component without template arguments (`vector` of `std::vector<int>`). */
  last: string;
  /** True when the name ends in template arguments (then a function's first type is its return type). */
  template: boolean;
  /** True for constructors, destructors and conversion operators (which have no return type). */
  noReturn: boolean;
  /** cv and ref qualifiers of a member function (`N K … E`). */
  qualifiers: string;
}

class Parser {
  index = 0;
  depth = 0;
  substitutions: Type[] = [];
  templateParams: Type[] = [];
  /** True while reading a lambda's signature. */
  inLambda = false;
  constructor(readonly text: string) {}

  peek(offset = 0): string {
    return this.text[this.index + offset] ?? "";
  }
  startsWith(prefix: string): boolean {
    return this.text.startsWith(prefix, this.index);
  }
  eat(prefix: string): boolean {
    if (!this.startsWith(prefix)) return false;
    this.index += prefix.length;
    return true;
  }
  expect(prefix: string): void {
    if (!this.eat(prefix)) throw new DemangleError(`expected ${prefix} at ${this.index}`);
  }
  enter(): void {
    if (++this.depth > DEPTH_MAX) throw new DemangleError("too deep");
  }
  leave(): void {
    this.depth--;
  }

  number(): number {
    const negative = this.eat("n");
    const start = this.index;
    while (/[0-9]/.test(this.peek())) this.index++;
    if (start === this.index) throw new DemangleError("number expected");
    const value = Number(this.text.slice(start, this.index));
    return negative ? -value : value;
  }

  /** `<seq-id> _`: base 36, `_` alone is 0, else value + 1. */
  seqId(): number {
    if (this.eat("_")) return 0;
    const start = this.index;
    while (/[0-9A-Z]/.test(this.peek())) this.index++;
    if (start === this.index) throw new DemangleError("seq-id expected");
    const value = parseInt(this.text.slice(start, this.index), 36);
    this.expect("_");
    return value + 1;
  }

  sourceName(): string {
    const length = this.number();
    if (length <= 0 || this.index + length > this.text.length) throw new DemangleError("bad source name");
    const name = this.text.slice(this.index, this.index + length);
    this.index += length;
    return name.startsWith("_GLOBAL__N") ? "(anonymous namespace)" : name;
  }

  /** `<encoding>`: a function with its parameters, a data name, or a special name. */
  encoding(withReturnType = true): string {
    this.enter();
    try {
      if (this.peek() === "T" || this.peek() === "G") return this.specialName();
      const saved = this.templateParams;
      const name = this.name(true);
      if (this.index >= this.text.length || this.peek() === "E" || this.peek() === ".") return name.text;
      let returnType = "";
      if (name.template && !name.noReturn) returnType = typeText(this.type()) + " ";
      if (!withReturnType) returnType = "";
      const params = this.bareFunctionParams();
      if (this.depth > 1) this.templateParams = saved; // a nested encoding (local name, literal) ends its scope
      return `${returnType}${name.text}(${params})${name.qualifiers}`;
    } finally {
      this.leave();
    }
  }

  bareFunctionParams(): string {
    const types: string[] = [];
    while (this.index < this.text.length && this.peek() !== "E" && this.peek() !== ".") {
      const type = this.type();
      types.push(typeText(type));
    }
    if (types.length === 1 && types[0] === "void") return "";
    return types.filter((text) => text !== "").join(", ");
  }

  specialName(): string {
    if (this.eat("TV")) return `vtable for ${typeText(this.type())}`;
    if (this.eat("TT")) return `VTT for ${typeText(this.type())}`;
    if (this.eat("TI")) return `typeinfo for ${typeText(this.type())}`;
    if (this.eat("TS")) return `typeinfo name for ${typeText(this.type())}`;
    if (this.eat("TH")) return `TLS init function for ${this.name(false).text}`;
    if (this.eat("TW")) return `TLS wrapper function for ${this.name(false).text}`;
    if (this.eat("Th")) {
      this.number();
      this.expect("_");
      return `non-virtual thunk to ${this.encoding()}`;
    }
    if (this.eat("Tv")) {
      this.number();
      this.expect("_");
      this.number();
      this.expect("_");
      return `virtual thunk to ${this.encoding()}`;
    }
    if (this.eat("Tc")) {
      this.callOffset();
      this.callOffset();
      return `covariant return thunk to ${this.encoding()}`;
    }
    if (this.eat("TC")) {
      const type = typeText(this.type());
      this.number();
      this.expect("_");
      return `construction vtable for ${typeText(this.type())}-in-${type}`;
    }
    if (this.eat("GV")) return `guard variable for ${this.name(false).text}`;
    if (this.eat("GR")) {
      const name = this.name(false).text;
      const id = this.peek() === "_" ? (this.index++, 0) : this.seqId();
      return `reference temporary #${id} for ${name}`;
    }
    if (this.eat("GTt")) return `transaction clone for ${this.encoding()}`;
    if (this.eat("GTn")) return `non-transaction clone for ${this.encoding()}`;
    throw new DemangleError("unknown special name");
  }

  callOffset(): void {
    if (this.eat("h")) {
      this.number();
      this.expect("_");
    } else if (this.eat("v")) {
      this.number();
      this.expect("_");
      this.number();
      this.expect("_");
    } else throw new DemangleError("bad call offset");
  }

  /**
   * `<name>`. `top` is true for the name of an encoding: its template
   * arguments become the template parameters `T_` refers to.
   */
  name(top: boolean): Name {
    this.enter();
    try {
      if (this.peek() === "N") return this.nestedName(top);
      if (this.peek() === "Z") return this.localName(top);
      if (this.startsWith("St")) {
        this.index += 2;
        const unqualified = this.unqualifiedName("");
        const name = { ...unqualified, text: `std::${unqualified.text}` };
        return this.maybeTemplate(name, top, true);
      }
      if (this.peek() === "S" && this.peek(1) !== "t") {
        const substitution = this.substitution();
        if (this.peek() !== "I") throw new DemangleError("substitution as a name needs template arguments");
        return this.templated(substitution, top);
      }
      this.eat("L"); // internal linkage (a static function or variable): nothing to print
      const unqualified = this.unqualifiedName("");
      return this.maybeTemplate(unqualified, top, true);
    } finally {
      this.leave();
    }
  }

  /** An unscoped name, with template arguments if `I` follows (the template name is then substitutable). */
  maybeTemplate(name: Name, top: boolean, substitutable: boolean): Name {
    if (this.peek() !== "I") return name;
    if (substitutable) this.substitutions.push(plain(name.text));
    return this.templated({ left: name.text, right: "", kind: "plain" }, top, name);
  }

  templated(prefix: Type, top: boolean, base?: Name): Name {
    const args = this.templateArgs(top);
    const text = `${typeText(prefix)}${args}`;
    const last = base?.last ?? typeText(prefix).replace(/^.*::/, "");
    return { text, last, template: true, noReturn: base?.noReturn ?? false, qualifiers: "" };
  }

  nestedName(top: boolean): Name {
    this.expect("N");
    const qualifiers = this.memberQualifiers();
    let text = "";
    let last = "";
    let template = false;
    let noReturn = false;
    let components = 0;
    while (!this.eat("E")) {
      if (this.index >= this.text.length) throw new DemangleError("unterminated nested name");
      if (this.peek() === "I") {
        if (components === 0) throw new DemangleError("template arguments without a template");
        text += this.templateArgs(top);
        template = true;
        if (this.peek() !== "E") this.substitutions.push(plain(text));
        continue;
      }
      template = false;
      if (this.peek() === "S" && this.peek(1) !== "t" || (this.peek() === "S" && components > 0)) {
        const abbreviation = STD_ABBREVIATIONS[this.peek(1)];
        const substitution = this.substitution();
        text = typeText(substitution);
        last = abbreviation?.name ?? text.replace(/<.*$/, "").replace(/^.*::/, "");
        components++;
        continue;
      }
      if (this.peek() === "T") {
        text = typeText(this.templateParam());
        this.substitutions.push(plain(text));
        components++;
        continue;
      }
      if (this.startsWith("Dt") || this.startsWith("DT")) {
        text = typeText(this.decltype());
        this.substitutions.push(plain(text));
        components++;
        continue;
      }
      if (this.startsWith("St")) {
        this.index += 2;
        text = "std";
      }
      if (this.eat("L")) {
        // Internal linkage marker (GCC): nothing to print.
      }
      const component = this.unqualifiedName(last);
      text = text === "" ? component.text : `${text}::${component.text}`;
      last = component.last;
      noReturn = component.noReturn;
      components++;
      if (this.peek() !== "E") this.substitutions.push(plain(text));
    }
    if (components === 0) throw new DemangleError("empty nested name");
    return { text, last, template, noReturn, qualifiers };
  }

  memberQualifiers(): string {
    let qualifiers = "";
    if (this.eat("r")) qualifiers += " restrict";
    if (this.eat("V")) qualifiers += " volatile";
    if (this.eat("K")) qualifiers += " const";
    if (this.eat("R")) qualifiers += " &";
    else if (this.eat("O")) qualifiers += " &&";
    return qualifiers;
  }

  localName(top: boolean): Name {
    this.expect("Z");
    const savedParams = this.templateParams;
    // c++filt prints the enclosing function of a local name without its return type.
    const outer = this.encoding(false);
    this.templateParams = savedParams;
    this.expect("E");
    if (this.eat("s")) {
      this.discriminator();
      return { text: `${outer}::string literal`, last: "", template: false, noReturn: false, qualifiers: "" };
    }
    let defaultArgument = "";
    if (this.eat("d")) {
      const id = this.peek() === "_" ? 1 : this.number() + 2;
      this.expect("_");
      defaultArgument = `::{default arg#${id}}`;
    }
    const entity = this.name(top);
    this.discriminator();
    return { ...entity, text: `${outer}${defaultArgument}::${entity.text}` };
  }

  discriminator(): void {
    if (!this.eat("_")) return;
    if (this.eat("_")) {
      this.number();
      this.expect("_");
    } else this.number();
  }

  /** `<unqualified-name>`; `enclosing` names constructors and destructors. */
  unqualifiedName(enclosing: string): Name {
    const result = (text: string, last = text, noReturn = false): Name => ({
      text: text + this.abiTags(),
      last,
      template: false,
      noReturn,
      qualifiers: "",
    });
    if (/[0-9]/.test(this.peek())) {
      const name = this.sourceName();
      return result(name);
    }
    if (this.peek() === "C" && /[1-5I]/.test(this.peek(1))) {
      this.index++;
      if (this.eat("I")) {
        this.index++;
        this.type();
      } else this.index++;
      if (enclosing === "") throw new DemangleError("constructor without a class");
      return result(enclosing, enclosing, true);
    }
    if (this.peek() === "D" && /[0-5]/.test(this.peek(1))) {
      this.index += 2;
      if (enclosing === "") throw new DemangleError("destructor without a class");
      return result(`~${enclosing}`, enclosing, true);
    }
    if (this.eat("Ut")) {
      const id = this.peek() === "_" ? (this.index++, 1) : this.number() + 2;
      if (id !== 1) this.expect("_");
      return result(`{unnamed type#${id}}`);
    }
    if (this.eat("Ul")) {
      const params: string[] = [];
      // A generic lambda's parameters refer to its own `auto` template parameters (`T_` is `auto:1`).
      const outerParams = this.templateParams;
      this.inLambda = true;
      try {
        while (!this.eat("E")) params.push(typeText(this.type()));
      } finally {
        this.inLambda = false;
        this.templateParams = outerParams;
      }
      const id = this.peek() === "_" ? (this.index++, 1) : this.number() + 2;
      if (id !== 1) this.expect("_");
      const list = params.length === 1 && params[0] === "void" ? "" : params.join(", ");
      const text = `{lambda(${list})#${id}}`;
      return result(text);
    }
    if (this.eat("cv")) {
      const type = typeText(this.type());
      return result(`operator ${type}`, `operator ${type}`, true);
    }
    if (this.eat("li")) return result(`operator"" ${this.sourceName()}`);
    if (this.eat("DC")) {
      const names: string[] = [];
      while (!this.eat("E")) names.push(this.sourceName());
      return result(`[${names.join(", ")}]`);
    }
    const operator = OPERATORS[this.text.slice(this.index, this.index + 2)];
    if (operator !== undefined) {
      this.index += 2;
      const spaced = /^[a-z]/.test(operator) ? ` ${operator}` : operator;
      const text = `operator${spaced}`;
      // `operator<` followed by template arguments prints as `operator< <…>`.
      return result(this.peek() === "I" && (operator === "<" || operator === "<<") ? `${text} ` : text);
    }
    throw new DemangleError(`unknown unqualified name at ${this.index}`);
  }

  abiTags(): string {
    let tags = "";
    while (this.peek() === "B" && /[0-9]/.test(this.peek(1))) {
      this.index++;
      tags += `[abi:${this.sourceName()}]`;
    }
    return tags;
  }

  substitution(): Type {
    this.expect("S");
    const abbreviation = STD_ABBREVIATIONS[this.peek()];
    if (abbreviation !== undefined) {
      this.index++;
      // c++filt prints the abbreviations in full (`Ss` as `std::basic_string<char, …>`).
      return plain(abbreviation.full);
    }
    const id = this.seqId();
    const found = this.substitutions[id];
    if (found === undefined) throw new DemangleError(`substitution ${id} undefined`);
    return found;
  }

  templateArgs(top: boolean): string {
    this.expect("I");
    const args: Type[] = [];
    while (!this.eat("E")) {
      if (this.index >= this.text.length) throw new DemangleError("unterminated template arguments");
      args.push(this.templateArg());
    }
    if (top) this.templateParams = args;
    const text = args.map(typeText).filter((arg) => arg !== "").join(", ");
    if (text.length > OUTPUT_MAX) throw new DemangleError("demangled name too long");
    // c++filt spaces `> >`, except after an empty pack (`<bool>` of `IbJEE`, `<Local<Value>>` of `I…JEE`).
    const emptyPackLast = args.at(-1)?.pack?.length === 0;
    return `<${text}${text.endsWith(">") && !emptyPackLast ? " " : ""}>`;
  }

  templateArg(): Type {
    if (this.peek() === "L") return plain(this.literal());
    if (this.eat("X")) {
      const expression = this.expression();
      this.expect("E");
      return plain(expression);
    }
    if (this.eat("J")) {
      const pack: Type[] = [];
      while (!this.eat("E")) pack.push(this.templateArg());
      return { left: "", right: "", kind: "plain", pack };
    }
    return this.type();
  }

  literal(): string {
    this.expect("L");
    if (this.startsWith("_Z")) {
      this.index += 2;
      const name = this.encoding();
      this.expect("E");
      return name;
    }
    if (this.eat("Dn")) {
      if (this.peek() === "0") this.index++;
      this.expect("E");
      return "nullptr";
    }
    const type = this.type();
    const negative = this.eat("n");
    const start = this.index;
    while (this.peek() !== "E" && this.index < this.text.length) this.index++;
    const value = (negative ? "-" : "") + this.text.slice(start, this.index);
    this.expect("E");
    const name = typeText(type);
    if (name === "bool") return value === "0" ? "false" : value === "1" ? "true" : `(bool)${value}`;
    const code = Object.entries(BUILTINS).find(([, text]) => text === name)?.[0];
    if (code !== undefined && code in LITERAL_SUFFIX) return `${value}${LITERAL_SUFFIX[code]}`;
    return `(${name})${value}`;
  }

  /** The expressions template arguments and decltype use most; others make the symbol undemangled. */
  expression(): string {
    this.enter();
    try {
      if (this.peek() === "L") return this.literal();
      if (this.peek() === "T") return typeText(this.templateParam());
      if (this.eat("fp")) {
        this.memberQualifiers();
        const id = this.peek() === "_" ? (this.index++, 1) : this.number() + 2;
        if (id !== 1) this.expect("_");
        return id === 1 ? "{parm#1}" : `{parm#${id}}`;
      }
      if (this.startsWith("sZT")) {
        this.index += 2;
        const param = this.templateParam();
        return param.pack !== undefined ? String(param.pack.length) : `sizeof...(${typeText(param)})`;
      }
      if (this.eat("sZ")) return `sizeof...(${this.expression()})`;
      if (this.startsWith("adL_Z")) return this.addressOfFunction();
      if (this.eat("st")) return `sizeof (${typeText(this.type())})`;
      if (this.eat("sr")) {
        const scope = typeText(this.type());
        const member = this.unqualifiedName("");
        const args = this.peek() === "I" ? this.templateArgs(false) : "";
        return `${scope}::${member.text}${args}`;
      }
      const operator = OPERATORS[this.text.slice(this.index, this.index + 2)];
      if (operator !== undefined && !["cl", "cv"].includes(this.text.slice(this.index, this.index + 2))) {
        this.index += 2;
        const left = this.expression();
        const right = this.expression();
        return `(${left})${operator}(${right})`;
      }
      throw new DemangleError(`unsupported expression at ${this.index}`);
    } finally {
      this.leave();
    }
  }

  /**
   * `&function` as a template argument (`XadL_Z…EE`): c++filt prints a
   * function template's whole signature in parentheses, else the name.
   */
  addressOfFunction(): string {
    this.index += 5;
    const saved = this.templateParams;
    try {
      const name = this.name(true);
      const returns = name.template && !name.noReturn ? `${typeText(this.type())} ` : "";
      const params = this.bareFunctionParams();
      this.expect("E");
      return name.template ? `&(${returns}${name.text}(${params})${name.qualifiers})` : `&${name.text}`;
    } finally {
      this.templateParams = saved;
    }
  }

  templateParam(): Type {
    this.expect("T");
    const id = this.seqId();
    if (this.inLambda) return plain(`auto:${id + 1}`);
    const param = this.templateParams[id];
    if (param === undefined) throw new DemangleError(`template parameter ${id} undefined`);
    return param;
  }

  decltype(): Type {
    this.index += 2;
    const expression = this.expression();
    this.expect("E");
    return plain(`decltype (${expression})`);
  }

  type(): Type {
    this.enter();
    try {
      const type = this.typeInner();
      // Substitutions let a short name stand for an exponentially long one: bound the text.
      if (type.left.length + type.right.length > OUTPUT_MAX) throw new DemangleError("demangled name too long");
      return type;
    } finally {
      this.leave();
    }
  }

  typeInner(): Type {
    const code = this.peek();
    if (code in BUILTINS) {
      this.index++;
      return plain(BUILTINS[code]);
    }
    if (code === "u") {
      this.index++;
      const type = plain(this.sourceName());
      this.substitutions.push(type);
      return type;
    }
    if (code === "D" && this.peek(1) in D_BUILTINS) {
      this.index += 2;
      return plain(D_BUILTINS[this.text[this.index - 1]]);
    }
    if (this.startsWith("DF")) {
      this.index += 2;
      const bits = this.number();
      this.expect("_");
      return plain(`_Float${bits}`);
    }
    if (this.startsWith("Dp")) {
      this.index += 2;
      const inner = this.type();
      const expanded = inner.pack !== undefined ? inner : { ...inner, left: `${typeText(inner)}...`, right: "" };
      this.substitutions.push(expanded);
      return expanded;
    }
    if (this.startsWith("Dt") || this.startsWith("DT")) {
      const type = this.decltype();
      this.substitutions.push(type);
      return type;
    }
    if (this.startsWith("Dv")) {
      this.index += 2;
      const size = this.number();
      this.expect("_");
      const element = typeText(this.type());
      const type = plain(`${element} __vector(${size})`);
      this.substitutions.push(type);
      return type;
    }
    if (code === "r" || code === "V" || code === "K") return this.qualified();
    if (code === "P" || code === "R" || code === "O") {
      this.index++;
      const inner = this.type();
      const symbol = code === "P" ? "*" : code === "R" ? "&" : "&&";
      const type = this.declarator(inner, symbol);
      this.substitutions.push(type);
      return type;
    }
    if (code === "F") return this.functionType("");
    if (code === "A") return this.arrayType();
    if (code === "M") {
      this.index++;
      const owner = typeText(this.type());
      const member = this.type();
      const type = member.kind === "function"
        ? { left: `${member.left}(${owner}::*`, right: `)${member.right}`, kind: "plain" as const }
        : { left: `${typeText(member)} ${owner}::*`, right: "", kind: "plain" as const };
      this.substitutions.push(type);
      return type;
    }
    if (code === "T") {
      const param = this.templateParam();
      this.substitutions.push(param);
      return this.withTemplateArgs(param);
    }
    if (code === "S") {
      if (this.peek(1) === "t") {
        const name = this.name(false);
        const type = plain(name.text);
        this.substitutions.push(type);
        return type;
      }
      return this.withTemplateArgs(this.substitution());
    }
    if (code === "N" || code === "Z" || /[0-9]/.test(code)) {
      const name = this.name(false);
      const type = plain(name.text);
      this.substitutions.push(type);
      return type;
    }
    throw new DemangleError(`unknown type at ${this.index}`);
  }

  /** `template` followed by template arguments, if `I` follows (the result is a new substitution), else as it is. */
  withTemplateArgs(template: Type): Type {
    if (this.peek() !== "I") return template;
    const type = plain(`${typeText(template)}${this.templateArgs(false)}`);
    this.substitutions.push(type);
    return type;
  }

  /** A pointer or reference to `inner`: parenthesised around function and array types. */
  declarator(inner: Type, symbol: string): Type {
    if (inner.pack !== undefined) {
      return { ...inner, pack: inner.pack.map((element) => this.declarator(element, symbol)) };
    }
    if (inner.reference !== undefined && symbol !== "*") {
      return symbol === "&"
        ? { ...inner, left: `${inner.left.slice(0, -inner.reference.length)}&`, reference: "&" }
        : inner;
    }
    const reference = symbol === "*" ? undefined : symbol as "&" | "&&";
    if (inner.kind === "function") {
      return { left: `${inner.left}(${symbol}`, right: `)${inner.right}`, kind: "plain", reference };
    }
    if (inner.kind === "array") {
      return { left: `${inner.left}(${symbol}`, right: `) ${inner.right}`, kind: "plain", reference };
    }
    return { left: `${inner.left}${symbol}`, right: inner.right, kind: "plain", reference };
  }

  qualified(): Type {
    const restrict = this.eat("r");
    const volatile = this.eat("V");
    const constant = this.eat("K");
    // c++filt's order: const, volatile, restrict.
    const qualifiers = `${constant ? " const" : ""}${volatile ? " volatile" : ""}${restrict ? " restrict" : ""}`;
    if (this.peek() === "F") return this.functionType(qualifiers);
    const inner = this.type();
    const type = this.qualify(inner, qualifiers);
    this.substitutions.push(type);
    return type;
  }

  /** `inner` with cv-qualifiers; an array's apply to its element, and a qualifier is not repeated. */
  qualify(inner: Type, qualifiers: string): Type {
    if (inner.pack !== undefined) {
      return {
        ...inner,
        pack: inner.pack.map((element) => this.qualify(element, qualifiers)),
      };
    }
    if (inner.kind === "array") {
      const element = inner.left.trimEnd();
      return { ...inner, left: `${element}${missing(element, qualifiers)} ` };
    }
    return { ...inner, left: `${inner.left}${missing(inner.left, qualifiers)}` };
  }

  functionType(qualifiers: string): Type {
    this.expect("F");
    this.eat("Y");
    const returns = typeText(this.type());
    const params: string[] = [];
    let ref = "";
    while (!this.eat("E")) {
      if (this.index >= this.text.length) throw new DemangleError("unterminated function type");
      if (this.startsWith("RE")) {
        this.index++;
        ref = " &";
        continue;
      }
      if (this.startsWith("OE")) {
        this.index++;
        ref = " &&";
        continue;
      }
      params.push(typeText(this.type()));
    }
    const list = params.length === 1 && params[0] === "void" ? "" : params.join(", ");
    const type: Type = { left: `${returns} `, right: `(${list})${qualifiers}${ref}`, kind: "function" };
    this.substitutions.push(type);
    return type;
  }

  arrayType(): Type {
    this.expect("A");
    let size = "";
    if (/[0-9]/.test(this.peek())) size = String(this.number());
    else if (this.peek() !== "_") size = this.expression();
    this.expect("_");
    const element = this.type();
    const type: Type = element.kind === "array"
      ? { left: element.left, right: `[${size}]${element.right}`, kind: "array" }
      : { left: `${typeText(element)} `, right: `[${size}]`, kind: "array" };
    this.substitutions.push(type);
    return type;
  }
}

/**
 * Demangles an Itanium C++ ABI symbol (`_Z…`) as `c++filt` prints it, or
 * returns undefined when it is not one (or uses a construct not handled).
 *
 * @param mangled The symbol, without a version suffix (`@GLIBCXX_3.4`).
 * @returns The demangled name, e.g. `std::vector<int, std::allocator<int> >::push_back(int const&)`.
 */
export function demangleItanium(mangled: string): string | undefined {
  if (!mangled.startsWith("_Z") || mangled.length > OUTPUT_MAX) return undefined;
  const parser = new Parser(mangled);
  parser.index = 2;
  try {
    let text = parser.encoding();
    // Clone suffixes: `.cold`, `.isra.0`, `.constprop.0.isra.0` (GCC); each `.name[.number]` is one clone.
    while (parser.index < mangled.length) {
      const clone = /^\.[A-Za-z_]+(?:\.[0-9]+)*|^(?:\.[0-9]+)+/.exec(mangled.slice(parser.index));
      if (clone === null) return undefined;
      text += ` [clone ${clone[0]}]`;
      parser.index += clone[0].length;
    }
    return text.length > OUTPUT_MAX ? undefined : text;
  } catch (error) {
    if (error instanceof DemangleError || error instanceof RangeError) return undefined;
    throw error;
  }
}

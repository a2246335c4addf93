/**
 * DWARF line tables (`.debug_line`, versions 2 to 5): address -> file,
 * line and column. Sequences are decoded once per module, then looked up
 * by binary search.
 *
 * @module
 */

import { cString } from "./elf.ts";
import { lastAtOrBelow } from "./search.ts";

/** A source position. */
export interface SourceLocation {
  file: string;
  line: number;
  column?: number;
}

interface Row {
  address: bigint;
  file: string;
  line: number;
  column: number;
}

interface Sequence {
  start: bigint;
  end: bigint;
  rows: Row[];
}

/** Reads little-endian values and LEB128 numbers from a byte array. */
class Reader {
  offset: number;
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array, offset = 0) {
    this.offset = offset;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u8(): number {
    return this.view.getUint8(this.offset++);
  }
  i8(): number {
    return this.view.getInt8(this.offset++);
  }
  u16(): number {
    const value = this.view.getUint16(this.offset, true);
    this.offset += 2;
    return value;
  }
  u32(): number {
    const value = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return value;
  }
  u64(): bigint {
    const value = this.view.getBigUint64(this.offset, true);
    this.offset += 8;
    return value;
  }
  uleb(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      const byte = this.u8();
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
    throw new Error("LEB128 number too long");
  }
  sleb(): bigint {
    let result = 0n;
    let shift = 0n;
    let byte = 0;
    for (let i = 0; i < 10; i++) {
      byte = this.u8();
      result |= BigInt(byte & 0x7f) << shift;
      shift += 7n;
      if ((byte & 0x80) === 0) break;
    }
    if ((byte & 0x40) !== 0) result -= 1n << shift;
    return result;
  }
  string(): string {
    const text = cString(this.bytes, this.offset);
    this.offset += new TextEncoder().encode(text).length + 1;
    return text;
  }
}

const DW_FORM = {
  block: 0x09,
  data1: 0x0b,
  data2: 0x05,
  data4: 0x06,
  data8: 0x07,
  data16: 0x1e,
  line_strp: 0x1f,
  strp: 0x0e,
  string: 0x08,
  udata: 0x0f,
} as const;
const DW_LNCT_path = 1;
const DW_LNCT_directory_index = 2;

interface Strings {
  debugStr?: Uint8Array;
  lineStr?: Uint8Array;
}

function readForm(reader: Reader, form: number, offset64: boolean, strings: Strings): string | bigint {
  switch (form) {
    case DW_FORM.string:
      return reader.string();
    case DW_FORM.line_strp:
    case DW_FORM.strp: {
      const offset = offset64 ? Number(reader.u64()) : reader.u32();
      const table = form === DW_FORM.line_strp ? strings.lineStr : strings.debugStr;
      return table === undefined ? "" : cString(table, offset);
    }
    case DW_FORM.udata:
      return reader.uleb();
    case DW_FORM.data1:
      return BigInt(reader.u8());
    case DW_FORM.data2:
      return BigInt(reader.u16());
    case DW_FORM.data4:
      return BigInt(reader.u32());
    case DW_FORM.data8:
      return reader.u64();
    case DW_FORM.data16:
      reader.offset += 16;
      return 0n;
    case DW_FORM.block:
      reader.offset += Number(reader.uleb());
      return 0n;
    default:
      throw new Error(`unsupported DWARF form 0x${form.toString(16)} in a line table header`);
  }
}

function joinPath(directory: string, name: string): string {
  if (name.startsWith("/") || directory === "") return name;
  return `${directory.replace(/\/$/, "")}/${name}`;
}

/** Reads the v5 directory or file entry list. */
function readEntries(reader: Reader, offset64: boolean, strings: Strings): { path: string; directory: number }[] {
  const formatCount = reader.u8();
  const formats: [number, number][] = [];
  for (let i = 0; i < formatCount; i++) formats.push([Number(reader.uleb()), Number(reader.uleb())]);
  const count = Number(reader.uleb());
  const entries = [];
  for (let i = 0; i < count; i++) {
    let path = "";
    let directory = 0;
    for (const [content, form] of formats) {
      const value = readForm(reader, form, offset64, strings);
      if (content === DW_LNCT_path) path = String(value);
      if (content === DW_LNCT_directory_index) directory = Number(value);
    }
    entries.push({ path, directory });
  }
  return entries;
}

/** Decodes every line program of a `.debug_line` section. */
export function parseLineTables(debugLine: Uint8Array, strings: Strings = {}): Sequence[] {
  const sequences: Sequence[] = [];
  const reader = new Reader(debugLine);
  while (reader.offset < debugLine.length) {
    let unitLength = reader.u32();
    let offset64 = false;
    if (unitLength === 0xffffffff) {
      unitLength = Number(reader.u64());
      offset64 = true;
    }
    const unitEnd = reader.offset + unitLength;
    const version = reader.u16();
    if (version < 2 || version > 5) {
      reader.offset = unitEnd;
      continue;
    }
    let addressSize = 8;
    if (version >= 5) {
      addressSize = reader.u8();
      reader.u8(); // segment selector size
    }
    const headerLength = offset64 ? Number(reader.u64()) : reader.u32();
    const programStart = reader.offset + headerLength;
    const minimumInstructionLength = reader.u8();
    if (version >= 4) reader.u8(); // maximum operations per instruction
    const defaultIsStmt = reader.u8() !== 0;
    const lineBase = reader.i8();
    const lineRange = reader.u8();
    const opcodeBase = reader.u8();
    const opcodeLengths = [0];
    for (let i = 1; i < opcodeBase; i++) opcodeLengths.push(reader.u8());
    let files: string[];
    if (version >= 5) {
      const directories = readEntries(reader, offset64, strings).map((entry) => entry.path);
      files = readEntries(reader, offset64, strings).map((entry) =>
        joinPath(directories[entry.directory] ?? "", entry.path)
      );
    } else {
      const directories = [""];
      for (let name = reader.string(); name !== ""; name = reader.string()) directories.push(name);
      files = [""]; // file numbers start at 1 before DWARF 5
      for (let name = reader.string(); name !== ""; name = reader.string()) {
        const directory = Number(reader.uleb());
        reader.uleb();
        reader.uleb();
        files.push(joinPath(directories[directory] ?? "", name));
      }
    }
    reader.offset = programStart;
    runProgram(reader, unitEnd, {
      addressSize,
      minimumInstructionLength,
      defaultIsStmt,
      lineBase,
      lineRange,
      opcodeBase,
      opcodeLengths,
      files,
    }, sequences);
    reader.offset = unitEnd;
  }
  sequences.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  return sequences;
}

interface ProgramHeader {
  addressSize: number;
  minimumInstructionLength: number;
  defaultIsStmt: boolean;
  lineBase: number;
  lineRange: number;
  opcodeBase: number;
  opcodeLengths: number[];
  files: string[];
}

function runProgram(reader: Reader, end: number, header: ProgramHeader, sequences: Sequence[]): void {
  let address = 0n;
  let file = 1;
  let line = 1;
  let column = 0;
  let rows: Row[] = [];
  const step = BigInt(header.minimumInstructionLength);
  const emit = () => rows.push({ address, file: header.files[file] ?? "", line, column });
  const reset = () => {
    address = 0n;
    file = 1;
    line = 1;
    column = 0;
  };
  while (reader.offset < end) {
    const opcode = reader.u8();
    if (opcode >= header.opcodeBase) {
      const adjusted = opcode - header.opcodeBase;
      address += BigInt(Math.floor(adjusted / header.lineRange)) * step;
      line += header.lineBase + (adjusted % header.lineRange);
      emit();
      continue;
    }
    switch (opcode) {
      case 0: {
        const length = Number(reader.uleb());
        const next = reader.offset + length;
        const sub = reader.u8();
        if (sub === 1) {
          emit();
          if (rows.length > 1) sequences.push({ start: rows[0].address, end: address, rows });
          rows = [];
          reset();
        } else if (sub === 2) {
          address = header.addressSize === 8 ? reader.u64() : BigInt(reader.u32());
        }
        reader.offset = next;
        break;
      }
      case 1:
        emit();
        break;
      case 2:
        address += reader.uleb() * step;
        break;
      case 3:
        line += Number(reader.sleb());
        break;
      case 4:
        file = Number(reader.uleb());
        break;
      case 5:
        column = Number(reader.uleb());
        break;
      case 8:
        address += BigInt(Math.floor((255 - header.opcodeBase) / header.lineRange)) * step;
        break;
      case 9:
        address += BigInt(reader.u16());
        break;
      case 6:
      case 7:
      case 10:
      case 11:
        break;
      default:
        for (let i = 0; i < (header.opcodeLengths[opcode] ?? 0); i++) reader.uleb();
    }
  }
  void header.defaultIsStmt;
}

/** The source location of a linked address, if a line table covers it. */
export function lookupLine(sequences: Sequence[], address: bigint): SourceLocation | undefined {
  const index = lastAtOrBelow(sequences, (sequence) => sequence.start, address);
  if (index < 0 || address >= sequences[index].end) return undefined;
  const rows = sequences[index].rows;
  const row = rows[Math.max(0, lastAtOrBelow(rows, (candidate) => candidate.address, address))];
  return { file: row.file, line: row.line, column: row.column || undefined };
}

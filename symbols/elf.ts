/**
 * A minimal reader of 64-bit little-endian ELF files: program headers (to
 * turn file offsets into virtual addresses), section headers, and symbol
 * tables. Reads only the parts it needs, from an open file.
 *
 * @module
 */

import { lastAtOrBelow } from "./search.ts";

/** A section header. */
export interface Section {
  name: string;
  type: number;
  flags: bigint;
  address: bigint;
  offset: number;
  size: number;
  link: number;
  entrySize: number;
}

/** A function symbol. */
export interface ElfSymbol {
  name: string;
  address: bigint;
  size: bigint;
}

interface LoadSegment {
  offset: bigint;
  address: bigint;
  fileSize: bigint;
}

const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const SHF_COMPRESSED = 0x800n;
const PT_LOAD = 1;
const STT_FUNC = 2;

/** Thrown when a file is not a 64-bit little-endian ELF file. */
export class ElfFormatError extends Error {}

/** An ELF file opened for reading. */
export class ElfFile {
  readonly path: string;
  readonly sections: Section[];
  readonly type: number;
  #file: Deno.FsFile;
  #segments: LoadSegment[];
  #symbols?: ElfSymbol[];

  constructor(path: string) {
    this.path = path;
    this.#file = Deno.openSync(path, { read: true });
    try {
      const header = this.read(0, 64);
      const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
      if (view.getUint32(0) !== 0x7f454c46) throw new ElfFormatError(`${path}: not an ELF file`);
      if (header[4] !== 2 || header[5] !== 1) throw new ElfFormatError(`${path}: not 64-bit little-endian ELF`);
      this.type = view.getUint16(16, true);
      const programOffset = Number(view.getBigUint64(32, true));
      const sectionOffset = Number(view.getBigUint64(40, true));
      const programEntrySize = view.getUint16(54, true);
      const programCount = view.getUint16(56, true);
      const sectionEntrySize = view.getUint16(58, true);
      const sectionCount = view.getUint16(60, true);
      const namesIndex = view.getUint16(62, true);
      this.#segments = this.#readSegments(programOffset, programEntrySize, programCount);
      this.sections = this.#readSections(sectionOffset, sectionEntrySize, sectionCount, namesIndex);
    } catch (error) {
      this.#file.close();
      throw error;
    }
  }

  close(): void {
    this.#file.close();
  }

  /** `length` bytes at `offset`. */
  read(offset: number, length: number): Uint8Array {
    const bytes = new Uint8Array(length);
    this.#file.seekSync(offset, Deno.SeekMode.Start);
    let filled = 0;
    while (filled < length) {
      const got = this.#file.readSync(bytes.subarray(filled));
      if (got === null || got === 0) throw new ElfFormatError(`${this.path}: truncated at ${offset + filled}`);
      filled += got;
    }
    return bytes;
  }

  #readSegments(offset: number, entrySize: number, count: number): LoadSegment[] {
    if (count === 0) return [];
    const bytes = this.read(offset, entrySize * count);
    const view = new DataView(bytes.buffer);
    const segments: LoadSegment[] = [];
    for (let i = 0; i < count; i++) {
      const base = i * entrySize;
      if (view.getUint32(base, true) !== PT_LOAD) continue;
      segments.push({
        offset: view.getBigUint64(base + 8, true),
        address: view.getBigUint64(base + 16, true),
        fileSize: view.getBigUint64(base + 32, true),
      });
    }
    return segments;
  }

  #readSections(offset: number, entrySize: number, count: number, namesIndex: number): Section[] {
    if (count === 0 || offset === 0) return [];
    const bytes = this.read(offset, entrySize * count);
    const view = new DataView(bytes.buffer);
    const raw = Array.from({ length: count }, (_, i) => {
      const base = i * entrySize;
      return {
        nameOffset: view.getUint32(base, true),
        type: view.getUint32(base + 4, true),
        flags: view.getBigUint64(base + 8, true),
        address: view.getBigUint64(base + 16, true),
        offset: Number(view.getBigUint64(base + 24, true)),
        size: Number(view.getBigUint64(base + 32, true)),
        link: view.getUint32(base + 40, true),
        entrySize: Number(view.getBigUint64(base + 56, true)),
      };
    });
    const names = namesIndex < count ? this.read(raw[namesIndex].offset, raw[namesIndex].size) : new Uint8Array();
    return raw.map((section) => ({ ...section, name: cString(names, section.nameOffset) }));
  }

  section(name: string): Section | undefined {
    return this.sections.find((section) => section.name === name);
  }

  /** A section's bytes; undefined when absent or compressed. */
  sectionData(name: string): Uint8Array | undefined {
    const section = this.section(name);
    if (section === undefined || (section.flags & SHF_COMPRESSED) !== 0n || section.type === 8 /* NOBITS */) {
      return undefined;
    }
    return this.read(section.offset, section.size);
  }

  /** The virtual address (as linked) of a file offset, via PT_LOAD. */
  addressOfOffset(offset: bigint): bigint | undefined {
    for (const segment of this.#segments) {
      if (offset >= segment.offset && offset < segment.offset + segment.fileSize) {
        return offset - segment.offset + segment.address;
      }
    }
    return undefined;
  }

  /** Function symbols from `.symtab`, else `.dynsym`, sorted by address. */
  functionSymbols(): ElfSymbol[] {
    if (this.#symbols !== undefined) return this.#symbols;
    const table = this.sections.find((s) => s.type === SHT_SYMTAB) ?? this.sections.find((s) => s.type === SHT_DYNSYM);
    const symbols: ElfSymbol[] = [];
    if (table !== undefined && table.entrySize > 0 && table.link < this.sections.length) {
      const strings = this.read(this.sections[table.link].offset, this.sections[table.link].size);
      const bytes = this.read(table.offset, table.size);
      const view = new DataView(bytes.buffer);
      for (let base = 0; base + 24 <= bytes.length; base += table.entrySize) {
        const info = view.getUint8(base + 4);
        const sectionIndex = view.getUint16(base + 6, true);
        const address = view.getBigUint64(base + 8, true);
        if ((info & 0xf) !== STT_FUNC || sectionIndex === 0 || address === 0n) continue;
        symbols.push({
          name: cString(strings, view.getUint32(base, true)),
          address,
          size: view.getBigUint64(base + 16, true),
        });
      }
    }
    symbols.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
    this.#symbols = symbols;
    return symbols;
  }

  /** The function symbol that holds `address`. */
  symbolAt(address: bigint): ElfSymbol | undefined {
    const symbols = this.functionSymbols();
    const best = lastAtOrBelow(symbols, (symbol) => symbol.address, address);
    if (best < 0) return undefined;
    const symbol = symbols[best];
    // A sized symbol must contain the address; an unsized one is taken
    // only close by (it may be a label before a gap).
    const limit = symbol.size > 0n ? symbol.size : 4096n;
    return address < symbol.address + limit ? symbol : undefined;
  }
}

/** The NUL-terminated string at `offset`. */
export function cString(bytes: Uint8Array, offset: number): string {
  let end = offset;
  while (end < bytes.length && bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(offset, end));
}

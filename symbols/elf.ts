/**
 * A minimal reader of 64-bit little-endian ELF files: program headers (to
 * turn file offsets into virtual addresses), section headers, and symbol
 * tables. Reads only the parts it needs, from an open file.
 *
 * @module
 */

import { inflateSync } from "node:zlib";
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
const SHT_NOTE = 7;
const SHT_NOBITS = 8;
const SHT_DYNSYM = 11;
const SHF_COMPRESSED = 0x800n;
/** `Elf64_Chdr.ch_type` of a zlib-compressed section (Debian's debug files use it). */
const ELFCOMPRESS_ZLIB = 1;
/** A decompressed section larger than this is refused: input is untrusted. */
const SECTION_BYTES_MAX = 1 << 30;
const NT_GNU_BUILD_ID = 3;
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

  /**
   * A section's bytes, zlib-compressed sections inflated; undefined when
   * absent, without contents (a stripped file's NOBITS), or compressed in
   * another format (zstd).
   */
  sectionData(name: string): Uint8Array | undefined {
    const section = this.section(name);
    if (section === undefined || section.type === SHT_NOBITS) return undefined;
    const bytes = this.read(section.offset, section.size);
    if ((section.flags & SHF_COMPRESSED) === 0n) return bytes;
    if (bytes.length < 24) throw new ElfFormatError(`${this.path}: ${name} has a truncated compression header`);
    const header = new DataView(bytes.buffer, bytes.byteOffset, 24);
    const size = Number(header.getBigUint64(8, true));
    if (header.getUint32(0, true) !== ELFCOMPRESS_ZLIB || size > SECTION_BYTES_MAX) return undefined;
    const inflated = inflateSync(bytes.subarray(24), { maxOutputLength: size }) as Uint8Array;
    if (inflated.length !== size) throw new ElfFormatError(`${this.path}: ${name} inflates to the wrong size`);
    return new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.byteLength);
  }

  /** The GNU build ID (lower-case hex), from the `NT_GNU_BUILD_ID` note; undefined when there is none. */
  buildId(): string | undefined {
    for (const section of this.sections) {
      if (section.type !== SHT_NOTE || section.size > 1 << 16) continue;
      const bytes = this.read(section.offset, section.size);
      const view = new DataView(bytes.buffer);
      for (let at = 0; at + 12 <= bytes.length;) {
        const nameBytes = view.getUint32(at, true);
        const descBytes = view.getUint32(at + 4, true);
        const type = view.getUint32(at + 8, true);
        const desc = at + 12 + align4(nameBytes);
        if (desc + descBytes > bytes.length) break;
        if (type === NT_GNU_BUILD_ID && cString(bytes.subarray(at + 12, at + 12 + nameBytes), 0) === "GNU") {
          return [...bytes.subarray(desc, desc + descBytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
        }
        at = desc + align4(descBytes);
      }
    }
    return undefined;
  }

  /**
   * The GNU build ID of the ELF file at `path`.
   *
   * @param path A file (a module of a profiled process).
   * @returns Lower-case hex, or undefined when the file cannot be read, is
   *   not 64-bit little-endian ELF, or has no build-id note.
   */
  static buildIdOf(path: string): string | undefined {
    let elf: ElfFile;
    try {
      // The path comes from a profile's memory map: never open a FIFO or device (an open could block).
      if (!Deno.statSync(path).isFile) return undefined;
      elf = new ElfFile(path);
    } catch {
      return undefined;
    }
    try {
      return elf.buildId();
    } catch {
      return undefined;
    } finally {
      elf.close();
    }
  }

  /** `.gnu_debuglink`: the debug file's name and the CRC-32 of its contents. */
  debugLink(): { name: string; crc: number } | undefined {
    const bytes = this.sectionData(".gnu_debuglink");
    if (bytes === undefined || bytes.length < 8) return undefined;
    const name = cString(bytes, 0);
    const crcAt = align4(new TextEncoder().encode(name).length + 1);
    if (name === "" || name.includes("/") || crcAt + 4 > bytes.length) return undefined;
    return { name, crc: new DataView(bytes.buffer, bytes.byteOffset).getUint32(crcAt, true) };
  }

  /** True when the file has a full symbol table (`.symtab`), as unstripped files and debug files do. */
  get hasSymtab(): boolean {
    return this.sections.some((s) => s.type === SHT_SYMTAB);
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

function align4(value: number): number {
  return (value + 3) & ~3;
}

/** The NUL-terminated string at `offset`. */
export function cString(bytes: Uint8Array, offset: number): string {
  let end = offset;
  while (end < bytes.length && bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(offset, end));
}

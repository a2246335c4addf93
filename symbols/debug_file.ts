/**
 * Separate debug files, as Debian's `*-dbg` and `*-dbgsym` packages install
 * them: found by GNU build ID (`<dir>/.build-id/ab/cdef….debug`) or by the
 * `.gnu_debuglink` name next to the file, in its `.debug/` folder, or under
 * a debug directory (GDB's search order). A candidate is used only when it
 * matches: the same build ID, or the CRC-32 the link records.
 *
 * @module
 */

import { ElfFile } from "./elf.ts";

/** Where Debian installs debug files. */
export const DEFAULT_DEBUG_DIRECTORIES: readonly string[] = ["/usr/lib/debug"];

/** A debug file larger than this is not CRC-checked (nor used via the link): reading it whole costs too much. */
const DEBUGLINK_BYTES_MAX = 1 << 30;

/**
 * Opens the separate debug file of `elf`, or returns undefined when there
 * is none that matches. The caller closes the file it gets.
 *
 * @param elf The stripped file (a shared library, an executable).
 * @param directories Debug directories to search (default `/usr/lib/debug`).
 */
export function openDebugFile(
  elf: ElfFile,
  directories: readonly string[] = DEFAULT_DEBUG_DIRECTORIES,
): ElfFile | undefined {
  const buildId = elf.buildId();
  if (buildId !== undefined && buildId.length > 2) {
    for (const directory of directories) {
      const candidate = openIf(`${directory}/.build-id/${buildId.slice(0, 2)}/${buildId.slice(2)}.debug`);
      if (candidate === undefined) continue;
      if (candidate.buildId() === buildId) return candidate;
      candidate.close();
    }
  }
  const link = elf.debugLink();
  if (link === undefined) return undefined;
  const folder = elf.path.slice(0, elf.path.lastIndexOf("/") + 1);
  const places = [`${folder}${link.name}`, `${folder}.debug/${link.name}`];
  for (const directory of directories) places.push(`${directory}${folder}${link.name}`);
  for (const place of places) {
    if (place === elf.path) continue;
    if (crc32OfFile(place) !== link.crc) continue;
    const candidate = openIf(place);
    if (candidate !== undefined) return candidate;
  }
  return undefined;
}

function openIf(path: string): ElfFile | undefined {
  try {
    return new ElfFile(path);
  } catch {
    return undefined; // absent, unreadable or not ELF: not a debug file
  }
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE, as `.gnu_debuglink` uses) of a byte run, continuing from `crc`. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let value = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) value = crcTable[(value ^ bytes[i]) & 0xff] ^ (value >>> 8);
  return ~value >>> 0;
}

function crc32OfFile(path: string): number | undefined {
  let file: Deno.FsFile | undefined;
  try {
    const info = Deno.statSync(path);
    if (!info.isFile || info.size > DEBUGLINK_BYTES_MAX) return undefined;
    file = Deno.openSync(path, { read: true });
    const chunk = new Uint8Array(1 << 20);
    let crc = 0;
    for (let got = file.readSync(chunk); got !== null && got > 0; got = file.readSync(chunk)) {
      crc = crc32(chunk.subarray(0, got), crc);
    }
    return crc;
  } catch {
    return undefined;
  } finally {
    file?.close();
  }
}

/**
 * Reading `/proc/<pid>/maps`: which file backs an address, and at what
 * file offset.
 *
 * @module
 */

/** One mapping of the address space. */
export interface Mapping {
  start: bigint;
  end: bigint;
  perms: string;
  offset: bigint;
  path: string;
}

/** Parses the text of a maps file. */
export function parseMaps(text: string): Mapping[] {
  const mappings: Mapping[] = [];
  for (const line of text.split("\n")) {
    const match = /^([0-9a-f]+)-([0-9a-f]+)\s+(\S+)\s+([0-9a-f]+)\s+\S+\s+\d+\s*(.*)$/.exec(line);
    if (match === null) continue;
    mappings.push({
      start: BigInt(`0x${match[1]}`),
      end: BigInt(`0x${match[2]}`),
      perms: match[3],
      offset: BigInt(`0x${match[4]}`),
      path: match[5].trim(),
    });
  }
  return mappings;
}

/** Reads the maps of a process (default: this one). */
export function readMaps(pid: number | "self" = "self"): Mapping[] {
  return parseMaps(Deno.readTextFileSync(`/proc/${pid}/maps`));
}

/** The mapping that holds `address`, by binary search (maps are sorted). */
export function findMapping(mappings: Mapping[], address: bigint): Mapping | undefined {
  let low = 0;
  let high = mappings.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const mapping = mappings[middle];
    if (address < mapping.start) high = middle - 1;
    else if (address >= mapping.end) low = middle + 1;
    else return mapping;
  }
  return undefined;
}

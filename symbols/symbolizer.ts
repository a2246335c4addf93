/**
 * Turning return addresses into frames: native code through the ELF
 * symbol tables and DWARF line tables of the mapped files, JIT code
 * through V8's perf map. Runs when a report is asked for, never during
 * allocation. Files are opened once per symbolizer.
 *
 * @module
 */

import { DEFAULT_DEBUG_DIRECTORIES, openDebugFile } from "./debug_file.ts";
import { demangle } from "./demangle.ts";
import { lookupLine, parseLineTables, type SourceLocation } from "./dwarf_line.ts";
import { ElfFile } from "./elf.ts";
import { findMapping, type Mapping, readMaps } from "./proc_maps.ts";

export type { Mapping };
import { type JitDump, jitLineAt } from "./jitdump.ts";
import { parseJitName, PerfMap } from "./perf_map.ts";
import { originalPosition } from "./source_map.ts";

/** One frame of a call site. */
export interface Frame {
  /** The raw return address (the first frame: the caller of the allocator). */
  address: number;
  /** `"js"` for JavaScript functions (from V8's perf map), else `"native"`. */
  kind: "native" | "js";
  /** Function name, demangled where possible. */
  symbol?: string;
  /** The file mapped at the address (a shared library, the executable). */
  module?: string;
  /** Offset of the address in `module`'s file. */
  offset?: number;
  /** Source file (DWARF for native code, the script URL for JS). */
  file?: string;
  /** Line in `file`, 1-based. */
  line?: number;
  /** Column in the line, 1-based, when known. For JS: where the function is defined. */
  column?: number;
  /**
   * For compiled JS (V8's jitdump, `--perf-prof`): the line of the
   * instruction in this frame — the call that led to the allocation. Not
   * known for interpreted code, whose frames keep only `line`.
   */
  callLine?: number;
  /** The column of `callLine`. */
  callColumn?: number;
}

/** The `module` of frames in V8's generated code (JS functions, builtins, stubs). */
export const JIT_MODULE = "[V8 JIT]";

interface ModuleInfo {
  elf?: ElfFile;
  /** The separate debug file (build ID or `.gnu_debuglink`), when the module is stripped. */
  debug?: ElfFile;
  /** Whichever of the two has the full symbol table. */
  symbols?: ElfFile;
  lines?: ReturnType<typeof parseLineTables>;
}

/** Where a symbolizer finds the process's memory layout. */
export interface SymbolizerSource {
  /** The process's mappings (default: read from /proc now). */
  maps?: Mapping[];
  /** Its V8 perf map (default: `/tmp/perf-<pid>.map`). */
  perfMap?: PerfMap;
  /** Where separate debug files are looked for (default `/usr/lib/debug`). */
  debugDirectories?: readonly string[];
  /** V8's jitdump of the process: JIT names (instead of the perf map) and the lines of compiled code. */
  jitDump?: JitDump;
}

/** Symbolizes addresses of one process (default: this one). */
export class Symbolizer {
  readonly #maps: Mapping[];
  readonly #perfMap: PerfMap;
  readonly #modules = new Map<string, ModuleInfo>();
  readonly #debugDirectories: readonly string[];
  readonly #jitDump?: JitDump;

  constructor(pid: number = Deno.pid, source: SymbolizerSource = {}) {
    this.#maps = source.maps ?? readMaps(pid === Deno.pid ? "self" : pid);
    this.#jitDump = source.jitDump;
    this.#perfMap = source.perfMap ??
      (source.jitDump !== undefined ? new PerfMap(source.jitDump.entries) : PerfMap.forProcess(pid));
    this.#debugDirectories = source.debugDirectories ?? DEFAULT_DEBUG_DIRECTORIES;
  }

  /** True when V8 wrote a perf map for the process. */
  get hasPerfMap(): boolean {
    return this.#perfMap.size > 0;
  }

  close(): void {
    for (const info of this.#modules.values()) {
      info.elf?.close();
      info.debug?.close();
    }
    this.#modules.clear();
  }

  #module(path: string): ModuleInfo {
    let info = this.#modules.get(path);
    if (info !== undefined) return info;
    info = {};
    try {
      info.elf = new ElfFile(path);
      if (!info.elf.hasSymtab || info.elf.section(".debug_line") === undefined) {
        info.debug = openDebugFile(info.elf, this.#debugDirectories);
      }
      info.symbols = info.elf.hasSymtab || info.debug === undefined ? info.elf : info.debug;
      const ownLines = info.elf.sectionData(".debug_line");
      const withLines = ownLines !== undefined ? info.elf : info.debug;
      const debugLine = ownLines ?? info.debug?.sectionData(".debug_line");
      if (withLines !== undefined && debugLine !== undefined) {
        info.lines = parseLineTables(debugLine, {
          lineStr: withLines.sectionData(".debug_line_str"),
          debugStr: withLines.sectionData(".debug_str"),
        });
      }
    } catch {
      // Unreadable or not ELF (deleted file, no permission): module and
      // offset still identify the frame.
    }
    this.#modules.set(path, info);
    return info;
  }

  /**
   * Symbolizes a return address. The call instruction is the byte before
   * the return address, so lookups use `address - 1`.
   */
  frame(address: bigint): Frame {
    const lookup = address - 1n;
    const frame: Frame = { address: Number(address), kind: "native" };
    const mapping = findMapping(this.#maps, lookup);
    if (mapping !== undefined && mapping.path.startsWith("/")) {
      const fileOffset = lookup - mapping.start + mapping.offset;
      frame.module = mapping.path;
      frame.offset = Number(fileOffset + 1n);
      const info = this.#module(mapping.path);
      const linked = info.elf?.addressOfOffset(fileOffset);
      if (linked !== undefined) {
        const symbol = info.symbols?.symbolAt(linked);
        if (symbol !== undefined) frame.symbol = demangle(symbol.name);
        const location: SourceLocation | undefined = info.lines && lookupLine(info.lines, linked);
        if (location !== undefined) Object.assign(frame, location);
      }
      return frame;
    }
    const jit = this.#perfMap.lookup(lookup);
    if (jit !== undefined) {
      const parsed = parseJitName(jit.name);
      frame.kind = parsed.kind;
      frame.symbol = parsed.symbol;
      frame.module = JIT_MODULE;
      if (parsed.file !== undefined) frame.file = parsed.file;
      if (parsed.line !== undefined) frame.line = parsed.line;
      if (parsed.column !== undefined) frame.column = parsed.column;
      // V8 gives positions in the JavaScript it ran; for TypeScript that
      // is Deno's transpiled output: map them back to the source.
      if (parsed.file !== undefined && parsed.line !== undefined) {
        const original = originalPosition(parsed.file, parsed.line, parsed.column ?? 1);
        if (original !== undefined) Object.assign(frame, original);
      }
      const call = this.#jitDump === undefined ? undefined : jitLineAt(this.#jitDump, jit.start, lookup);
      if (call !== undefined && parsed.file !== undefined) {
        const original = originalPosition(parsed.file, call.line, call.column);
        frame.callLine = original?.line ?? call.line;
        frame.callColumn = original?.column ?? call.column;
      }
      return frame;
    }
    if (mapping !== undefined && mapping.path !== "") frame.module = mapping.path;
    return frame;
  }
}

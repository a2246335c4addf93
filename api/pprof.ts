/**
 * pprof: the profile as Go's heap profiles write it, for `go tool pprof`,
 * Pyroscope, Parca and speedscope. Encoded with `npm:pprof-format`
 * (Datadog's dependency-free encoder) and gzipped, as pprof files are.
 *
 * Sample types follow Go's heap profile: `alloc_objects`/`alloc_space`
 * (every block allocated at the site) and `inuse_objects`/`inuse_space`
 * (blocks still live at the end of the run), `inuse_space` the default.
 * Every distinct frame address is a location; JS frames get their script
 * as the file and their line; native frames their DWARF file and line when
 * known, else the module; each module is a mapping, with the build id
 * read from its ELF file (so a symbol server can find its debug file).
 *
 * @module
 */

import { gzipSync } from "node:zlib";
// Inline and pinned rather than through an import map: the module must
// also work when served as plain files (an import map is not applied to a
// module imported by URL).
// deno-lint-ignore no-import-prefix
import * as pprof from "npm:pprof-format@2.3.2";
import { ElfFile } from "../symbols/elf.ts";
import type { Frame } from "../symbols/symbolizer.ts";
import { unnamedFrameText } from "./attribution.ts";
import type { DhatSite } from "./dhat.ts";

/** What the pprof encoder needs besides the sites. */
export interface PprofOptions {
  /** When the profile ends, ms since the epoch (default: now). */
  timeMs?: number;
  /**
   * Build id (hex) of a module path, when known (default: read from the
   * module's ELF `NT_GNU_BUILD_ID` note, if the file is still there; give
   * `() => undefined` to leave them out).
   */
  buildIdOf?: (module: string) => string | undefined;
  /** A comment stored in the profile (e.g. the command profiled). */
  comment?: string;
  /**
   * Sampling mode's mean interval: stored as the profile's period, with a
   * comment saying the values are unbiased estimates from samples.
   */
  sampleIntervalBytes?: number;
}

class Tables {
  readonly strings = new pprof.StringTable();
  readonly functions = new Map<string, pprof.Function>();
  readonly locations = new Map<string, pprof.Location>();
  readonly mappings = new Map<string, pprof.Mapping>();

  constructor(readonly buildIdOf: (module: string) => string | undefined) {}

  mapping(frame: Frame): number {
    if (frame.module === undefined) return 0;
    let mapping = this.mappings.get(frame.module);
    if (mapping === undefined) {
      // The load address is what the frame's address and file offset imply;
      // the limit grows to cover every frame seen in the module.
      const start = frame.offset === undefined ? frame.address : frame.address - frame.offset;
      mapping = new pprof.Mapping({
        id: this.mappings.size + 1,
        memoryStart: start,
        memoryLimit: frame.address + 1,
        fileOffset: 0,
        filename: this.strings.dedup(frame.module),
        buildId: this.strings.dedup(this.buildIdOf(frame.module) ?? ""),
        hasFunctions: true,
        hasFilenames: true,
        hasLineNumbers: true,
      });
      this.mappings.set(frame.module, mapping);
    }
    if (frame.address + 1 > Number(mapping.memoryLimit)) mapping.memoryLimit = frame.address + 1;
    return Number(mapping.id);
  }

  function(frame: Frame): number {
    const name = frame.symbol ?? unnamedFrameText(frame);
    const file = frame.file ?? frame.module ?? "";
    const key = `${frame.kind}\0${name}\0${file}`;
    let fn = this.functions.get(key);
    if (fn === undefined) {
      fn = new pprof.Function({
        id: this.functions.size + 1,
        name: this.strings.dedup(frame.kind === "js" ? `JS ${name}` : name),
        systemName: this.strings.dedup(name),
        filename: this.strings.dedup(file),
        // V8 names a JS function by where it is defined.
        startLine: frame.kind === "js" ? frame.line ?? 0 : 0,
      });
      this.functions.set(key, fn);
    }
    return Number(fn.id);
  }

  location(frame: Frame): number {
    const key = `${frame.kind}:${frame.address}`;
    let location = this.locations.get(key);
    if (location === undefined) {
      location = new pprof.Location({
        id: this.locations.size + 1,
        mappingId: this.mapping(frame),
        address: frame.address,
        line: [new pprof.Line({ functionId: this.function(frame), line: frame.line ?? 0, column: frame.column ?? 0 })],
      });
      this.locations.set(key, location);
    }
    return Number(location.id);
  }
}

/**
 * Encodes sites as a gzipped pprof heap profile.
 *
 * @param sites The named sites of a profile (from a DHAT file).
 * @param options Time, build ids and a comment.
 * @returns The bytes of a `.pb.gz` file.
 */
export function encodePprof(sites: readonly DhatSite[], options: PprofOptions = {}): Uint8Array {
  const tables = new Tables(options.buildIdOf ?? ElfFile.buildIdOf);
  const valueType = (type: string, unit: string) =>
    new pprof.ValueType({ type: tables.strings.dedup(type), unit: tables.strings.dedup(unit) });
  const sampleType = [
    valueType("alloc_objects", "count"),
    valueType("alloc_space", "bytes"),
    valueType("inuse_objects", "count"),
    valueType("inuse_space", "bytes"),
  ];
  const samples = sites.filter((site) => site.pp.tbk > 0 || site.pp.ebk > 0).map((site) =>
    new pprof.Sample({
      locationId: site.frames.map((frame) => tables.location(frame)),
      value: [site.pp.tbk, site.pp.tb, site.pp.ebk, site.pp.eb],
    })
  );
  const comments = [
    ...(options.comment === undefined ? [] : [options.comment]),
    ...(options.sampleIntervalBytes === undefined ? [] : [
      `mod-alloc sampling mode: one allocation sampled per ${options.sampleIntervalBytes} bytes on average ` +
      `(Poisson); every value is an unbiased estimate, already scaled`,
    ]),
  ];
  const comment = comments.map((text) => tables.strings.dedup(text));
  const profile = new pprof.Profile({
    sampleType,
    sample: samples,
    mapping: [...tables.mappings.values()],
    location: [...tables.locations.values()],
    function: [...tables.functions.values()],
    stringTable: tables.strings,
    timeNanos: BigInt(Math.round(options.timeMs ?? Date.now())) * 1_000_000n,
    periodType: valueType("space", "bytes"),
    period: options.sampleIntervalBytes ?? 1,
    comment,
    defaultSampleType: tables.strings.dedup("inuse_space"),
  });
  return gzipSync(profile.encode());
}

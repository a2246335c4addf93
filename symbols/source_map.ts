/**
 * Source maps (version 3): generated line/column -> original. V8 reports
 * positions in the JavaScript it ran; for a TypeScript module that is
 * Deno's transpiled output, which keeps an inline source map back to the
 * `.ts` file in Deno's cache (`$DENO_DIR/gen/file/<path>.js`).
 *
 * @module
 */

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const DIGIT = new Map([...BASE64].map((c, i) => [c, i]));

/** A segment: generated column -> original line and column (0-based). */
interface Segment {
  column: number;
  line: number;
  originalColumn: number;
}

/** Decodes a Base64 VLQ run into numbers. */
export function decodeVlq(text: string): number[] {
  const values: number[] = [];
  let value = 0;
  let shift = 0;
  for (const char of text) {
    const digit = DIGIT.get(char);
    if (digit === undefined) throw new Error(`bad VLQ digit ${JSON.stringify(char)}`);
    value += (digit & 31) * 2 ** shift;
    if (digit & 32) {
      shift += 5;
      continue;
    }
    values.push(value & 1 ? -Math.floor(value / 2) : Math.floor(value / 2));
    value = 0;
    shift = 0;
  }
  return values;
}

/** A parsed source map, for lookups by generated position. */
export class SourceMap {
  readonly #lines: Segment[][] = [];

  constructor(mappings: string) {
    let line = 0;
    let column = 0;
    let originalLine = 0;
    let originalColumn = 0;
    for (const generatedLine of mappings.split(";")) {
      const segments: Segment[] = [];
      column = 0;
      for (const piece of generatedLine.split(",")) {
        if (piece === "") continue;
        const values = decodeVlq(piece);
        column += values[0];
        if (values.length >= 4) {
          originalLine += values[2];
          originalColumn += values[3];
          segments.push({ column, line: originalLine, originalColumn });
        }
      }
      this.#lines[line++] = segments;
    }
  }

  /** The original position (1-based) of a generated one (1-based). */
  original(line: number, column: number): { line: number; column: number } | undefined {
    const segments = this.#lines[line - 1];
    if (segments === undefined || segments.length === 0) return undefined;
    let best = segments[0];
    for (const segment of segments) {
      if (segment.column <= column - 1) best = segment;
      else break;
    }
    return { line: best.line + 1, column: best.originalColumn + 1 };
  }
}

/** The inline source map at the end of a generated file, if any. */
export function inlineSourceMap(generated: string): SourceMap | undefined {
  const match = /\/\/# sourceMappingURL=data:application\/json;(?:charset=utf-8;)?base64,([A-Za-z0-9+/=]+)\s*(?:\n|$)/
    .exec(
      generated,
    );
  if (match === null) return undefined;
  const json = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(match[1]), (c) => c.charCodeAt(0))));
  return typeof json.mappings === "string" ? new SourceMap(json.mappings) : undefined;
}

function denoDir(): string | undefined {
  try {
    const explicit = Deno.env.get("DENO_DIR");
    if (explicit) return explicit;
    const cache = Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME") ?? ""}/.cache`;
    return `${cache}/deno`;
  } catch {
    return undefined; // no env permission
  }
}

const maps = new Map<string, SourceMap | undefined>();

/**
 * Maps a position in Deno's transpiled output of a local TypeScript/JSX
 * module back to its source. Undefined when there is no emitted file or
 * map (a plain `.js` module needs none).
 */
export function originalPosition(
  url: string,
  line: number,
  column: number,
): { line: number; column: number } | undefined {
  if (!url.startsWith("file:///") || !/\.(ts|tsx|mts|cts|jsx)$/.test(url)) return undefined;
  if (!maps.has(url)) {
    const dir = denoDir();
    let map: SourceMap | undefined;
    try {
      if (dir !== undefined) {
        map = inlineSourceMap(Deno.readTextFileSync(`${dir}/gen/file${decodeURIComponent(new URL(url).pathname)}.js`));
      }
    } catch {
      map = undefined;
    }
    maps.set(url, map);
  }
  return maps.get(url)?.original(line, column);
}

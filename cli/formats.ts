/**
 * The other formats both commands can write beside the DHAT file: a pprof
 * heap profile, a Chrome DevTools heap profile and the HTML report.
 *
 * @module
 */

import type { DhatFile, DhatSite } from "../api/dhat.ts";
import { buildHeapProfile } from "../api/heap_profile.ts";
import { htmlReport, type HtmlReportOptions } from "../api/html_report.ts";
import { encodePprof } from "../api/pprof.ts";
import { writeFileSafely } from "../api/safe_file.ts";
import type { OptionSpec } from "./options.ts";
import type { NamedPath } from "./paths.ts";

/** `--pprof <file>`, `--heapprofile <file>` and `--html <file>`. */
export const FORMAT_OPTIONS: readonly OptionSpec[] = [
  {
    names: ["--pprof"],
    key: "pprof",
    kind: "string",
    placeholder: "file",
    help: "also write a pprof heap profile (.pb.gz: go tool pprof, Pyroscope, Parca, speedscope)",
  },
  {
    names: ["--heapprofile"],
    key: "heapprofile",
    kind: "string",
    placeholder: "file",
    help: "also write a DevTools heap profile (.heapprofile: Chrome's Memory panel, speedscope)",
  },
  {
    names: ["--html"],
    key: "html",
    kind: "string",
    placeholder: "file",
    help:
      "also write the HTML report: summary, live bytes over time, top sites, flame graphs (one file, fetches nothing)",
  },
];

/** The formats asked for: paths, absolute once checked. */
export interface FormatOutputs {
  pprof?: string;
  heapprofile?: string;
  html?: string;
}

/** The format outputs as paths to check against the other outputs and inputs. */
export function formatPaths(outputs: FormatOutputs): NamedPath[] {
  const paths: NamedPath[] = [];
  if (outputs.pprof !== undefined) paths.push({ path: outputs.pprof, what: "pprof file" });
  if (outputs.heapprofile !== undefined) paths.push({ path: outputs.heapprofile, what: "heap profile" });
  if (outputs.html !== undefined) paths.push({ path: outputs.html, what: "HTML report" });
  return paths;
}

/** The same outputs with each path replaced by its checked, absolute form (in `formatPaths` order). */
export function withCheckedPaths(outputs: FormatOutputs, checked: string[]): FormatOutputs {
  const result: FormatOutputs = {};
  let next = 0;
  if (outputs.pprof !== undefined) result.pprof = checked[next++];
  if (outputs.heapprofile !== undefined) result.heapprofile = checked[next++];
  if (outputs.html !== undefined) result.html = checked[next++];
  return result;
}

/**
 * Writes the formats asked for and says where they went (stderr).
 *
 * @param outputs Where to write each format (absent: not written).
 * @param data The profile (for its command line).
 * @param sites Its named sites.
 * @param shape The HTML report's heading, rows and first flame graph view.
 */
export function writeFormats(
  outputs: FormatOutputs,
  data: DhatFile,
  sites: DhatSite[],
  shape: HtmlReportOptions,
): void {
  if (outputs.pprof !== undefined) {
    writeFileSafely(
      outputs.pprof,
      encodePprof(sites, { comment: data.cmd, sampleIntervalBytes: data.modAlloc?.sampling?.meanIntervalBytes }),
      "the pprof file",
    );
    console.error(`  pprof: ${outputs.pprof} (go tool pprof -top ${outputs.pprof})`);
  }
  if (outputs.heapprofile !== undefined) {
    writeFileSafely(outputs.heapprofile, JSON.stringify(buildHeapProfile(sites)), "the heap profile");
    console.error(`  heap profile: ${outputs.heapprofile} (Chrome DevTools, Memory panel, Load profile)`);
  }
  if (outputs.html !== undefined) {
    writeFileSafely(outputs.html, htmlReport(data, sites, shape), "the HTML report");
    console.error(`  HTML report: ${outputs.html}`);
  }
}

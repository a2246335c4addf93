// The TypeScript mirror of the ABI (ffi/layout.ts) against the library.
import assert from "node:assert/strict";
import { loadLibrary } from "../ffi/library.ts";
import { ABI_VERSION, STATS_FIELDS } from "../ffi/layout.ts";
import { readThreadFigures, SITE_FIELDS, THREAD_FIGURES } from "../ffi/sites.ts";
import { snapshotValues, TIMELINE_HEADER } from "../ffi/timeline.ts";

Deno.test("the library's ABI version is the one ffi/layout.ts expects", () => {
  assert.equal(loadLibrary().symbols.mod_alloc_abi_version(), ABI_VERSION);
});

Deno.test("the statistics fields have the same names in the same order on both sides", () => {
  const { symbols } = loadLibrary();
  const count = symbols.mod_alloc_stats_fields_count();
  const names: string[] = [];
  for (let index = 0; index < count; index++) {
    const pointer = symbols.mod_alloc_stats_field_name(index);
    assert.ok(pointer !== null);
    names.push(Deno.UnsafePointerView.getCString(pointer));
  }
  assert.deepEqual(names, [...STATS_FIELDS]);
  assert.equal(symbols.mod_alloc_stats_field_name(count), null);
});

Deno.test("a call site's statistics have as many values on both sides", () => {
  assert.equal(loadLibrary().symbols.mod_alloc_site_stats_count(), SITE_FIELDS.length);
});

Deno.test("the thread figures have as many values on both sides, and a counter read claims a record", () => {
  const library = loadLibrary();
  assert.equal(library.symbols.mod_alloc_thread_figures_count(), THREAD_FIGURES.length);
  library.symbols.mod_alloc_snapshot_current();
  const figures = readThreadFigures(library);
  assert.ok(figures.claimed >= 1 && figures.claimedMax >= figures.claimed, JSON.stringify(figures));
  assert.ok(figures.chunks >= 1);
});

Deno.test("the timeline's header has as many fields on both sides and the series and site snapshots fill the rest", () => {
  const library = loadLibrary();
  const count = library.symbols.mod_alloc_timeline_values_count();
  const values = new Float64Array(count);
  library.symbols.mod_alloc_timeline(values);
  const pointsMax = values[TIMELINE_HEADER.indexOf("points_max")];
  assert.ok(pointsMax >= 16, `points_max ${pointsMax}`);
  const slots = values[TIMELINE_HEADER.indexOf("snapshot_slots")];
  const topMax = values[TIMELINE_HEADER.indexOf("snapshot_top_max")];
  assert.ok(slots >= 2 && topMax >= 1, `${slots} snapshot slots of ${topMax} sites`);
  assert.equal(count, TIMELINE_HEADER.length + 2 * pointsMax * 4 + slots * snapshotValues(topMax));
});

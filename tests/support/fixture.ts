// The native test fixture (tests/fixture/fixture.c, built by `zig build`):
// allocation sequences made through its own PLT/GOT.
import { loadLibrary } from "../../ffi/library.ts";

const path = new URL("../../zig-out/lib/libmod_alloc_fixture.so", import.meta.url).pathname;

const fixtureSymbols = {
  fixture_malloc: { parameters: ["u64"], result: "u64" },
  fixture_calloc: { parameters: ["u64", "u64"], result: "u64" },
  fixture_realloc: { parameters: ["u64", "u64"], result: "u64" },
  fixture_reallocarray: { parameters: ["u64", "u64", "u64"], result: "u64" },
  fixture_free: { parameters: ["u64"], result: "void" },
  fixture_memalign: { parameters: ["u64", "u64"], result: "u64" },
  fixture_aligned_alloc: { parameters: ["u64", "u64"], result: "u64" },
  fixture_valloc: { parameters: ["u64"], result: "u64" },
  fixture_pvalloc: { parameters: ["u64"], result: "u64" },
  fixture_usable_size: { parameters: ["u64"], result: "u64" },
  fixture_posix_memalign: { parameters: ["buffer", "u64", "u64"], result: "i32" },
  fixture_calloc_errno: { parameters: ["u64", "u64", "i32"], result: "u64" },
  fixture_malloc_errno: { parameters: ["u64", "i32"], result: "u64" },
  fixture_last_errno: { parameters: [], result: "i32" },
  fixture_threads_alloc: { parameters: ["u32", "u64", "u64", "i32"], result: "i32" },
  fixture_sized_api: { parameters: [], result: "i32" },
  fixture_record_begin: { parameters: [], result: "void" },
  fixture_alloc_a: { parameters: ["u64", "u64"], result: "void" },
  fixture_alloc_b: { parameters: ["u64", "u64"], result: "void" },
  fixture_many_sites: { parameters: ["u32", "u64"], result: "void" },
  fixture_small_stack_threads: { parameters: ["u32", "u64", "u64"], result: "i32" },
  fixture_named_threads_alloc: { parameters: ["u32", "u64", "u64"], result: "i32" },
  fixture_record_end: { parameters: ["buffer"], result: "void" },
  fixture_known_sequence: { parameters: [], result: "void" },
} as const satisfies Deno.ForeignLibraryInterface;

export type Fixture = Deno.DynamicLibrary<typeof fixtureSymbols>["symbols"];

let fixture: Fixture | undefined;

/** Opens the fixture once per process. */
export function loadFixture(): Fixture {
  // The fixture links libmod_alloc.so (for the sized API and its own
  // measurements); opening the module's library first makes the loader
  // reuse that instance by soname instead of finding another copy.
  loadLibrary();
  fixture ??= Deno.dlopen(path, fixtureSymbols).symbols;
  return fixture;
}

/**
 * What `fixture_known_sequence` allocates, worked out from its source in
 * tests/fixture/fixture.c (100 malloc of 32..131 B, 10 calloc(3, 40), 3
 * realloc to 1000 B, 110 frees).
 */
export const KNOWN_SEQUENCE = {
  allocCount: 113,
  freeCount: 110,
  totalBytes: 8150 + 1200 + 2901,
  currentBytes: 0,
  liveCount: 0,
  scopePeakBytes: 8150 + 1200 + 2901,
  scopePeakLiveCount: 110,
} as const;

export const ENOMEM = 12;
export const EINVAL = 22;

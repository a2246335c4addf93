/**
 * The FFI symbol table of libmod_alloc.so: one declarative object, the only
 * description of the native functions on the TypeScript side. Counters are
 * read into caller-supplied `Float64Array`s so every call stays a V8 fast
 * call returning plain numbers.
 *
 * @module
 */

/** Symbols bound by `Deno.dlopen`. */
export const symbols = {
  mod_alloc_abi_version: { parameters: [], result: "u32" },
  mod_alloc_stats_fields_count: { parameters: [], result: "u32" },
  mod_alloc_stats_field_name: { parameters: ["u32"], result: "pointer" },
  mod_alloc_mode: { parameters: [], result: "u32" },
  mod_alloc_install: { parameters: [], result: "i32" },
  mod_alloc_uninstall: { parameters: [], result: "i32" },
  mod_alloc_counting: { parameters: [], result: "u32" },
  mod_alloc_snapshot: { parameters: ["u32", "buffer"], result: "void" },
  mod_alloc_mark_peak: { parameters: ["u32", "buffer"], result: "void" },
  mod_alloc_out_area: { parameters: [], result: "pointer" },
  mod_alloc_snapshot_all: { parameters: [], result: "void" },
  mod_alloc_snapshot_current: { parameters: [], result: "void" },
  mod_alloc_mark_peak_all: { parameters: [], result: "void" },
  mod_alloc_mark_peak_current: { parameters: [], result: "void" },
  mod_alloc_reset: { parameters: [], result: "void" },
  mod_alloc_memory_bytes: { parameters: [], result: "f64" },
  mod_alloc_thread_figures_count: { parameters: [], result: "u32" },
  mod_alloc_thread_figures: { parameters: ["buffer"], result: "void" },
  mod_alloc_thread_name: { parameters: ["u32", "buffer"], result: "i32" },
  mod_alloc_patched_slots: { parameters: [], result: "u32" },
  mod_alloc_write_dhat: { parameters: ["buffer"], result: "i32" },
  mod_alloc_configure: { parameters: ["u32", "u32", "u32"], result: "i32" },
  mod_alloc_env_settings: { parameters: ["buffer"], result: "void" },
  mod_alloc_configure_sampling: { parameters: ["u32", "u32", "u32", "u32"], result: "i32" },
  mod_alloc_sample_settings: { parameters: ["buffer"], result: "void" },
  mod_alloc_sites_summary: { parameters: ["buffer"], result: "void" },
  mod_alloc_site_stats_count: { parameters: [], result: "u32" },
  mod_alloc_current_lane: { parameters: [], result: "u32" },
  mod_alloc_sites_buffer: { parameters: [], result: "pointer" },
  mod_alloc_sites_buffer_bytes: { parameters: [], result: "f64" },
  mod_alloc_sites_snapshot_all: { parameters: [], result: "u32" },
  mod_alloc_sites_snapshot_own: { parameters: [], result: "u32" },
  mod_alloc_sites_baseline_all: { parameters: [], result: "i32" },
  mod_alloc_sites_baseline_own: { parameters: [], result: "i32" },
  mod_alloc_sites_snapshot_since_baseline: { parameters: [], result: "u32" },
  mod_alloc_timeline_values_count: { parameters: [], result: "u32" },
  mod_alloc_timeline: { parameters: ["buffer"], result: "void" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The bound library. */
export type NativeLibrary = Deno.DynamicLibrary<typeof symbols>;

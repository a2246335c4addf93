/**
 * The statistics types, re-exported where the public API used to define
 * them. They live in `types/alloc_stats.ts`, below `ffi/`, so that the FFI
 * layer can decode into them without importing upwards.
 *
 * @module
 */

export type * from "../types/alloc_stats.ts";

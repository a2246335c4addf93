/**
 * The error classes, re-exported where the public API used to define them.
 * They live in `types/errors.ts`, below `ffi/`, so that the FFI layer can
 * throw them without importing upwards.
 *
 * @module
 */

export * from "../types/errors.ts";

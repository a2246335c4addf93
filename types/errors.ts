/**
 * Error classes. Each message says what was wrong and what to do next.
 *
 * @module
 */

/**
 * Base class of every error mod-alloc throws; the subclasses say which
 * kind of problem it is.
 *
 * @example
 * ```ts
 * import { ModAlloc, ModAllocError } from "@mod-alloc/deno";
 *
 * try {
 *   ModAlloc.install({ frames: 0 });
 * } catch (error) {
 *   console.log(error instanceof ModAllocError, (error as Error).name); // true "OptionError"
 * }
 * ```
 */
export class ModAllocError extends Error {
  /**
   * Creates an error with a message that says what to do next.
   *
   * @param message What was wrong and what to do next.
   * @param options `cause`: an underlying error.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The native library could not be found or opened. */
export class LibraryNotFoundError extends ModAllocError {}

/**
 * A prebuilt library's bytes are not the ones this release pinned (a
 * tampered or truncated download); it was not used and not cached.
 */
export class LibraryIntegrityError extends ModAllocError {}

/** The native library was built for another version of this module. */
export class AbiMismatchError extends ModAllocError {}

/** This OS or CPU is not supported. */
export class UnsupportedPlatformError extends ModAllocError {}

/** Options of {@linkcode InstallError}. */
export interface InstallErrorOptions extends ErrorOptions {
  /** The native status code (`abi.Status` in `core/abi.zig`), when there is one. */
  code?: number;
}

/**
 * Installing, configuring or uninstalling the hooks failed; `code` is the
 * native status, and the message says what to do next.
 */
export class InstallError extends ModAllocError {
  /** The native status code, when the library returned one. */
  readonly code: number | undefined;

  /**
   * Creates the error.
   *
   * @param message What failed and the next step.
   * @param options `code`: the native status; `cause`: an underlying error.
   */
  constructor(message: string, options: InstallErrorOptions = {}) {
    super(message, options);
    this.code = options.code;
  }
}

/** An API was used in a state where it cannot work (e.g. stop twice). */
export class StateError extends ModAllocError {}

/** An option had an invalid value. */
export class OptionError extends ModAllocError {}

/** A report file could not be written. */
export class ReportError extends ModAllocError {}

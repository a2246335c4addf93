/**
 * The TypeScript mirror of `core/abi.zig`: ABI version, the order of the
 * statistics fields, and the numeric codes of scopes, modes and statuses.
 * `tests/abi_test.ts` checks this file against the library itself.
 *
 * @module
 */

/** Must equal `abi_version` in `core/abi.zig`. */
export const ABI_VERSION = 3;

/** Field order of `mod_alloc_snapshot`'s output, as in `abi.StatsField`. */
export const STATS_FIELDS = [
  "alloc_count",
  "free_count",
  "total_bytes",
  "current_bytes",
  "peak_bytes",
  "live_count",
  "peak_live_count",
  "foreign_count",
  "failed_count",
] as const;

/** Name of one statistics field on the native side. */
export type StatsFieldName = typeof STATS_FIELDS[number];

/** Index of each field in a snapshot buffer. */
export const FIELD: Readonly<Record<StatsFieldName, number>> = Object.freeze(
  Object.fromEntries(STATS_FIELDS.map((name, index) => [name, index])) as Record<
    StatsFieldName,
    number
  >,
);

/** `abi.Scope`. */
export const SCOPE = { all: 0, current: 1 } as const;

/** `abi.Mode`. */
export const MODE = { none: 0, preload: 1, runtime: 2 } as const;

/** `abi.Status`, with what each means for a user. */
export const STATUS_MESSAGES: Readonly<Record<number, string>> = {
  [-1]: "the table of patched GOT slots is full: the process has more allocator imports than mod-alloc can record",
  [-2]:
    "mprotect refused to make a RELRO page writable, so the allocator imports could not be patched (a seccomp or SELinux policy may forbid it); preload the library with LD_PRELOAD instead",
  [-3]: "glibc's libc.so was not found among the loaded objects: mod-alloc wraps glibc's allocator only",
  [-4]: "this platform is not supported",
  [-5]:
    "the process does not use glibc's malloc (another allocator such as jemalloc is interposed), so mod-alloc will not redirect its calls",
};

/** Status codes that are not errors. */
export const STATUS_OK = 0;
/** Install when already installed; uninstall when not installed. */
export const STATUS_ALREADY = 1;
/** Uninstall when not installed. */
export const STATUS_NOT_INSTALLED = 2;

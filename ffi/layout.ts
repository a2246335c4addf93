/**
 * The TypeScript mirror of `core/abi.zig`: ABI version, the order of the
 * statistics fields, and the numeric codes of scopes, modes and statuses.
 * `tests/abi_test.ts` checks this file against the library itself.
 *
 * @module
 */

/** Must equal `abi_version` in `core/abi.zig`. */
export const ABI_VERSION = 6;

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

/**
 * `abi.Status`: the results of install, uninstall and configure, by name.
 * What each means for a user, and what to do next, is `api/status.ts`'s job.
 */
export const STATUS = {
  ok: 0,
  already_installed: 1,
  not_installed: 2,
  patch_table_full: -1,
  mprotect_failed: -2,
  libc_not_found: -3,
  foreign_allocator: -5,
  invalid_option: -6,
  config_conflict: -7,
  out_of_memory: -8,
} as const;

/** Name of one status code. */
export type StatusName = keyof typeof STATUS;

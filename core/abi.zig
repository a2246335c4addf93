//! The ABI shared with the TypeScript side (`ffi/layout.ts`): one version
//! number and the order of the statistics fields. Both sides compare the
//! version at load time, and `tests/abi_test.ts` checks every field name.

/// Bump on any change to an exported signature, to `StatsField` or to the
/// site record (4: the thread-name id in a site's last value; 5: the
/// timeline, `mod_alloc_timeline`; 6: sampling mode's exports, the two
/// variance values after the thread name, and site snapshots in the timeline).
/// (`abi_skew` is non-zero only in the test copy built to check that the
/// loader refuses a mismatched library.)
pub const abi_version: u32 = 6 + @import("build_options").abi_skew;

/// Order of the f64 values that `mod_alloc_snapshot` writes. f64 because
/// Deno's FFI returns 64-bit integers as bigint, and counts stay exact in an
/// f64 up to 2^53 (9 PB or 9e15 events, far beyond any run).
pub const StatsField = enum(u32) {
    alloc_count,
    free_count,
    total_bytes,
    current_bytes,
    peak_bytes,
    live_count,
    peak_live_count,
    foreign_count,
    failed_count,
};

pub const stats_fields_count: u32 = @typeInfo(StatsField).@"enum".field_names.len;

/// Which counters a read refers to.
pub const Scope = enum(u32) {
    /// Every thread of the process.
    all = 0,
    /// Only the thread that makes the call.
    current_thread = 1,
};

/// How the library came to see allocations.
pub const Mode = enum(u32) {
    none = 0,
    preload = 1,
    runtime = 2,
};

/// Results of `mod_alloc_install` / `mod_alloc_uninstall`; the TypeScript
/// side turns each into an error message.
pub const Status = enum(i32) {
    ok = 0,
    already_installed = 1,
    not_installed = 2,
    patch_table_full = -1,
    mprotect_failed = -2,
    libc_not_found = -3,
    // -4 was "unsupported platform", never returned: the library builds
    // for Linux x86_64 and aarch64 only.
    /// The process's malloc is not glibc's (jemalloc, mimalloc …): blocks
    /// from it must not be handed to glibc, so nothing is patched.
    foreign_allocator = -5,
    /// An option was out of range (the TypeScript side checks first).
    invalid_option = -6,
    /// Call sites were already enabled with other frames/buckets, or a
    /// request to turn them off after they were on.
    config_conflict = -7,
    /// The site table could not be mapped.
    out_of_memory = -8,
};

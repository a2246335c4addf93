//! The MOD_ALLOC_* variables, read once at load time (before the program's
//! main, so `getenv` is safe). Bad values are warned about once by
//! `options.zig` and replaced by the defaults. Under preload they take
//! effect at once; at run time the call-site settings are the defaults of
//! `ModAlloc.install()`'s options (`mod_alloc_env_settings`).
//!
//! Test switches (a small ceiling for the live table's hash shards) are read
//! only by a test build of the library (`zig build` installs one as
//! `lib/test/libmod_alloc_test.so`): a release library ignores them.

const std = @import("std");
const build_options = @import("build_options");
const options = @import("options.zig");
const sampler = @import("sampler.zig");

extern fn getenv(name: [*:0]const u8) callconv(.c) ?[*:0]const u8;

pub const Settings = struct {
    /// MOD_ALLOC_BACKTRACES: call sites on.
    backtraces: bool = false,
    /// MOD_ALLOC_FRAMES: frames walked per call site.
    frames: u32 = options.frames_default,
    /// MOD_ALLOC_BUCKETS: entries of the call-site table.
    buckets: u32 = options.buckets_default,
    /// MOD_ALLOC_SAMPLE: sampling mode's mean bytes between samples (0: off).
    sample_bytes: u32 = 0,
    /// MOD_ALLOC_SAMPLE_SEED: the sampler's seed (0: a new one each run).
    sample_seed: u32 = 0,
    /// MOD_ALLOC_OUT: where to write a DHAT file at exit (null: nowhere).
    out_path: ?[*:0]const u8 = null,
    /// MOD_ALLOC_SIGNALS: write the report when SIGINT/SIGTERM/SIGHUP kill.
    signals: bool = false,
    /// MOD_ALLOC_FOLLOW_CHILDREN: leave our variables for children.
    follow_children: bool = false,
    /// Test build only: MOD_ALLOC_TEST_LARGE_TABLE_MAX, the entries a
    /// live-table hash shard may grow to (null in a release library).
    test_large_table_max: ?u32 = null,
};

/// What `read` found; the defaults until then.
pub var current: Settings = .{};

/// Reads every variable (from the constructor). Under preload the first
/// malloc comes before this: the defaults hold until it runs.
pub fn read() void {
    var settings: Settings = .{
        .backtraces = options.envSwitch("MOD_ALLOC_BACKTRACES"),
        .frames = options.envInteger("MOD_ALLOC_FRAMES", 1, options.frames_max, options.frames_default),
        .buckets = options.envInteger("MOD_ALLOC_BUCKETS", options.buckets_min, options.buckets_max, options.buckets_default),
        .sample_bytes = options.envInteger("MOD_ALLOC_SAMPLE", 0, sampler.interval_max, 0),
        .sample_seed = options.envInteger("MOD_ALLOC_SAMPLE_SEED", 0, std.math.maxInt(u32), 0),
        .signals = options.envSwitch("MOD_ALLOC_SIGNALS"),
        .follow_children = options.envSwitch("MOD_ALLOC_FOLLOW_CHILDREN"),
    };
    if (getenv("MOD_ALLOC_OUT")) |path| {
        if (path[0] != 0) settings.out_path = path;
    }
    if (build_options.test_build) {
        settings.test_large_table_max = options.envInteger("MOD_ALLOC_TEST_LARGE_TABLE_MAX", 1024, 1 << 26, 1 << 26);
    }
    std.debug.assert(settings.frames >= 1 and settings.frames <= options.frames_max);
    std.debug.assert(settings.buckets >= options.buckets_min and settings.buckets <= options.buckets_max);
    current = settings;
}

//! libmod_alloc: the exported C ABI. Each export is a thin adapter onto the
//! file that does the work; the allocator hooks themselves are exported by
//! `hooks.zig` under their libc names, and the constructor, fork handlers
//! and exit path live in `process_lifecycle.zig`.

const std = @import("std");
const abi = @import("abi.zig");
const counters = @import("counters.zig");
const hooks = @import("hooks.zig");
const live_table = @import("live_table.zig");
const large_table = @import("large_table.zig");
const got_patch = @import("got_patch.zig");
const sized_api = @import("sized_api.zig");
const site_table = @import("site_table.zig");
const backtrace = @import("backtrace.zig");
const site_snapshot = @import("site_snapshot.zig");
const dhat_writer = @import("dhat_writer.zig");
const configuration = @import("configuration.zig");
const settings = @import("settings.zig");
const process_lifecycle = @import("process_lifecycle.zig");
const threads = @import("thread_lifecycle.zig");
const thread_registry = @import("thread_registry.zig");
const thread_names = @import("thread_names.zig");
const ThreadRecord = @import("ThreadRecord.zig");
const foreign_allocator = @import("foreign_allocator.zig");
const sampler = @import("sampler.zig");

comptime {
    _ = hooks;
    _ = process_lifecycle;
    _ = @import("test_probes.zig");
    _ = @import("timeline.zig");
}

export fn mod_alloc_abi_version() u32 {
    return abi.abi_version;
}

export fn mod_alloc_stats_fields_count() u32 {
    return abi.stats_fields_count;
}

/// Field names in `abi.StatsField` order, for the layout check of the
/// TypeScript side; null past the end.
export fn mod_alloc_stats_field_name(index: u32) ?[*:0]const u8 {
    const names = comptime @typeInfo(abi.StatsField).@"enum".field_names;
    if (index >= names.len) return null;
    return names[index].ptr;
}

fn mode() abi.Mode {
    if (configuration.isPreloaded()) return .preload;
    if (got_patch.installed.load(.acquire)) return .runtime;
    return .none;
}

export fn mod_alloc_mode() u32 {
    return @backingInt(mode());
}

/// Under preload the hooks already see everything: install only turns
/// counting (back) on. Otherwise it patches the GOT slots of the process.
export fn mod_alloc_install() i32 {
    if (configuration.isPreloaded()) {
        if (foreign_allocator.active()) return @backingInt(abi.Status.foreign_allocator);
        const was = hooks.counting.swap(true, .acq_rel);
        return @backingInt(if (was) abi.Status.already_installed else abi.Status.ok);
    }
    return @backingInt(got_patch.install());
}

export fn mod_alloc_uninstall() i32 {
    if (configuration.isPreloaded()) {
        const was = hooks.counting.swap(false, .acq_rel);
        return @backingInt(if (was) abi.Status.ok else abi.Status.not_installed);
    }
    return @backingInt(got_patch.uninstall());
}

export fn mod_alloc_counting() u32 {
    return @intFromBool(hooks.counting.load(.acquire) and mode() != .none);
}

fn scopeOf(raw: u32) abi.Scope {
    return if (raw == @backingInt(abi.Scope.current_thread)) .current_thread else .all;
}

/// The calling thread's record for an FFI read; a zeroed stand-in when it
/// has none (no memory for one), so a read never fails.
fn recordForRead() *ThreadRecord {
    return threads.ownRecord() orelse &fallback_record;
}

var fallback_record: ThreadRecord = .{};

export fn mod_alloc_snapshot(scope: u32, out: *[abi.stats_fields_count]f64) void {
    counters.snapshot(scopeOf(scope), &recordForRead().counters, out);
}

export fn mod_alloc_mark_peak(scope: u32, out: *[2]f64) void {
    markPeak(scopeOf(scope), out);
}

fn markPeak(scope: abi.Scope, out: *[2]f64) void {
    const record = threads.enter() orelse return;
    defer threads.leave(record);
    counters.markPeak(scope, &record.counters, out);
}

// Output areas, one per thread record, for callers that must not allocate
// to read counters: Deno's FFI allocates on its slow path for every call
// that takes parameters, and a thread-scoped profiler would count that as
// its own noise. So the reads below take no parameters: each writes into
// the calling thread's area, which the caller mapped once as a
// Float64Array. Layout: stats fields, then the two mark values.
comptime {
    std.debug.assert(abi.stats_fields_count + 2 <= ThreadRecord.out_area_values);
}

/// The calling thread's output area; null when it has no record (the
/// caller then passes buffers to `mod_alloc_snapshot`).
export fn mod_alloc_out_area() ?*[ThreadRecord.out_area_values]f64 {
    const record = threads.ownRecord() orelse return null;
    return &record.out_area;
}

fn snapshotToArea(scope: abi.Scope) void {
    const record = threads.ownRecord() orelse return;
    counters.snapshot(scope, &record.counters, record.out_area[0..abi.stats_fields_count]);
}

fn markToArea(scope: abi.Scope) void {
    const record = threads.ownRecord() orelse return;
    markPeak(scope, record.out_area[abi.stats_fields_count..][0..2]);
}

export fn mod_alloc_snapshot_all() void {
    snapshotToArea(.all);
}

export fn mod_alloc_snapshot_current() void {
    snapshotToArea(.current_thread);
}

export fn mod_alloc_mark_peak_all() void {
    markToArea(.all);
}

export fn mod_alloc_mark_peak_current() void {
    markToArea(.current_thread);
}

export fn mod_alloc_reset() void {
    counters.reset();
}

/// Memory the profiler holds resident: its static tables, thread records
/// and their snapshot buffers, live table, site table (pages touched),
/// patch pages.
export fn mod_alloc_memory_bytes() f64 {
    const static_bytes = large_table.shards_count * 64 + thread_names.table_bytes + sampler.filterBytes();
    const Buffers = struct {
        fn add(total: *usize, record: *ThreadRecord) void {
            total.* += record.sites.residentBytes();
        }
    };
    var buffers_bytes: usize = 0;
    thread_registry.forEachRecord(&buffers_bytes, Buffers.add);
    return @floatFromInt(static_bytes + thread_registry.mappedBytes() + buffers_bytes + live_table.residentBytes() +
        got_patch.mappedBytes() + site_table.residentBytes());
}

/// Values `mod_alloc_thread_figures` writes (checked by tests/abi_test.ts).
const thread_figures_count = 7;

export fn mod_alloc_thread_figures_count() u32 {
    return thread_figures_count;
}

/// Thread figures: records claimed now, the most claimed at once, claims
/// ever made, record chunks mapped, events left uncounted for want of a
/// record, distinct thread names, stack mappings looked up.
export fn mod_alloc_thread_figures(out: *[thread_figures_count]f64) void {
    const figures = thread_registry.figures();
    out.* = .{
        @floatFromInt(figures[0]),
        @floatFromInt(figures[1]),
        @floatFromInt(figures[2]),
        @floatFromInt(figures[3]),
        @floatFromInt(threads.uncountedEvents()),
        @floatFromInt(thread_names.namesCount()),
        @floatFromInt(backtrace.stackResolves()),
    };
}

/// Copies thread name `id` (as carried by each site) into `out`
/// (NUL-terminated, at most 16 bytes); its length, or -1 past the table.
export fn mod_alloc_thread_name(id: u32, out: *[thread_names.name_bytes]u8) i32 {
    return thread_names.nameOf(id, out);
}

/// Turns call sites on (once; they cannot be turned off again) with a walk
/// depth and a site-table size.
export fn mod_alloc_configure(backtraces: u32, frames: u32, buckets: u32) i32 {
    return @backingInt(configuration.configure(backtraces != 0, frames, buckets));
}

/// The environment's settings: backtraces (0/1), frames, buckets.
export fn mod_alloc_env_settings(out: *[3]f64) void {
    const loaded = settings.current;
    out.* = .{ @floatFromInt(@intFromBool(loaded.backtraces)), @floatFromInt(loaded.frames), @floatFromInt(loaded.buckets) };
}

/// Turns sampling mode on (`configuration.configureSampling`): mean bytes
/// between samples, a seed (0 = new each run), frames and buckets.
export fn mod_alloc_configure_sampling(interval: u32, seed: u32, frames: u32, buckets: u32) i32 {
    return @backingInt(configuration.configureSampling(interval, seed, frames, buckets));
}

/// Sampling: the mean interval in effect (0 = off), then MOD_ALLOC_SAMPLE
/// and MOD_ALLOC_SAMPLE_SEED as read at load time.
export fn mod_alloc_sample_settings(out: *[3]f64) void {
    const loaded = settings.current;
    out.* = .{ @floatFromInt(sampler.intervalBytes()), @floatFromInt(loaded.sample_bytes), @floatFromInt(loaded.sample_seed) };
}

export fn mod_alloc_sites_summary(out: *[site_table.summary_values]f64) void {
    var stats: [abi.stats_fields_count]f64 = undefined;
    counters.snapshot(.all, &fallback_record.counters, &stats);
    const field = struct {
        fn get(values: *const [abi.stats_fields_count]f64, name: abi.StatsField) i64 {
            return @intFromFloat(values[@backingInt(name)]);
        }
    }.get;
    const peaks = .{ field(&stats, .peak_bytes), field(&stats, .peak_live_count) };
    const now = .{ field(&stats, .current_bytes), field(&stats, .live_count) };
    site_table.summary(peaks, now, out);
}

export fn mod_alloc_sites_totals(out: *[2]f64) void {
    site_table.totals(out);
}

export fn mod_alloc_site_stats_count() u32 {
    return site_table.stats_values;
}

export fn mod_alloc_sites_buffer() ?*anyopaque {
    return @ptrCast(site_snapshot.buffer());
}

export fn mod_alloc_sites_buffer_bytes() f64 {
    return @floatFromInt(site_snapshot.bufferBytes());
}

export fn mod_alloc_sites_snapshot_all() u32 {
    return site_snapshot.take(.all, false);
}

export fn mod_alloc_sites_snapshot_own() u32 {
    return site_snapshot.take(.own_lane, false);
}

export fn mod_alloc_sites_baseline_all() i32 {
    return site_snapshot.setBaseline(.all);
}

export fn mod_alloc_sites_baseline_own() i32 {
    return site_snapshot.setBaseline(.own_lane);
}

export fn mod_alloc_sites_snapshot_since_baseline() u32 {
    return site_snapshot.take(.baseline, true);
}

/// The calling thread's lane in the site table, assigned now if it has
/// none; 0 when it shares lane 0 with other threads (then its own share
/// cannot be told apart).
export fn mod_alloc_current_lane() u32 {
    return site_snapshot.ownLane() orelse 0;
}

/// Writes the DHAT file now ("%p" in `path` becomes the pid); 0 or a
/// negative errno.
export fn mod_alloc_write_dhat(path: [*:0]const u8) i32 {
    return dhat_writer.write(path);
}

export fn mod_alloc_patched_slots() u32 {
    return @intCast(got_patch.patchedSlots());
}

comptime {
    @export(&sized_api.alloc, .{ .name = "mod_alloc_alloc" });
    @export(&sized_api.allocZeroed, .{ .name = "mod_alloc_alloc_zeroed" });
    @export(&sized_api.dealloc, .{ .name = "mod_alloc_dealloc" });
    @export(&sized_api.realloc, .{ .name = "mod_alloc_realloc" });
}

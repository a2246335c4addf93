//! libmod_alloc: the exported C ABI. Each export is a thin adapter onto the
//! file that does the work; the allocator hooks themselves are exported by
//! `hooks.zig` under their libc names.

const std = @import("std");
const abi = @import("abi.zig");
const counters = @import("counters.zig");
const hooks = @import("hooks.zig");
const live_table = @import("live_table.zig");
const large_table = @import("large_table.zig");
const got_patch = @import("got_patch.zig");
const sized_api = @import("sized_api.zig");
const elf_dynamic = @import("elf_dynamic.zig");
const options = @import("options.zig");
const site_table = @import("site_table.zig");
const backtrace = @import("backtrace.zig");
const SpinLock = @import("SpinLock.zig");
const site_snapshot = @import("site_snapshot.zig");
const dhat_writer = @import("dhat_writer.zig");
const environment = @import("environment.zig");
const exit_signals = @import("exit_signals.zig");
const peak = @import("peak.zig");
const threads = @import("thread_lifecycle.zig");
const thread_registry = @import("thread_registry.zig");
const thread_names = @import("thread_names.zig");
const ThreadRecord = @import("ThreadRecord.zig");
const go_program = @import("go_program.zig");
const timeline = @import("timeline.zig");

comptime {
    _ = hooks;
}

/// Set by the constructor: true when our `malloc` is the process's (the
/// library was preloaded or linked ahead of libc).
var preloaded: bool = false;

extern fn pthread_atfork(
    prepare: ?*const fn () callconv(.c) void,
    parent: ?*const fn () callconv(.c) void,
    child: ?*const fn () callconv(.c) void,
) callconv(.c) c_int;

/// Locks held across fork so the child never inherits one mid-update from a
/// thread that does not exist there.
// Fork handlers. glibc runs prepare handlers last-registered-first, so in
// run-time mode handlers of libraries loaded before us run after our
// prepare, on this thread, while we hold our locks: `pauseForFork` makes
// their allocations and frees (and a dlopen) pass through uncounted.
fn forkPrepare() callconv(.c) void {
    got_patch.lockForFork();
    thread_registry.lock();
    live_table.lockAll();
    threads.pauseForFork();
}

fn forkParent() callconv(.c) void {
    threads.resumeAfterFork();
    live_table.unlockAll();
    thread_registry.unlock();
    got_patch.unlockAfterFork();
}

fn forkChild() callconv(.c) void {
    threads.resumeAfterFork();
    live_table.forceUnlockAll();
    threads.afterForkChild();
    got_patch.afterForkChild();
    timeline.afterForkChild();
}

/// Settings read from the environment at load time: MOD_ALLOC_BACKTRACES,
/// MOD_ALLOC_FRAMES, MOD_ALLOC_BUCKETS (bad values warned about once and
/// replaced by the defaults). Under preload they take effect at once; at
/// run time they are the defaults of `ModAlloc.install()`'s options.
var env_backtraces: bool = false;
/// MOD_ALLOC_OUT: where to write a DHAT file at exit (under preload), and
/// the pid that read it (a forked child does not write its parent's file).
var env_out: ?[*:0]const u8 = null;
var env_out_pid: i32 = 0;
extern fn getenv(name: [*:0]const u8) callconv(.c) ?[*:0]const u8;
var env_frames: u32 = options.frames_default;
var env_buckets: u32 = options.buckets_default;

/// True when this library's malloc is the process's: it was loaded ahead
/// of libc (LD_PRELOAD, or linked by the program before libc), so the
/// global scope finds it first. Loaded objects are listed in load order.
/// (Comparing `dlsym(RTLD_DEFAULT, "malloc")` with our malloc fails for a
/// non-PIE program that takes malloc's address, such as node: the global
/// definition is then the program's own PLT stub.)
fn loadedBeforeLibc() bool {
    const Order = struct {
        own: usize,
        seen_own: *bool,
        ahead: *bool,
        fn visit(order: @This(), module: *const elf_dynamic.Module) void {
            if (module.contains(order.own)) order.seen_own.* = true;
            if (elf_dynamic.isLibc(module.name) and order.seen_own.*) order.ahead.* = true;
        }
    };
    var seen_own = false;
    var ahead = false;
    elf_dynamic.forEachModule(Order{ .own = @intFromPtr(&constructor), .seen_own = &seen_own, .ahead = &ahead }, Order.visit);
    return ahead;
}

fn constructor() callconv(.c) void {
    preloaded = loadedBeforeLibc();
    _ = threads.ensureExitKey();
    _ = pthread_atfork(forkPrepare, forkParent, forkChild);
    env_backtraces = options.envSwitch("MOD_ALLOC_BACKTRACES");
    env_frames = options.envInteger("MOD_ALLOC_FRAMES", 1, options.frames_max, options.frames_default);
    env_buckets = options.envInteger("MOD_ALLOC_BUCKETS", options.buckets_min, options.buckets_max, options.buckets_default);
    if (preloaded and env_backtraces) _ = configure(true, env_frames, env_buckets);
    // Test switch: a small ceiling for the hash table, to test a full one.
    const test_limit = options.envInteger("MOD_ALLOC_TEST_LARGE_TABLE_MAX", 1024, 1 << 26, 1 << 26);
    large_table.limitShardCapacity(test_limit);
    // Our exec*/kill/raise forward to libc's: find them however we were
    // loaded, so a call that reaches ours always has somewhere to go.
    environment.init();
    const signals_on = preloaded and options.envSwitch("MOD_ALLOC_SIGNALS");
    exit_signals.init(if (signals_on) writeReportOnSignal else null);
    if (preloaded) {
        if (getenv("MOD_ALLOC_OUT")) |path| {
            if (path[0] != 0) {
                env_out = path;
                env_out_pid = std.os.linux.getpid();
                warnIfGoProgram();
            }
        }
        if (!options.envSwitch("MOD_ALLOC_FOLLOW_CHILDREN")) environment.removeOwnVariables();
    }
}

/// Go's runtime ends the process with a raw exit_group: no exit handler,
/// destructor or `_exit` hook of ours runs, so the report cannot be written.
/// Said once, at start, instead of leaving the user to find no file.
fn warnIfGoProgram() void {
    if (!go_program.isGoExecutable("/proc/self/exe")) return;
    options.warn(&.{
        "mod-alloc: this is a Go program: Go exits without running exit handlers, so no MOD_ALLOC_OUT report ",
        "can be written at exit (the allocations are still counted; a report needs the program to call C's exit).",
    });
}

fn writeReportOnSignal() void {
    destructor();
}

var report_written: std.atomic.Value(bool) = .init(false);

/// At exit: the DHAT file MOD_ALLOC_OUT asked for (once).
fn destructor() callconv(.c) void {
    const path = env_out orelse return;
    if (std.os.linux.getpid() != env_out_pid) return;
    if (report_written.swap(true, .acq_rel)) return;
    const status = dhat_writer.write(path);
    if (status == 0) {
        warnIfSitesOverflowed();
        return;
    }
    const why = switch (-status) {
        @intFromEnum(std.os.linux.E.ISDIR) => " (it is a directory: name a file)",
        @intFromEnum(std.os.linux.E.EXIST) => " (it is a FIFO, socket or block device, which is never replaced: name a file)",
        else => " (check that its directory exists and is writable)",
    };
    options.warn(&.{ "mod-alloc: could not write the DHAT file MOD_ALLOC_OUT=", std.mem.span(path), why });
}

/// Call sites that did not fit the table are one row of the report: say so
/// once, with the variable that makes room for them.
fn warnIfSitesOverflowed() void {
    const overflowed = site_table.overflowEvents();
    if (overflowed == 0) return;
    var count_text: [24]u8 = undefined;
    var buckets_text: [24]u8 = undefined;
    const count = std.fmt.bufPrint(&count_text, "{d}", .{overflowed}) catch "many";
    const buckets = std.fmt.bufPrint(&buckets_text, "{d}", .{env_buckets}) catch "?";
    options.warn(&.{
        "mod-alloc: ", count, " allocations did not fit the call-site table (", buckets,
        " buckets) and share its overflow row: raise MOD_ALLOC_BUCKETS (up to 1048576; the profile command: --buckets) to give them rows of their own",
    });
}

/// Some programs (node) end with `_exit`, which runs no exit handlers:
/// under preload this `_exit` (and `_Exit`) writes the report first, then
/// ends the process as glibc's does.
fn exitWithoutHandlers(status: c_int) callconv(.c) noreturn {
    destructor();
    std.os.linux.exit_group(status);
}

comptime {
    @export(&exitWithoutHandlers, .{ .name = "_exit" });
    @export(&exitWithoutHandlers, .{ .name = "_Exit" });
    @export(&exit_signals.raise, .{ .name = "raise" });
    @export(&exit_signals.kill, .{ .name = "kill" });
    @export(&environment.execve, .{ .name = "execve" });
    @export(&environment.execv, .{ .name = "execv" });
    @export(&environment.execvp, .{ .name = "execvp" });
    @export(&environment.execvpe, .{ .name = "execvpe" });
}

const fini_entry: Init = &destructor;
comptime {
    @export(&fini_entry, .{ .name = "mod_alloc_fini_entry", .section = ".fini_array", .visibility = .hidden });
}

var configure_lock: SpinLock = .{};

fn configure(backtraces: bool, frames: u32, buckets: u32) abi.Status {
    if (frames < 1 or frames > options.frames_max) return .invalid_option;
    if (buckets < options.buckets_min or buckets > options.buckets_max) return .invalid_option;
    configure_lock.lock();
    defer configure_lock.unlock();
    if (site_table.enabled()) {
        const same = backtraces and site_table.framesMax() == frames and site_table.bucketsCount() == buckets;
        return if (same) .already_installed else .config_conflict;
    }
    if (!backtraces) return .ok;
    backtrace.findOwnRange();
    return if (site_table.enable(buckets, frames)) .ok else .out_of_memory;
}

const Init = *const fn () callconv(.c) void;
const init_entry: Init = &constructor;
comptime {
    @export(&init_entry, .{ .name = "mod_alloc_init_entry", .section = ".init_array", .visibility = .hidden });
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

export fn mod_alloc_mode() u32 {
    if (preloaded) return @intFromEnum(abi.Mode.preload);
    if (got_patch.installed.load(.acquire)) return @intFromEnum(abi.Mode.runtime);
    return @intFromEnum(abi.Mode.none);
}

/// Under preload the hooks already see everything: install only turns
/// counting (back) on. Otherwise it patches the GOT slots of the process.
export fn mod_alloc_install() i32 {
    if (preloaded) {
        const was = hooks.counting.swap(true, .acq_rel);
        return @intFromEnum(if (was) abi.Status.already_installed else abi.Status.ok);
    }
    return @intFromEnum(got_patch.install());
}

export fn mod_alloc_uninstall() i32 {
    if (preloaded) {
        const was = hooks.counting.swap(false, .acq_rel);
        return @intFromEnum(if (was) abi.Status.ok else abi.Status.not_installed);
    }
    return @intFromEnum(got_patch.uninstall());
}

export fn mod_alloc_counting() u32 {
    return @intFromBool(hooks.counting.load(.acquire) and (preloaded or got_patch.installed.load(.acquire)));
}

fn scopeOf(raw: u32) abi.Scope {
    return if (raw == @intFromEnum(abi.Scope.current_thread)) .current_thread else .all;
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
    const static_bytes = large_table.shards_count * 64 + thread_names.table_bytes;
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
    return @intFromEnum(configure(backtraces != 0, frames, buckets));
}

/// The environment's settings: backtraces (0/1), frames, buckets.
export fn mod_alloc_env_settings(out: *[3]f64) void {
    out.* = .{ @floatFromInt(@intFromBool(env_backtraces)), @floatFromInt(env_frames), @floatFromInt(env_buckets) };
}

export fn mod_alloc_sites_summary(out: *[site_table.summary_values]f64) void {
    var stats: [abi.stats_fields_count]f64 = undefined;
    counters.snapshot(.all, &fallback_record.counters, &stats);
    const field = struct {
        fn get(values: *const [abi.stats_fields_count]f64, name: abi.StatsField) i64 {
            return @intFromFloat(values[@intFromEnum(name)]);
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

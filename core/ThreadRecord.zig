//! Everything one thread owns, in one record: Tier 1 counters and their
//! unfolded peak drift, the reentrancy flag, the Tier 2 lane and event
//! clock, cached stack bounds, the kernel thread id and name, and the
//! output areas the TypeScript side reads through.
//!
//! Lifecycle (`thread_lifecycle.zig`): claimed on the thread's first hooked
//! call, used by that thread only (plain stores; other threads read
//! counters with relaxed loads), released when the thread exits — its
//! counts moved into the retired totals and its drift folded into the
//! shared peak — and reset before another thread claims it. Records live in
//! memory the registry maps in chunks (`thread_registry.zig`) and are never
//! unmapped: an isolate may hold a pointer to its thread's output area.
//!
//! Layout: the compiler orders a file's fields, so the comptime asserts
//! below pin what matters: the flags the hook reads at offset 0 and the
//! counters within the first two cache lines (the Tier 1 path touches
//! nothing else); Tier 2 state and cold buffers may go anywhere after.

const std = @import("std");
const counters_zig = @import("counters.zig");
const event_clock = @import("event_clock.zig");
const site_snapshot = @import("site_snapshot.zig");
const sampler_zig = @import("sampler.zig");
const site_table = @import("site_table.zig");

const ThreadRecord = @This();

/// Values in a thread's output area: statistics, then two mark values.
pub const out_area_values = 16;

/// `lane` before the thread's first Tier 2 event.
pub const lane_unassigned: u8 = 0xff;

/// The thread's own stack as `backtrace.zig` verified it: [low, high).
pub const StackRange = extern struct { low: usize = 0, high: usize = 0 };

/// Set while the thread is inside a hook: a nested call (a signal handler
/// that allocates) forwards without touching the tables again.
in_hook: u32 align(64) = 0,
/// A record lent for one event to a thread whose own was released at exit:
/// given back when the event ends.
borrowed: bool = false,
/// Site-table lane (`site_table.zig`), or `lane_unassigned`.
lane: u8 = lane_unassigned,
/// Index in the thread-name table (`thread_names.zig`); 0 = unknown.
name_id: u16 = 0,
/// Kernel thread id of the owner.
tid: i32 = 0,
/// Times the exit destructor ran (it re-arms itself to run last).
exit_rounds: u32 = 0,
counters: counters_zig.ThreadCounters = .{},
/// Sampling mode's byte budget and random state (`sampler.zig`).
sampler: sampler_zig.ThreadSampler = .{},
/// The name is read again when `counters.alloc_count` reaches this (it
/// doubles): threads often name themselves after their first allocation.
name_check_at: u64 = 0,
clock: event_clock.Local = .{},
stack: StackRange = .{},
/// /proc/self/maps look-ups made for `stack` (bounded in `backtrace.zig`).
stack_lookups: u8 = 0,
/// The thread's recently interned call sites.
site_cache: site_table.SiteCache = .{},

/// Registry bookkeeping (owned by `thread_registry.zig`, under its lock).
next_free: ?*ThreadRecord = null,
claimed: bool = false,

/// Cold: output areas for FFI reads without parameters. Kept across reuse
/// (their mappings belong to the record), contents reset.
out_area: [out_area_values]f64 = @splat(0),
sites: site_snapshot.Buffers = .{},

comptime {
    // The hook's fields (flags, counters) share the first two cache lines.
    std.debug.assert(@offsetOf(ThreadRecord, "in_hook") == 0);
    std.debug.assert(@offsetOf(ThreadRecord, "counters") + @sizeOf(counters_zig.ThreadCounters) <= 2 * 64);
    std.debug.assert(@sizeOf(ThreadRecord) % 64 == 0);
}

/// The thread's site-table lane, claimed on its first site event.
pub inline fn siteLane(record: *ThreadRecord) u8 {
    if (record.lane == lane_unassigned) record.lane = site_table.claimLane();
    return record.lane;
}

/// Makes the record new for a claiming thread; keeps what belongs to the
/// record rather than to a thread (mapped buffers, registry links).
pub fn resetForClaim(record: *ThreadRecord, tid: i32) void {
    std.debug.assert(record.claimed and record.next_free == null);
    const buffers = record.sites.keptMappings();
    record.* = .{};
    record.sites = buffers;
    record.claimed = true;
    record.tid = tid;
}

test "a reset record keeps its mappings and clears the thread's state" {
    var record: ThreadRecord = .{ .claimed = true };
    record.counters.countAlloc(0, 100, 1);
    record.lane = 3;
    record.stack = .{ .low = 1, .high = 2 };
    record.out_area[0] = 5;
    var fake: [8]u8 align(8) = undefined;
    record.sites.records = &fake;
    record.sites.baseline_set = true;
    record.resetForClaim(77);
    try std.testing.expectEqual(@as(u64, 0), record.counters.alloc_count);
    try std.testing.expectEqual(lane_unassigned, record.lane);
    try std.testing.expectEqual(@as(usize, 0), record.stack.high);
    try std.testing.expectEqual(@as(f64, 0), record.out_area[0]);
    try std.testing.expectEqual(@as(?[*]u8, &fake), record.sites.records);
    try std.testing.expect(!record.sites.baseline_set);
    try std.testing.expectEqual(@as(i32, 77), record.tid);
}

//! Which sites held the live bytes over time: a bounded history of "site
//! snapshots", each the top `top_max` sites by live bytes at one moment,
//! beside the timeline's live bytes (`timeline.zig`).
//!
//! When. A snapshot is due every `interval_events` of the allocation clock
//! (which only runs with call sites on, as snapshots need them). The fold
//! that first finds one due (`timeline.sample`, once per 64 KiB or 64
//! blocks of a thread's change, never per allocation) takes it, if no
//! other thread is taking one (a try-lock: a fold never waits) and if the
//! walks so far leave the thread free `walk_spacing_factor` times their
//! duration. When `snapshots_max` are held, every second one is dropped and
//! the interval doubles, so memory is fixed and the snapshots stay evenly
//! spread over any run's length (a run of 2^k x 64 intervals takes about
//! 64 + 32k walks). Reads add two more: the sites at the end (a walk at the
//! read) and at the peak (the site table's at-peak values, `peak.zig`).
//!
//! What. A walk reads every used row of the site table once (`walkLive`):
//! each listed site's bytes are its exact live bytes summed over its lanes
//! at the moment its row was read; a lane written by another thread during
//! the walk is read before or after that write, so the walk is not one
//! instant but spans its duration (`walk_ns_max`). `sites_bytes` is the
//! sum over every row of the same walk, so "other" (sites_bytes minus the
//! listed sites) is exact with respect to the walk. `live_bytes` is the
//! folded sum the timeline sampled there: within `peak.flush_bytes` per
//! live thread of the exact sum (`peak.zig`), and it also counts blocks the
//! site table does not (allocated before call sites were on).
//!
//! Cost (measured, `walk_ns_max` in every read): see `walk_spacing_factor`.

const std = @import("std");
const event_clock = @import("event_clock.zig");
const SpinLock = @import("SpinLock.zig");
const site_table = @import("site_table.zig");
const monotonicNs = @import("wall_clock.zig").monotonicNs;

/// Snapshots kept (plus the two a read adds). 64: a point every ~18
/// pixels of the report's chart, enough to see which sites rise and fall;
/// 64 x 4 KiB of static memory (touched only as snapshots are taken).
pub const snapshots_max = 64;
/// Sites listed per snapshot. The report groups sites (by function, by
/// kind of thread) and a group is only as complete as its listed members.
/// Measured on a real npm program (markdown-it and yaml under Deno, 45,098
/// sites), the heaviest 16 sites held 26% of the bytes at the peak, 64 held
/// 47%, 256 held 79% (98% at the end): 256, the rest is "other".
pub const top_max = 256;
/// The first interval between snapshots, in allocation events: small, so a
/// short run still gets a few; doubling adapts it to long runs.
const interval_events_initial = 1024;
/// A thread that just walked the table for W ns is not asked to walk again
/// for `walk_spacing_factor` x W ns, so walks take at most 1/50 (2%) of a
/// run's wall time whatever the table's size.
const walk_spacing_factor = 50;
/// A walk still going after this is abandoned (its snapshot dropped and
/// counted in `walks_abandoned`), so no allocation waits longer for one.
/// 100 ms: a full 65,536-row table (the profile command's) with 45,000
/// sites walks in 24-36 ms on a busy 2-core machine; a far larger table
/// gets no snapshots rather than stalls. Checked every `walk_check_rows`
/// used rows (a clock read each).
const walk_ns_limit = 100 * std.time.ns_per_ms;
const walk_check_rows = 1024;

/// One site's live values in a snapshot (its row in the site table), 16
/// bytes: blocks are held as u32, clamped (a site with 2^32 blocks live
/// would hold far more memory than any run has).
pub const SiteLive = struct {
    bytes: i64 = 0,
    row: u32 = 0,
    blocks: u32 = 0,

    fn of(row: u32, live: [2]i64) SiteLive {
        return .{ .row = row, .bytes = live[0], .blocks = @intCast(std.math.clamp(live[1], 0, std.math.maxInt(u32))) };
    }
};

pub const Kind = enum(u32) { sample = 0, peak = 1, end = 2 };

pub const Snapshot = struct {
    kind: Kind = .sample,
    /// Allocation clock and CLOCK_MONOTONIC ns, absolute (a reader subtracts
    /// the timeline's origin). -1 wall: not known (the peak's, when no
    /// timeline sample caught it).
    events: u64 = 0,
    wall_ns: i64 = 0,
    live_bytes: i64 = 0,
    sites_bytes: i64 = 0,
    sites_blocks: i64 = 0,
    count: u32 = 0,
    /// During a walk a min-heap on bytes (the lightest kept at [0], so a
    /// site is kept or dropped in log2(top_max) steps); after `finish`,
    /// heaviest first, ties in row order.
    top: [top_max]SiteLive = @splat(.{}),

    /// Starts a walk in place (snapshots live in static memory: a hook's
    /// stack may be small).
    fn begin(snapshot: *Snapshot, kind: Kind, events: u64, wall_ns: i64, live_bytes: i64) void {
        snapshot.kind = kind;
        snapshot.events = events;
        snapshot.wall_ns = wall_ns;
        snapshot.live_bytes = live_bytes;
        snapshot.sites_bytes = 0;
        snapshot.sites_blocks = 0;
        snapshot.count = 0;
    }

    /// Keeps `site` if it is among the `top_max` heaviest so far.
    fn consider(snapshot: *Snapshot, site: SiteLive) void {
        std.debug.assert(snapshot.count <= top_max);
        if (site.bytes <= 0) return;
        if (snapshot.count < top_max) {
            var at = snapshot.count;
            snapshot.count += 1;
            while (at > 0 and lighter(site, snapshot.top[(at - 1) / 2])) : (at = (at - 1) / 2) {
                snapshot.top[at] = snapshot.top[(at - 1) / 2];
            }
            snapshot.top[at] = site;
            return;
        }
        if (!lighter(snapshot.top[0], site)) return;
        var at: u32 = 0;
        while (true) {
            var child = 2 * at + 1;
            if (child >= top_max) break;
            if (child + 1 < top_max and lighter(snapshot.top[child + 1], snapshot.top[child])) child += 1;
            if (!lighter(snapshot.top[child], site)) break;
            snapshot.top[at] = snapshot.top[child];
            at = child;
        }
        snapshot.top[at] = site;
    }

    /// Heap order: fewer bytes, or as many from a later row.
    fn lighter(a: SiteLive, b: SiteLive) bool {
        return a.bytes < b.bytes or (a.bytes == b.bytes and a.row > b.row);
    }

    fn heavierFirst(_: void, a: SiteLive, b: SiteLive) bool {
        return lighter(b, a);
    }

    /// Adds a row to the walk's sums and to the top.
    fn add(snapshot: *Snapshot, row: u32, live: [2]i64) void {
        snapshot.sites_bytes +%= live[0];
        snapshot.sites_blocks +%= live[1];
        snapshot.consider(SiteLive.of(row, live));
    }

    /// Ends a walk: the kept sites heaviest first.
    fn finish(snapshot: *Snapshot) void {
        const top = snapshot.top[0..snapshot.count];
        std.sort.heap(SiteLive, top, {}, heavierFirst);
        std.debug.assert(top.len < 2 or top[0].bytes >= top[top.len - 1].bytes);
    }
};

/// The kept snapshots in time order, and when the next is due.
const History = struct {
    used: u32 = 0,
    snapshots: [snapshots_max]Snapshot = @splat(.{}),
    interval_events: u64 = interval_events_initial,
    /// Read by every fold without the lock (one load); written under it.
    next_due_events: std.atomic.Value(u64) = .init(interval_events_initial),
    /// Monotonic ns before which no walk starts (see `walk_spacing_factor`).
    not_before_ns: i64 = 0,
    /// The longest walk so far, in ns.
    walk_ns_max: u64 = 0,
    /// Walks stopped at `walk_ns_limit`.
    walks_abandoned: u64 = 0,

    /// The slot the next snapshot is walked into: when all are used, every
    /// second one goes and the interval doubles.
    fn nextSlot(history: *History) *Snapshot {
        std.debug.assert(history.used <= snapshots_max);
        if (history.used == snapshots_max) {
            for (0..snapshots_max / 2) |i| history.snapshots[i] = history.snapshots[2 * i];
            history.used = snapshots_max / 2;
            history.interval_events *|= 2;
        }
        return &history.snapshots[history.used];
    }

    /// Keeps the snapshot walked into `nextSlot`; the next is due an interval later.
    fn commit(history: *History) void {
        const snapshot = &history.snapshots[history.used];
        snapshot.finish();
        history.used += 1;
        history.next_due_events.store(snapshot.events +| history.interval_events, .monotonic);
    }

    fn restart(history: *History, now_events: u64) void {
        history.used = 0;
        history.interval_events = interval_events_initial;
        history.next_due_events.store(now_events +| interval_events_initial, .monotonic);
    }
};

var state: History = .{};
/// Tried by folds, waited on (boundedly) by readers.
var lock: SpinLock = .{};

/// See `timeline.read_attempts_max`: a reader interrupted a walk on its own
/// thread (a signal handler writing the report) gives up instead of hanging.
const read_attempts_max = 1 << 16;

fn lockForRead() bool {
    return lock.lockBounded(read_attempts_max);
}

/// Called by every fold with the folded live bytes: one load and a compare
/// unless a snapshot is due.
pub fn offer(live_bytes: i64) void {
    const now_events = event_clock.elapsed();
    if (now_events < state.next_due_events.load(.monotonic)) return;
    offerDue(now_events, live_bytes);
}

noinline fn offerDue(now_events: u64, live_bytes: i64) void {
    @branchHint(.cold);
    if (!site_table.enabled() or !lock.tryLock()) return;
    defer lock.unlock();
    if (now_events < state.next_due_events.raw) return; // another thread took it
    const start_ns: i64 = @intCast(monotonicNs());
    // Not yet: the next fold asks again (one clock read per fold meanwhile).
    if (start_ns < state.not_before_ns) return;
    const snapshot = state.nextSlot();
    snapshot.begin(.sample, now_events, start_ns, live_bytes);
    var walk: Walk = .{ .snapshot = snapshot, .start_ns = start_ns, .limit_ns = walk_ns_limit };
    const complete = site_table.walkLive(&walk, Walk.visit);
    const walk_ns: i64 = @as(i64, @intCast(monotonicNs())) - start_ns;
    state.walk_ns_max = @max(state.walk_ns_max, @as(u64, @intCast(@max(walk_ns, 0))));
    state.not_before_ns = start_ns + walk_ns * (walk_spacing_factor + 1);
    if (complete) state.commit() else state.walks_abandoned += 1;
}

/// One walk of the used rows into a snapshot, stopped at `limit_ns`.
const Walk = struct {
    snapshot: *Snapshot,
    start_ns: i64,
    limit_ns: i64,
    rows: u32 = 0,

    fn visit(walk: *Walk, row: u32, live: [2]i64) bool {
        walk.snapshot.add(row, live);
        walk.rows += 1;
        if (walk.rows % walk_check_rows != 0) return true;
        return @as(i64, @intCast(monotonicNs())) - walk.start_ns <= walk.limit_ns;
    }
};

/// The two snapshots a read adds (static, as the kept ones; guarded by the
/// lock): the sites live at the read and the sites' values at the peak.
var read_end: Snapshot = .{};
var read_peak: Snapshot = .{};

/// Both from one walk of `site_table.read` (its at-peak values settled).
fn walkForRead(now_events: u64, now_ns: i64, now_bytes: i64, peak_events: u64, peak_bytes: i64) void {
    read_end.begin(.end, now_events, now_ns, now_bytes);
    read_peak.begin(.peak, peak_events, -1, peak_bytes);
    var stats: [site_table.stats_values]f64 = undefined;
    var row: u32 = 0;
    while (row < site_table.bucketsCount()) : (row += 1) {
        if (site_table.read(row, null, &stats, &.{}) < 0) continue;
        read_end.add(row, .{ @intFromFloat(stats[2]), @intFromFloat(stats[3]) });
        read_peak.add(row, .{ @intFromFloat(stats[9]), @intFromFloat(stats[10]) });
    }
    read_end.finish();
    read_peak.finish();
}

/// Starts over at a counters' reset: earlier snapshots describe another run.
pub fn restart() void {
    lock.lock();
    defer lock.unlock();
    state.restart(event_clock.elapsed());
}

/// In the child after fork: the thread that held the lock is gone.
pub fn afterForkChild() void {
    lock.forceUnlock();
}

/// The kept snapshots, the read's two and the schedule, for a reader that
/// holds the lock.
pub const Held = struct {
    snapshots: []const Snapshot,
    end: *const Snapshot,
    /// Its wall time is the reader's to set (-1 until then: not known).
    at_peak: *Snapshot,
    interval_events: u64,
    walk_ns_max: u64,
    walks_abandoned: u64,
};

/// Locks the history for a reader (waits its turn, boundedly; null when it
/// cannot, or without call sites) and walks the site table for the end and
/// the peak. The reader writes from it in place, then calls `release`: no
/// copy, as a reader may run on a signal handler's small stack.
pub fn holdForRead(now_bytes: i64, peak_events: u64, peak_bytes: i64) ?Held {
    if (!site_table.enabled() or !lockForRead()) return null;
    walkForRead(event_clock.elapsed(), @intCast(monotonicNs()), now_bytes, peak_events, peak_bytes);
    return .{
        .snapshots = state.snapshots[0..state.used],
        .end = &read_end,
        .at_peak = &read_peak,
        .interval_events = state.interval_events,
        .walk_ns_max = state.walk_ns_max,
        .walks_abandoned = state.walks_abandoned,
    };
}

pub fn release() void {
    lock.unlock();
}

/// f64 values per snapshot in `timeline.read`'s output: kind, events,
/// wall ns, live bytes, sites' bytes, sites' blocks, count, then `top_max`
/// x (row, bytes, blocks).
pub const snapshot_values = 7 + top_max * 3;
comptime {
    std.debug.assert(@sizeOf(SiteLive) == 16);
}

/// Writes `snapshot` as f64 values, times relative to the origins.
pub fn writeValues(snapshot: *const Snapshot, origin_events: u64, origin_ns: u64, out: *[snapshot_values]f64) void {
    out.* = @splat(0);
    const head = [7]f64{
        @floatFromInt(@backingInt(snapshot.kind)),      @floatFromInt(snapshot.events -| origin_events),
        @floatFromInt(relativeNs(snapshot, origin_ns)), @floatFromInt(snapshot.live_bytes),
        @floatFromInt(snapshot.sites_bytes),            @floatFromInt(snapshot.sites_blocks),
        @floatFromInt(snapshot.count),
    };
    out[0..7].* = head;
    for (snapshot.top[0..snapshot.count], 0..) |site, i| {
        out[7 + i * 3 ..][0..3].* = .{ @floatFromInt(site.row), @floatFromInt(site.bytes), @floatFromInt(site.blocks) };
    }
}

fn relativeNs(snapshot: *const Snapshot, origin_ns: u64) i64 {
    if (snapshot.wall_ns < 0) return -1;
    return @intCast(@as(u64, @intCast(snapshot.wall_ns)) -| origin_ns);
}

/// Writes `snapshot` as a JSON array through `out` (the DHAT writer's):
/// [kind, events, wallNs, liveBytes, sitesBytes, sitesBlocks, [[row, bytes, blocks], ...]].
pub fn writeJson(out: anytype, snapshot: *const Snapshot, origin_events: u64, origin_ns: u64) void {
    out.print("[{d},{d},{d},{d},", .{ @backingInt(snapshot.kind), snapshot.events -| origin_events, relativeNs(snapshot, origin_ns), snapshot.live_bytes });
    out.print("{d},{d},[", .{ snapshot.sites_bytes, snapshot.sites_blocks });
    for (snapshot.top[0..snapshot.count], 0..) |site, i| {
        out.print("{s}[{d},{d},{d}]", .{ if (i == 0) "" else ",", site.row, site.bytes, site.blocks });
    }
    out.text("]]");
}

const testing = std.testing;

test "a snapshot keeps the top sites heaviest first and sums every row" {
    var snapshot: Snapshot = .{};
    var prng = std.Random.DefaultPrng.init(5);
    const random = prng.random();
    var all: [4 * top_max]i64 = undefined;
    var sum: i64 = 0;
    for (&all, 0..) |*bytes, row| {
        bytes.* = random.intRangeAtMost(i64, -10, 1 << 20);
        sum += bytes.*;
        snapshot.add(@intCast(row), .{ bytes.*, 1 });
    }
    snapshot.finish();
    try testing.expectEqual(sum, snapshot.sites_bytes);
    try testing.expectEqual(@as(u32, top_max), snapshot.count);
    std.mem.sort(i64, &all, {}, std.sort.desc(i64));
    for (snapshot.top[0..top_max], all[0..top_max]) |site, expected| {
        try testing.expectEqual(expected, site.bytes);
    }
}

test "a snapshot of few sites lists only those with live bytes" {
    var snapshot: Snapshot = .{};
    snapshot.add(3, .{ 0, 0 });
    snapshot.add(4, .{ 10, 1 });
    snapshot.add(5, .{ 30, 2 });
    snapshot.add(6, .{ -5, -1 });
    snapshot.finish();
    try testing.expectEqual(@as(u32, 2), snapshot.count);
    try testing.expectEqual(@as(u32, 5), snapshot.top[0].row);
    try testing.expectEqual(@as(u32, 4), snapshot.top[1].row);
    try testing.expectEqual(@as(i64, 35), snapshot.sites_bytes);
}

test "a walk past its time limit stops at the next check" {
    var snapshot: Snapshot = .{};
    var walk: Walk = .{ .snapshot = &snapshot, .start_ns = @intCast(monotonicNs()), .limit_ns = -1 };
    var row: u32 = 0;
    while (walk.visit(row, .{ 1, 1 })) row += 1;
    try testing.expectEqual(@as(u32, walk_check_rows - 1), row);
    var unhurried: Walk = .{ .snapshot = &snapshot, .start_ns = @intCast(monotonicNs()), .limit_ns = std.math.maxInt(i64) };
    for (0..4 * walk_check_rows) |i| try testing.expect(unhurried.visit(@intCast(i), .{ 1, 1 }));
}

test "a full history drops every second snapshot and doubles its interval" {
    var history: History = .{};
    var stored: u32 = 0;
    // Take every snapshot exactly when due, over a run just short of 16 times the first 64 intervals.
    const run_events = 16 * snapshots_max * interval_events_initial - 1;
    while (history.next_due_events.load(.monotonic) <= run_events) {
        const events = history.next_due_events.load(.monotonic);
        history.nextSlot().begin(.sample, events, 0, @intCast(events));
        history.commit();
        stored += 1;
        try testing.expect(history.used <= snapshots_max);
    }
    // Four doublings: 64 + 4 x 32 walks, about, never one per event.
    try testing.expectEqual(@as(u64, 16 * interval_events_initial), history.interval_events);
    try testing.expect(stored <= snapshots_max + 5 * snapshots_max / 2);
    // In time order, spaced by at least the first interval, spanning the run.
    for (1..history.used) |i| {
        try testing.expect(history.snapshots[i].events >= history.snapshots[i - 1].events + interval_events_initial);
    }
    try testing.expectEqual(@as(u64, interval_events_initial), history.snapshots[0].events);
    try testing.expect(history.snapshots[history.used - 1].events >= 15 * snapshots_max * interval_events_initial);
}

//! Tier 1 counters, kept per thread.
//!
//! Each thread counts on the `ThreadCounters` of its own record
//! (`ThreadRecord.zig`) with plain loads and stores: no shared cache line
//! on the hot path (shared atomics measured 6x slower at two threads).
//! All-threads values are the sum of the claimed records plus `retired`,
//! the counts of records released at thread exit; the registry lock keeps
//! that sum consistent with releases. Peaks follow `peak.zig`: a thread's
//! own are exact, the all-threads ones are within `peak.flush_bytes` per
//! live thread.

const std = @import("std");
const abi = @import("abi.zig");
const peak = @import("peak.zig");
const thread_registry = @import("thread_registry.zig");
const ThreadRecord = @import("ThreadRecord.zig");

pub const ThreadCounters = extern struct {
    alloc_count: u64 = 0,
    free_count: u64 = 0,
    total_bytes: u64 = 0,
    current_bytes: i64 = 0,
    live_count: i64 = 0,
    /// High-water marks up to the last `markPeak`; the thread's peak is the
    /// larger of these and the `mark_peak_*` values, so the hot path keeps
    /// only one running maximum.
    peak_bytes: i64 = 0,
    peak_live_count: i64 = 0,
    foreign_count: u64 = 0,
    failed_count: u64 = 0,
    /// Highest `current_bytes` / `live_count` since the last `markPeak`.
    mark_peak_bytes: i64 = 0,
    mark_peak_live: i64 = 0,
    /// `current_bytes` / `live_count` as last folded into `peak.zig`.
    flushed_bytes: i64 = 0,
    flushed_live: i64 = 0,

    /// Counted by the owner thread only; other threads read fields with
    /// relaxed loads, which see a whole value on 64-bit targets.
    fn put(field: anytype, value: @TypeOf(field.*)) void {
        @atomicStore(@TypeOf(field.*), field, value, .monotonic);
    }

    fn get(field: anytype) @TypeOf(field.*) {
        return @atomicLoad(@TypeOf(field.*), field, .monotonic);
    }

    /// One allocation event (a realloc too): `bytes_new` is what the block
    /// holds now, `bytes_old` what it held before (0 for a fresh block),
    /// `blocks` the change of live blocks.
    pub inline fn countAlloc(self: *ThreadCounters, bytes_old: u64, bytes_new: u64, blocks: i64) void {
        const delta: i64 = @as(i64, @bitCast(bytes_new)) -% @as(i64, @bitCast(bytes_old));
        put(&self.alloc_count, self.alloc_count + 1);
        if (bytes_new > bytes_old) put(&self.total_bytes, self.total_bytes + (bytes_new - bytes_old));
        self.changeLive(delta, blocks);
    }

    /// A fresh block: `countAlloc(0, bytes, 1)` without the growth test.
    pub inline fn countFresh(self: *ThreadCounters, bytes: u64) void {
        self.countEvent(bytes);
        self.changeLive(@bitCast(bytes), 1);
    }

    /// An allocation event of `bytes` whose effect on the live values is
    /// counted apart (sampling mode: only sampled blocks move the live
    /// estimates, through `changeLive`).
    pub inline fn countEvent(self: *ThreadCounters, bytes: u64) void {
        put(&self.alloc_count, self.alloc_count + 1);
        put(&self.total_bytes, self.total_bytes + bytes);
    }

    pub inline fn countFree(self: *ThreadCounters, bytes: u64) void {
        self.countFreeEvent();
        // Live values only fall here: no high-water mark can move.
        const current = self.current_bytes - @as(i64, @bitCast(bytes));
        const live = self.live_count - 1;
        put(&self.current_bytes, current);
        put(&self.live_count, live);
        if (peak.mustFold(current - self.flushed_bytes, live - self.flushed_live)) self.flush();
    }

    /// A free event whose effect on the live values is counted apart (see
    /// `countEvent`).
    pub inline fn countFreeEvent(self: *ThreadCounters) void {
        put(&self.free_count, self.free_count + 1);
    }

    pub fn countForeign(self: *ThreadCounters) void {
        put(&self.foreign_count, self.foreign_count + 1);
    }

    pub fn countFailed(self: *ThreadCounters) void {
        put(&self.failed_count, self.failed_count + 1);
    }

    pub inline fn changeLive(self: *ThreadCounters, bytes: i64, blocks: i64) void {
        const current = self.current_bytes + bytes;
        const live = self.live_count + blocks;
        put(&self.current_bytes, current);
        put(&self.live_count, live);
        if (current > self.mark_peak_bytes) put(&self.mark_peak_bytes, current);
        if (live > self.mark_peak_live) put(&self.mark_peak_live, live);
        const drift_bytes = current - self.flushed_bytes;
        const drift_live = live - self.flushed_live;
        if (peak.mustFold(drift_bytes, drift_live)) self.flush();
    }

    /// Offers the process peak this thread's view of the live sum now
    /// (`peak.raiseWithDrift`): the Tier 2 path calls it per allocation.
    pub fn offerPeak(self: *const ThreadCounters) void {
        peak.raiseWithDrift(self.current_bytes - self.flushed_bytes, self.live_count - self.flushed_live);
    }

    /// Folds the unfolded drift into the shared sums (`peak.zig`).
    pub fn flush(self: *ThreadCounters) void {
        @branchHint(.cold);
        peak.fold(self.current_bytes - self.flushed_bytes, self.live_count - self.flushed_live);
        self.flushed_bytes = self.current_bytes;
        self.flushed_live = self.live_count;
    }

    /// The thread's own high-water marks (owner thread only).
    fn peakBytes(self: *const ThreadCounters) i64 {
        return @max(get(&self.peak_bytes), get(&self.mark_peak_bytes));
    }

    fn peakLive(self: *const ThreadCounters) i64 {
        return @max(get(&self.peak_live_count), get(&self.mark_peak_live));
    }
};

comptime {
    std.debug.assert(@sizeOf(ThreadCounters) == 13 * 8);
}

/// Counts of records released at thread exit (their live bytes and blocks
/// included: the blocks they allocated may still be live). Written under
/// the registry lock.
var retired: ThreadCounters = .{};

/// Values subtracted from the all-threads sums after `reset`.
var reset_base: ThreadCounters = .{};

/// Moves a released record's counts into `retired` and folds its drift.
/// Called by `thread_lifecycle.zig` with the registry lock held, so that a
/// sum sees the counts in exactly one place.
pub fn retire(counts: *ThreadCounters) void {
    std.debug.assert(thread_registry.lockHeld());
    counts.flush();
    addInto(&retired, counts);
    counts.* = .{};
}

/// Sum of every claimed record and the retired counts, read with relaxed
/// loads under the registry lock: exact once the threads are quiet, never
/// torn, and no record counted twice or missed while threads come and go.
fn sumAll() ThreadCounters {
    var sum: ThreadCounters = .{};
    thread_registry.lock();
    defer thread_registry.unlock();
    addInto(&sum, &retired);
    var records = thread_registry.claimedRecords();
    while (records.next()) |record| addInto(&sum, &record.counters);
    return sum;
}

fn addInto(sum: *ThreadCounters, counts: *const ThreadCounters) void {
    const get = ThreadCounters.get;
    sum.alloc_count += get(&counts.alloc_count);
    sum.free_count += get(&counts.free_count);
    sum.total_bytes += get(&counts.total_bytes);
    sum.current_bytes += get(&counts.current_bytes);
    sum.live_count += get(&counts.live_count);
    sum.foreign_count += get(&counts.foreign_count);
    sum.failed_count += get(&counts.failed_count);
}

fn write(out: *[abi.stats_fields_count]f64, field: abi.StatsField, value: anytype) void {
    out[@backingInt(field)] = @floatFromInt(value);
}

/// Fills `out` in `abi.StatsField` order: every thread's counts, or those
/// of `own` (the calling thread's counters).
pub fn snapshot(scope: abi.Scope, own: *const ThreadCounters, out: *[abi.stats_fields_count]f64) void {
    const get = ThreadCounters.get;
    switch (scope) {
        .all => {
            const sum = sumAll();
            const peaks = peak.peaks(sum.current_bytes, sum.live_count);
            write(out, .alloc_count, sum.alloc_count -% get(&reset_base.alloc_count));
            write(out, .free_count, sum.free_count -% get(&reset_base.free_count));
            write(out, .total_bytes, sum.total_bytes -% get(&reset_base.total_bytes));
            write(out, .foreign_count, sum.foreign_count -% get(&reset_base.foreign_count));
            write(out, .failed_count, sum.failed_count -% get(&reset_base.failed_count));
            write(out, .current_bytes, sum.current_bytes);
            write(out, .live_count, sum.live_count);
            write(out, .peak_bytes, @max(peaks[0], sum.current_bytes));
            write(out, .peak_live_count, @max(peaks[1], sum.live_count));
        },
        .current_thread => {
            write(out, .alloc_count, get(&own.alloc_count));
            write(out, .free_count, get(&own.free_count));
            write(out, .total_bytes, get(&own.total_bytes));
            write(out, .foreign_count, get(&own.foreign_count));
            write(out, .failed_count, get(&own.failed_count));
            write(out, .current_bytes, get(&own.current_bytes));
            write(out, .live_count, get(&own.live_count));
            write(out, .peak_bytes, own.peakBytes());
            write(out, .peak_live_count, own.peakLive());
        },
    }
}

/// The all-threads live bytes and blocks now (exact once threads are quiet).
pub fn currentAll() [2]i64 {
    const sum = sumAll();
    return .{ sum.current_bytes, sum.live_count };
}

/// Zeroes the event counts of the all-threads view and re-bases its peaks on
/// the live values of now. Live bytes and blocks are not zeroed: they still
/// describe memory that exists.
pub fn reset() void {
    const sum = sumAll();
    const put = ThreadCounters.put;
    put(&reset_base.alloc_count, sum.alloc_count);
    put(&reset_base.free_count, sum.free_count);
    put(&reset_base.total_bytes, sum.total_bytes);
    put(&reset_base.foreign_count, sum.foreign_count);
    put(&reset_base.failed_count, sum.failed_count);
    peak.reset(sum.current_bytes, sum.live_count);
}

/// Returns the highest live bytes (out[0]) and blocks (out[1]) seen since the
/// previous call for the same scope, and starts a new interval at the
/// current values. Profilers use it to give each scope its own peak. `own`
/// is the calling thread's counters, marked busy by the caller.
pub fn markPeak(scope: abi.Scope, own: *ThreadCounters, out: *[2]f64) void {
    switch (scope) {
        .all => {
            const sum = sumAll();
            const marks = peak.markAll(sum.current_bytes, sum.live_count);
            out.* = .{ @floatFromInt(@max(marks[0], sum.current_bytes)), @floatFromInt(@max(marks[1], sum.live_count)) };
        },
        .current_thread => {
            out.* = .{ @floatFromInt(own.mark_peak_bytes), @floatFromInt(own.mark_peak_live) };
            ThreadCounters.put(&own.peak_bytes, own.peakBytes());
            ThreadCounters.put(&own.peak_live_count, own.peakLive());
            ThreadCounters.put(&own.mark_peak_bytes, own.current_bytes);
            ThreadCounters.put(&own.mark_peak_live, own.live_count);
        },
    }
}

const testing = std.testing;

fn readField(out: *const [abi.stats_fields_count]f64, field: abi.StatsField) f64 {
    return out[@backingInt(field)];
}

test "realloc growth adds the delta to total bytes and a shrink adds nothing" {
    var counters: ThreadCounters = .{};
    counters.countAlloc(0, 100, 1);
    counters.countAlloc(100, 300, 0);
    counters.countAlloc(300, 50, 0);
    try testing.expectEqual(@as(u64, 3), counters.alloc_count);
    try testing.expectEqual(@as(u64, 300), counters.total_bytes);
    try testing.expectEqual(@as(i64, 50), counters.current_bytes);
    try testing.expectEqual(@as(i64, 300), counters.peakBytes());
    try testing.expectEqual(@as(i64, 1), counters.live_count);
}

test "a fresh block counts as an allocation from nothing" {
    var fresh: ThreadCounters = .{};
    var general: ThreadCounters = .{};
    for ([_]u64{ 0, 16, 100_000, 7 }) |bytes| {
        fresh.countFresh(bytes);
        general.countAlloc(0, bytes, 1);
    }
    try testing.expectEqual(general, fresh);
}

test "free lowers current bytes and live count but not the peaks" {
    var counters: ThreadCounters = .{};
    counters.countAlloc(0, 64, 1);
    counters.countAlloc(0, 32, 1);
    counters.countFree(64);
    try testing.expectEqual(@as(i64, 32), counters.current_bytes);
    try testing.expectEqual(@as(i64, 1), counters.live_count);
    try testing.expectEqual(@as(i64, 96), counters.peakBytes());
    try testing.expectEqual(@as(i64, 2), counters.peakLive());
}

test "markPeak reports the interval's high-water mark and restarts at current" {
    var own: ThreadCounters = .{};
    var mark: [2]f64 = undefined;
    markPeak(.current_thread, &own, &mark);
    own.countAlloc(0, 1000, 1);
    own.countFree(1000);
    markPeak(.current_thread, &own, &mark);
    try testing.expectEqual(@as(f64, 1000), mark[0]);
    markPeak(.current_thread, &own, &mark);
    try testing.expectEqual(@as(f64, 0), mark[0]);
    try testing.expectEqual(@as(i64, 1000), own.peakBytes());
}

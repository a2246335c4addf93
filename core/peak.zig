//! The process's live bytes and blocks and their high-water marks: the one
//! peak algorithm behind the all-threads counters, `Profiler` scope peaks
//! (`markPeak`), the site table's at-peak values and the DHAT writer.
//!
//! Each thread counts on its own record and folds the change of its live
//! values into `shared` once it has drifted by `flush_bytes` or
//! `flush_blocks` (shared atomics on every event measured 6x slower at two
//! threads), and when its record is released at thread exit. Every fold
//! compares the folded sum with the peak, and every all-threads read
//! compares the exact sum too.
//!
//! Error bound. At any moment the true live bytes are `shared` plus each
//! claimed record's unfolded drift, and every drift is below `flush_bytes`
//! in size. So the all-threads peak is within `flush_bytes` x (records
//! claimed at the peak moment) of the true peak, in both directions — per
//! live thread that has allocated, not per thread ever seen: an exited
//! thread's drift is folded when its record is released. The same holds
//! for blocks with `flush_blocks`. A thread's own peak is exact.
//!
//! A new peak also starts a new epoch: the site table copies a site's live
//! values into its at-peak values the first time the site is touched in a
//! newer epoch (its values until then are those of the peak moment), so the
//! sites' bytes at peak describe the moment this tracker chose.

const std = @import("std");
const event_clock = @import("event_clock.zig");
const timeline = @import("timeline.zig");

/// A thread's change of live bytes folded into the shared sum past this
/// (either way). 64 KiB: one fold per 64 KiB, far below the cost of the
/// hook, and an error bound small beside any heap worth profiling.
pub const flush_bytes: i64 = 64 * 1024;
/// The same for live blocks.
pub const flush_blocks: i64 = 64;

const Shared = struct {
    current_bytes: std.atomic.Value(i64) = .init(0),
    live_count: std.atomic.Value(i64) = .init(0),
    peak_bytes: std.atomic.Value(i64) = .init(0),
    peak_live_count: std.atomic.Value(i64) = .init(0),
    /// High-water marks since the last all-threads `markAll`.
    mark_bytes: std.atomic.Value(i64) = .init(0),
    mark_live: std.atomic.Value(i64) = .init(0),
    /// Bumped on each new byte peak (see above); starts at 1 so that a
    /// zeroed site lane reads as "untouched since the peak".
    epoch: std.atomic.Value(u64) = .init(1),
    /// The event-clock time of the latest byte peak (DHAT's t-gmax), and
    /// the blocks live then (`peak_live_count` is their own maximum).
    peak_time: std.atomic.Value(u64) = .init(0),
    blocks_at_peak: std.atomic.Value(i64) = .init(0),
};

var shared: Shared = .{};

/// True when a drift must be folded now.
pub inline fn mustFold(drift_bytes: i64, drift_blocks: i64) bool {
    // |d| >= flush as one unsigned compare each: d + (flush - 1) lands
    // outside [0, 2 flush - 2] exactly when it is.
    const bytes_out = @as(u64, @bitCast(drift_bytes +% (flush_bytes - 1))) > 2 * flush_bytes - 2;
    const blocks_out = @as(u64, @bitCast(drift_blocks +% (flush_blocks - 1))) > 2 * flush_blocks - 2;
    return bytes_out or blocks_out;
}

/// Adds one thread's drift to the shared sums and raises the peaks.
pub fn fold(bytes: i64, blocks: i64) void {
    const current = shared.current_bytes.fetchAdd(bytes, .monotonic) + bytes;
    const live = shared.live_count.fetchAdd(blocks, .monotonic) + blocks;
    raise(current, live);
    timeline.sample(current, live);
}

/// Compares the folded sums plus the calling thread's unfolded drift with
/// the peak. With call sites on, every allocation does this (two loads of
/// read-mostly lines), so the process peak and the sites' bytes at peak are
/// exact while one thread allocates; the bound above still holds for the
/// other threads' drift.
pub inline fn raiseWithDrift(drift_bytes: i64, drift_blocks: i64) void {
    const bytes = shared.current_bytes.load(.monotonic) + drift_bytes;
    if (bytes <= shared.peak_bytes.load(.monotonic)) return;
    raise(bytes, shared.live_count.load(.monotonic) + drift_blocks);
}

/// Raises every high-water mark to (`bytes`, `blocks`): a folded sum, or an
/// exact all-threads sum.
pub fn raise(bytes: i64, blocks: i64) void {
    _ = shared.peak_live_count.fetchMax(blocks, .monotonic);
    _ = shared.mark_live.fetchMax(blocks, .monotonic);
    _ = shared.mark_bytes.fetchMax(bytes, .monotonic);
    if (bytes <= shared.peak_bytes.load(.monotonic)) return;
    if (shared.peak_bytes.fetchMax(bytes, .monotonic) >= bytes) return;
    shared.peak_time.store(event_clock.elapsed(), .monotonic);
    shared.blocks_at_peak.store(blocks, .monotonic);
    _ = shared.epoch.fetchAdd(1, .acq_rel);
}

/// The all-threads peaks, given the exact sums of now (bytes, blocks).
pub fn peaks(bytes_now: i64, blocks_now: i64) [2]i64 {
    raise(bytes_now, blocks_now);
    timeline.sampleExact(bytes_now, blocks_now);
    return .{ shared.peak_bytes.load(.monotonic), shared.peak_live_count.load(.monotonic) };
}

/// Restarts the peaks at the exact sums of now.
pub fn reset(bytes_now: i64, blocks_now: i64) void {
    shared.peak_bytes.store(bytes_now, .monotonic);
    shared.peak_live_count.store(blocks_now, .monotonic);
    shared.peak_time.store(event_clock.elapsed(), .monotonic);
    shared.blocks_at_peak.store(blocks_now, .monotonic);
    _ = shared.epoch.fetchAdd(1, .acq_rel);
    timeline.restart();
}

/// The highest (bytes, blocks) since the previous call, given the exact
/// sums of now; starts a new interval there.
pub fn markAll(bytes_now: i64, blocks_now: i64) [2]i64 {
    raise(bytes_now, blocks_now);
    timeline.sampleExact(bytes_now, blocks_now);
    return .{ shared.mark_bytes.swap(bytes_now, .monotonic), shared.mark_live.swap(blocks_now, .monotonic) };
}

pub inline fn epoch() u64 {
    return shared.epoch.load(.acquire);
}

pub fn peakTime() u64 {
    return shared.peak_time.load(.monotonic);
}

pub fn blocksAtPeak() i64 {
    return shared.blocks_at_peak.load(.monotonic);
}

/// The folded sums (without the drift of claimed records).
pub fn folded() [2]i64 {
    return .{ shared.current_bytes.load(.monotonic), shared.live_count.load(.monotonic) };
}

const testing = std.testing;

test "a fold past the peak raises it and starts a new epoch; a smaller one does not" {
    const before = epoch();
    const base = folded();
    fold(1 << 40, 1);
    const first = peaks(base[0] + (1 << 40), base[1] + 1);
    try testing.expectEqual(base[0] + (1 << 40), first[0]);
    try testing.expect(epoch() > before);
    const after_peak = epoch();
    fold(-(1 << 40), -1);
    fold(1000, 1);
    try testing.expectEqual(after_peak, epoch());
    try testing.expectEqual(first[0], peaks(base[0] + 1000, base[1] + 1)[0]);
    fold(-1000, -1);
}

test "mustFold is true exactly when a drift reaches the threshold either way" {
    const cases = [_][2]i64{ .{ 0, 0 }, .{ flush_bytes - 1, 0 }, .{ -(flush_bytes - 1), flush_blocks - 1 }, .{ 0, -(flush_blocks - 1) } };
    for (cases) |case| try testing.expect(!mustFold(case[0], case[1]));
    const folds = [_][2]i64{ .{ flush_bytes, 0 }, .{ -flush_bytes, 0 }, .{ 0, flush_blocks }, .{ 0, -flush_blocks }, .{ std.math.maxInt(i64), 0 }, .{ std.math.minInt(i64) + 1, 0 } };
    for (folds) |case| try testing.expect(mustFold(case[0], case[1]));
}

test "markAll reports the interval's high-water mark and restarts at now" {
    const base = folded();
    _ = markAll(base[0], base[1]);
    fold(5000, 2);
    fold(-5000, -2);
    const mark = markAll(base[0], base[1]);
    try testing.expectEqual(base[0] + 5000, mark[0]);
    try testing.expectEqual(base[1] + 2, mark[1]);
    try testing.expectEqual(base[0], markAll(base[0], base[1])[0]);
}

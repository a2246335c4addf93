//! Memory over time: the process's live bytes and blocks sampled where they
//! are already summed, never on the allocation hot path. A sample is taken
//! when a thread folds its drift into the shared sums (`peak.fold`, once
//! per `peak.flush_bytes` or `peak.flush_blocks` of change) and the sum has
//! moved by `moved_bytes_min` since the last sample or is the highest, each
//! time a reader sums every thread exactly (`peak.peaks`, `peak.markAll`)
//! and when the timeline is read. So a point is as exact as the folded
//! sums: within `peak.flush_bytes` per live thread (`peak.zig`). Without
//! call sites those are also the only places the peak is raised, so the
//! highest sample is the peak, with its wall time.
//!
//! Two series of the same samples, one over the allocation clock
//! (`event_clock.zig`) and one over wall time (CLOCK_MONOTONIC), each a
//! fixed array of `points_max` intervals of equal width. A sample lands in
//! its interval and stays only if it holds more bytes than the one already
//! there, so each point is its interval's highest sample. When a sample
//! falls past the last interval, the series halves its resolution: pairs
//! of intervals merge, keeping the higher, and the width doubles. Memory
//! is fixed (`points_max` x 2 x 32 bytes) and the highest sample is never
//! dropped, whatever the run's length.
//!
//! The peak itself is `peak.zig`'s: it may be chosen between samples (with
//! call sites on, every allocation offers it), so readers get it as its
//! own point (`peak_*` values) and insert it where its event time falls.
//!
//! Concurrency: one lock. A fold only tries it: a fold sample that finds
//! it taken is dropped and counted (`skipped`), since a fold must never
//! wait. Readers wait their turn, boundedly (`lockForRead`). After fork the
//! child's lock is released by `afterForkChild`.

const std = @import("std");
const event_clock = @import("event_clock.zig");
const SpinLock = @import("SpinLock.zig");
const monotonicNs = @import("wall_clock.zig").monotonicNs;
const counters = @import("counters.zig");
const peak = @import("peak.zig");
const site_history = @import("site_history.zig");

/// Intervals per series. 512: a chart 1,000 pixels wide gets a point every
/// two pixels or better, and both series fit in 32 KiB of static memory.
pub const points_max = 512;

/// Each interval's highest sample: when it was taken (allocation clock and
/// wall nanoseconds since the timeline started) and the live values then.
pub const Point = struct {
    events: u64 = 0,
    wall_ns: u64 = 0,
    bytes: i64 = empty_bytes,
    blocks: i64 = 0,

    fn isEmpty(point: Point) bool {
        return point.bytes == empty_bytes;
    }
};

/// No sample in this interval yet (live bytes are never this low).
const empty_bytes = std.math.minInt(i64);

/// One series: `points[i]` covers keys [origin + i x width, origin + (i+1) x width).
const Series = struct {
    /// The narrowest interval: the series starts at this resolution.
    width_initial: u64,
    width: u64,
    points: [points_max]Point = @splat(.{}),
    /// Intervals in use: those below hold samples or lie between samples.
    used: u32 = 0,

    fn restart(series: *Series) void {
        series.* = .{ .width_initial = series.width_initial, .width = series.width_initial };
    }

    /// Puts `point` in the interval of `key` (its offset from the origin).
    fn add(series: *Series, key: u64, point: Point) void {
        std.debug.assert(series.width >= series.width_initial and series.used <= points_max);
        var index = key / series.width;
        // Each halving doubles the width: at most 64 rounds for a u64 key.
        while (index >= points_max) {
            series.halve();
            index = key / series.width;
        }
        const slot = &series.points[@intCast(index)];
        if (slot.isEmpty() or point.bytes > slot.bytes) slot.* = point;
        series.used = @max(series.used, @as(u32, @intCast(index)) + 1);
        std.debug.assert(series.used <= points_max);
    }

    /// Merges intervals pairwise (the higher sample of each pair stays) and
    /// doubles the width.
    fn halve(series: *Series) void {
        for (0..points_max / 2) |i| {
            const left = series.points[2 * i];
            const right = series.points[2 * i + 1];
            const keep_right = left.isEmpty() or (!right.isEmpty() and right.bytes > left.bytes);
            series.points[i] = if (keep_right) right else left;
        }
        for (points_max / 2..points_max) |i| series.points[i] = .{};
        series.used = (series.used + 1) / 2;
        series.width *|= 2;
    }
};

const State = struct {
    /// Tried, never waited on, by folds; waited on boundedly by readers
    /// (see the file's comment).
    lock: SpinLock = .{},
    /// Wall time starts at the first sample (the library has no clock of
    /// its own before); the allocation clock at 0, as DHAT's times do,
    /// until a restart moves both origins to the restart.
    started: bool = false,
    origin_events: u64 = 0,
    origin_ns: u64 = 0,
    /// One allocation event is the finest resolution the clock has.
    by_events: Series = .{ .width_initial = 1, .width = 1 },
    /// 1 µs: finer than any fold rate seen, so early points are not merged
    /// before the run has shown its length.
    by_wall: Series = .{ .width_initial = 1000, .width = 1000 },
    /// The highest sample since the start: the peak's wall time when the
    /// peak was chosen at a sample.
    highest: Point = .{},
    /// The last sample's bytes and the highest's, for `sample`'s check
    /// without the lock (written under it).
    last_bytes: std.atomic.Value(i64) = .init(0),
    highest_bytes: std.atomic.Value(i64) = .init(empty_bytes),
    /// Samples dropped because another thread was sampling.
    skipped: std.atomic.Value(u64) = .init(0),
};

var state: State = .{};

/// A fold whose sum is within this of the last sample, and not above the
/// highest, adds nothing a chart can show: it returns after two loads,
/// without the clock or the lock. A program that churns blocks around a
/// level (64 mallocs then 64 frees) folds every 64 events; sampling each
/// such fold measured 5-11% on that loop, skipping them keeps it at the
/// cost of the fold alone. A point is within `peak.flush_bytes` per thread
/// anyway, so nothing finer is lost.
const moved_bytes_min = peak.flush_bytes;

/// Records the folded sums of now. Called from the fold path: never waits.
pub fn sample(bytes: i64, blocks: i64) void {
    site_history.offer(bytes);
    const near_last = @abs(bytes -| state.last_bytes.load(.monotonic)) < moved_bytes_min;
    if (near_last and bytes <= state.highest_bytes.load(.monotonic)) return;
    if (!state.lock.tryLock()) {
        _ = state.skipped.fetchAdd(1, .monotonic);
        return;
    }
    defer state.lock.unlock();
    sampleLocked(bytes, blocks, event_clock.elapsed(), monotonicNs());
}

/// Records the exact sums a reader took (off the allocation path): waits
/// its turn, boundedly, so that a peak chosen at a read is never lost to
/// a fold sampling at the same moment.
pub fn sampleExact(bytes: i64, blocks: i64) void {
    if (!lockForRead()) {
        _ = state.skipped.fetchAdd(1, .monotonic);
        return;
    }
    defer state.lock.unlock();
    sampleLocked(bytes, blocks, event_clock.elapsed(), monotonicNs());
}

fn sampleLocked(bytes: i64, blocks: i64, events: u64, now_ns: u64) void {
    if (!state.started) {
        state.started = true;
        state.origin_ns = now_ns;
    }
    const point: Point = .{
        .events = events -| state.origin_events,
        .wall_ns = now_ns -| state.origin_ns,
        .bytes = bytes,
        .blocks = blocks,
    };
    if (state.highest.isEmpty() or point.bytes > state.highest.bytes) {
        state.highest = point;
        state.highest_bytes.store(bytes, .monotonic);
    }
    state.last_bytes.store(bytes, .monotonic);
    state.by_events.add(point.events, point);
    state.by_wall.add(point.wall_ns, point);
}

/// Starts over (after the counters' reset): the peak restarts there too.
/// Waits for a sampler, which holds the lock for a few hundred nanoseconds.
pub fn restart() void {
    // First, and not under this lock: a reader takes the history's lock,
    // then this one (boundedly).
    site_history.restart();
    state.lock.lock();
    defer state.lock.unlock();
    state.started = false;
    state.origin_events = event_clock.elapsed();
    state.highest = .{};
    state.highest_bytes.store(empty_bytes, .monotonic);
    state.by_events.restart();
    state.by_wall.restart();
}

/// In the child after fork: the thread that held the lock is gone.
pub fn afterForkChild() void {
    state.lock.forceUnlock();
    site_history.afterForkChild();
}

/// f64 values `read` writes before the two series: see `Header`.
pub const header_values = @typeInfo(Header).@"enum".field_names.len;
/// Values per point: event time, wall ns, bytes, blocks.
pub const point_values = 4;
/// Snapshot slots after the series: the kept ones, the peak's, the end's.
pub const snapshot_slots = site_history.snapshots_max + 2;
/// Where the snapshots start in `read`'s output.
const snapshots_start = header_values + 2 * points_max * point_values;
/// Everything `read` writes.
pub const values_count = snapshots_start + snapshot_slots * site_history.snapshot_values;

/// The header's fields, in order (`ffi/timeline.ts` reads them by name).
pub const Header = enum(u32) {
    points_max,
    skipped,
    events_used,
    events_width,
    wall_used,
    wall_width_ns,
    /// The peak `peak.zig` chose: event time (since the origin), bytes,
    /// the blocks live at that moment, and its wall time when a sample
    /// caught it (else -1: it was chosen between samples, with call sites).
    peak_events,
    peak_bytes,
    peak_blocks,
    peak_wall_ns,
    /// The read's own exact sample: the live values at the end of the series.
    now_events,
    now_wall_ns,
    now_bytes,
    now_blocks,
    /// The origin on the allocation clock, and in CLOCK_MONOTONIC ns.
    origin_events,
    origin_ns,
    /// Site snapshots (`site_history.zig`) after the two series: how many
    /// (the kept ones, then the peak's and the end's; 0 without call
    /// sites), the slots written (`snapshot_slots`), sites per snapshot
    /// (each snapshot is 7 + 3 x that values), the interval between them
    /// in events, the longest walk of the site table in ns, and the walks
    /// abandoned at `site_history.walk_ns_limit`.
    snapshots_used,
    snapshot_slots,
    snapshot_top_max,
    snapshot_interval_events,
    snapshot_walk_ns_max,
    snapshot_walks_abandoned,
};

/// The peak as the counters know it, passed in by the reader.
pub const PeakNow = struct { bytes: i64, blocks: i64, events: u64 };

/// What a reader gets besides the series (taken with the lock held).
const Summary = struct {
    now: Point,
    peak: PeakNow,
    /// -1 when no sample caught the peak.
    peak_wall_ns: i64,
};

/// Takes the reader's final sample (the exact sums of now); lock held.
fn finish(now_bytes: i64, now_blocks: i64, peak_now: PeakNow) Summary {
    std.debug.assert(state.lock.heldByCaller());
    const now_events = event_clock.elapsed();
    const now_ns = monotonicNs();
    sampleLocked(now_bytes, now_blocks, now_events, now_ns);
    const now: Point = .{
        .events = now_events -| state.origin_events,
        .wall_ns = now_ns -| state.origin_ns,
        .bytes = now_bytes,
        .blocks = now_blocks,
    };
    const caught = !state.highest.isEmpty() and state.highest.bytes == peak_now.bytes;
    return .{
        .now = now,
        .peak = .{ .bytes = peak_now.bytes, .blocks = peak_now.blocks, .events = peak_now.events -| state.origin_events },
        .peak_wall_ns = if (caught) @intCast(state.highest.wall_ns) else -1,
    };
}

/// Attempts at the lock before a reader gives up. A sampler holds it for
/// a few hundred nanoseconds, so only a sampler that can never finish is
/// waited out: this very thread, interrupted inside `sample` by the signal
/// whose handler writes the report. The reader then reports no timeline
/// rather than hang the process.
const read_attempts_max = 1 << 16;

fn lockForRead() bool {
    return state.lock.lockBounded(read_attempts_max);
}

/// The site history held for a read (`site_history.holdForRead`), taken
/// before the timeline's lock: the read's walk of the site table takes
/// milliseconds, and folds would drop their samples meanwhile.
fn holdSites(now_bytes: i64, peak_now: PeakNow) ?site_history.Held {
    return site_history.holdForRead(now_bytes, peak_now.events, peak_now.bytes);
}

/// The peak's wall time, known once the timeline's lock is held (-1: unknown).
fn placePeak(held: site_history.Held, summary: Summary) void {
    held.at_peak.wall_ns = if (summary.peak_wall_ns < 0) -1 else @intCast(state.origin_ns + @as(u64, @intCast(summary.peak_wall_ns)));
}

/// Takes a final sample of the exact sums of now, then writes the header,
/// both series (see `writeSeries`) and the site snapshots into `out`.
pub fn read(now_bytes: i64, now_blocks: i64, peak_now: PeakNow, out: *[values_count]f64) void {
    // points_max 0 (a lock not taken): the reader says the timeline could not be read.
    @memset(out, 0);
    const held = holdSites(now_bytes, peak_now);
    defer if (held != null) site_history.release();
    if (!lockForRead()) return;
    defer state.lock.unlock();
    const summary = finish(now_bytes, now_blocks, peak_now);
    const values = [header_values]u64{
        points_max,                    state.skipped.load(.monotonic),
        state.by_events.used,          state.by_events.width,
        state.by_wall.used,            state.by_wall.width,
        summary.peak.events,           @bitCast(summary.peak.bytes),
        @bitCast(summary.peak.blocks), @bitCast(summary.peak_wall_ns),
        summary.now.events,            summary.now.wall_ns,
        @bitCast(summary.now.bytes),   @bitCast(summary.now.blocks),
        state.origin_events,           state.origin_ns,
        0,                             snapshot_slots,
        site_history.top_max,          0,
        0,                             0,
    };
    for (values, 0..) |value, i| {
        const signed = switch (@as(Header, @fromBackingInt(@intCast(i)))) {
            .peak_bytes, .peak_blocks, .peak_wall_ns, .now_bytes, .now_blocks => true,
            else => false,
        };
        out[i] = if (signed) @floatFromInt(@as(i64, @bitCast(value))) else @floatFromInt(value);
    }
    writeSeries(&state.by_events, out[header_values..][0 .. points_max * point_values]);
    writeSeries(&state.by_wall, out[header_values + points_max * point_values ..][0 .. points_max * point_values]);
    if (held) |sites| {
        placePeak(sites, summary);
        writeSnapshots(sites, out);
    }
}

/// The kept snapshots, then the peak's and the end's, and their header fields.
fn writeSnapshots(held: site_history.Held, out: *[values_count]f64) void {
    const values = site_history.snapshot_values;
    var used: u32 = 0;
    const write = struct {
        fn one(snapshot: *const site_history.Snapshot, slot: u32, all: *[values_count]f64) void {
            std.debug.assert(slot < snapshot_slots);
            site_history.writeValues(snapshot, state.origin_events, state.origin_ns, all[snapshots_start + slot * values ..][0..values]);
        }
    }.one;
    for (held.snapshots) |*snapshot| {
        if (snapshot.events < state.origin_events) continue; // before a reset
        write(snapshot, used, out);
        used += 1;
    }
    out[@backingInt(Header.snapshot_interval_events)] = @floatFromInt(held.interval_events);
    out[@backingInt(Header.snapshot_walk_ns_max)] = @floatFromInt(held.walk_ns_max);
    out[@backingInt(Header.snapshot_walks_abandoned)] = @floatFromInt(held.walks_abandoned);
    write(held.at_peak, used, out);
    write(held.end, used + 1, out);
    out[@backingInt(Header.snapshots_used)] = @floatFromInt(used + 2);
}

/// Empty intervals between samples are written with bytes -1: the reader
/// skips them (nothing was folded then, so the value did not move by more
/// than the drift bound).
fn writeSeries(series: *const Series, out: []f64) void {
    std.debug.assert(out.len == points_max * point_values);
    @memset(out, 0);
    for (series.points[0..series.used], 0..) |point, i| {
        const values = out[i * point_values ..][0..point_values];
        if (point.isEmpty()) {
            values[2] = -1;
            continue;
        }
        values.* = .{ @floatFromInt(point.events), @floatFromInt(point.wall_ns), @floatFromInt(point.bytes), @floatFromInt(point.blocks) };
    }
}

/// Writes the timeline as a JSON object (the DHAT file's
/// `modAlloc.timeline`) through `out`, which has `text` and `print` as the
/// DHAT writer's output does. Empty intervals are left out.
pub fn writeJson(out: anytype, now_bytes: i64, now_blocks: i64, peak_now: PeakNow) void {
    const held = holdSites(now_bytes, peak_now);
    defer if (held != null) site_history.release();
    if (!lockForRead()) return out.text("null");
    defer state.lock.unlock();
    const summary = finish(now_bytes, now_blocks, peak_now);
    out.print("{{\"pointsMax\":{d},\"skipped\":{d},", .{ points_max, state.skipped.load(.monotonic) });
    out.print("\"eventsWidth\":{d},\"wallWidthNs\":{d},", .{ state.by_events.width, state.by_wall.width });
    out.print("\"peak\":[{d},{d},{d},{d}],", .{ summary.peak.events, summary.peak.bytes, summary.peak.blocks, summary.peak_wall_ns });
    out.print("\"now\":[{d},{d},{d},{d}],", .{ summary.now.events, summary.now.wall_ns, summary.now.bytes, summary.now.blocks });
    out.text("\"byEvents\":");
    writeSeriesJson(out, &state.by_events);
    out.text(",\"byWall\":");
    writeSeriesJson(out, &state.by_wall);
    out.text(",\"sites\":");
    if (held) |sites| {
        placePeak(sites, summary);
        writeSnapshotsJson(out, sites);
    } else out.text("null");
    out.text("}");
}

/// `modAlloc.timeline.sites`: the snapshots as `site_history.writeJson`
/// writes them, the kept ones first, then the peak's and the end's.
fn writeSnapshotsJson(out: anytype, held: site_history.Held) void {
    out.print("{{\"topMax\":{d},", .{site_history.top_max});
    out.print("\"intervalEvents\":{d},\"walkNsMax\":{d},", .{ held.interval_events, held.walk_ns_max });
    out.print("\"walksAbandoned\":{d},\"snapshots\":[", .{held.walks_abandoned});
    for (held.snapshots) |*snapshot| {
        if (snapshot.events < state.origin_events) continue; // before a reset
        site_history.writeJson(out, snapshot, state.origin_events, state.origin_ns);
        out.text(",");
    }
    site_history.writeJson(out, held.at_peak, state.origin_events, state.origin_ns);
    out.text(",");
    site_history.writeJson(out, held.end, state.origin_events, state.origin_ns);
    out.text("]}");
}

fn writeSeriesJson(out: anytype, series: *const Series) void {
    out.text("[");
    var first = true;
    for (series.points[0..series.used]) |point| {
        if (point.isEmpty()) continue;
        out.text(if (first) "[" else ",[");
        first = false;
        out.print("{d},{d},{d},{d}]", .{ point.events, point.wall_ns, point.bytes, point.blocks });
    }
    out.text("]");
}

/// The exact all-threads sums of now and the counters' peak.
const ReaderInputs = struct { bytes: i64, blocks: i64, peak: PeakNow };

fn readerInputs() ReaderInputs {
    const now = counters.currentAll();
    const peaks = peak.peaks(now[0], now[1]);
    return .{ .bytes = now[0], .blocks = now[1], .peak = .{
        .bytes = @max(peaks[0], now[0]),
        .blocks = peak.blocksAtPeak(),
        .events = peak.peakTime(),
    } };
}

/// The DHAT writer's `modAlloc.timeline`, as of now.
pub fn writeJsonNow(out: anytype) void {
    const inputs = readerInputs();
    writeJson(out, inputs.bytes, inputs.blocks, inputs.peak);
}

fn exportedValuesCount() callconv(.c) u32 {
    return values_count;
}

/// Fills `out` (`values_count` f64: header, then both series) as of now.
fn exportedRead(out: *[values_count]f64) callconv(.c) void {
    const inputs = readerInputs();
    read(inputs.bytes, inputs.blocks, inputs.peak, out);
}

comptime {
    @export(&exportedValuesCount, .{ .name = "mod_alloc_timeline_values_count" });
    @export(&exportedRead, .{ .name = "mod_alloc_timeline" });
}

const testing = std.testing;

test "a series that fills up halves its resolution and keeps each interval's highest sample" {
    var series: Series = .{ .width_initial = 1, .width = 1 };
    var highest: i64 = 0;
    var prng = std.Random.DefaultPrng.init(13);
    const random = prng.random();
    const samples = 10 * points_max;
    for (0..samples) |key| {
        const bytes = random.intRangeAtMost(i64, 0, 1 << 30);
        highest = @max(highest, bytes);
        series.add(key, .{ .events = key, .bytes = bytes });
    }
    try testing.expect(series.used <= points_max);
    try testing.expect(series.width >= samples / points_max);
    var seen_max: i64 = empty_bytes;
    var previous_key: u64 = 0;
    for (series.points[0..series.used], 0..) |point, i| {
        try testing.expect(!point.isEmpty());
        // Each point lies inside its interval, and points are in time order.
        try testing.expect(point.events / series.width == i);
        try testing.expect(point.events >= previous_key);
        previous_key = point.events;
        seen_max = @max(seen_max, point.bytes);
    }
    try testing.expectEqual(highest, seen_max);
}

test "a single huge key is placed without overflow and far intervals stay empty" {
    var series: Series = .{ .width_initial = 1000, .width = 1000 };
    series.add(0, .{ .bytes = 5 });
    series.add(std.math.maxInt(u64), .{ .bytes = 7 });
    try testing.expect(series.used <= points_max);
    try testing.expectEqual(@as(i64, 7), series.points[series.used - 1].bytes);
}

test "read takes a final sample and reports the peak it is given" {
    restart();
    sample(100, 1);
    sample(300, 3);
    sample(50, 1);
    var out: [values_count]f64 = undefined;
    read(20, 1, .{ .bytes = 300, .blocks = 3, .events = event_clock.elapsed() }, &out);
    try testing.expectEqual(@as(f64, 20), out[@backingInt(Header.now_bytes)]);
    const used: usize = @intFromFloat(out[@backingInt(Header.events_used)]);
    try testing.expect(used >= 1);
    var highest: f64 = 0;
    for (0..used) |i| highest = @max(highest, out[header_values + i * point_values + 2]);
    try testing.expectEqual(@as(f64, 300), highest);
    try testing.expectEqual(@as(f64, 300), out[@backingInt(Header.peak_bytes)]);
    restart();
}

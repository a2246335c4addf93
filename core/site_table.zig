//! Tier 2: allocation sites, keyed by their frame vector, in a fixed-size
//! table mapped once when backtraces are enabled (`MOD_ALLOC_BUCKETS`
//! entries). Inserts are lock-free: a thread claims an empty entry with one
//! compare-and-swap, writes the frames, then publishes it; readers wait for
//! publication. Row 0 is the overflow row: sites that find no free entry
//! within `probe_limit` steps are folded into it, so counts are never lost.
//!
//! Per-site statistics are atomics kept in `stripes` copies, one chosen by
//! the thread's counter slot, so two threads allocating at the same site do
//! not fight over one cache line; reads sum the stripes. The bytes and
//! blocks at the moment of the global peak (DHAT's t-gmax) are kept lazily:
//! a new global peak bumps an epoch, and a stripe copies its live values
//! into its at-peak values the first time it is touched in a newer epoch
//! (its values then are still those of the peak moment). Exact for one
//! thread; under concurrency the at-peak values are approximate and a
//! site's own peak is the sum of its stripes' peaks (an upper bound).

const std = @import("std");
const linux = std.os.linux;
const options = @import("options.zig");
const tick_clock = @import("tick_clock.zig");

/// Copies of each site's statistics (see above).
pub const stripes = 4;

/// Steps of linear probing before a site goes to the overflow row.
const probe_limit = 128;

const state_empty: u32 = 0;
const state_writing: u32 = 1;
const state_ready: u32 = 2;

pub const overflow_site: u32 = 0;

/// Statistics of one site. Order is the ABI of `mod_alloc_site_read`.
pub const Stats = extern struct {
    alloc_count: std.atomic.Value(u64) = .init(0),
    total_bytes: std.atomic.Value(u64) = .init(0),
    current_bytes: std.atomic.Value(i64) = .init(0),
    current_blocks: std.atomic.Value(i64) = .init(0),
    peak_bytes: std.atomic.Value(i64) = .init(0),
    peak_blocks: std.atomic.Value(i64) = .init(0),
    max_block_bytes: std.atomic.Value(u64) = .init(0),
    freed_count: std.atomic.Value(u64) = .init(0),
    /// In ticks here; `read` reports nanoseconds.
    lifetime_total: std.atomic.Value(u64) = .init(0),
    gmax_bytes: std.atomic.Value(i64) = .init(0),
    gmax_blocks: std.atomic.Value(i64) = .init(0),
    gmax_epoch: std.atomic.Value(u64) = .init(0),
    _pad: [4]u64 = @splat(0),
};

/// Values `read` reports per site, in `Stats` field order (no padding).
pub const stats_values = 12;

comptime {
    std.debug.assert(@sizeOf(Stats) == 128);
}

const Header = extern struct {
    state: std.atomic.Value(u32),
    frames_count: u32,
    hash: u64,
    _pad: [112]u8,
    stats: [stripes]Stats,
};

/// Header and stripes (cache-line multiples), then the frames.
const header_bytes = @sizeOf(Header);
comptime {
    std.debug.assert(header_bytes % 64 == 0);
}

var table: ?[*]u8 = null;
var buckets: u32 = 0;
var frames_max: u32 = 0;
var entry_bytes: usize = 0;
var used: std.atomic.Value(u32) = .init(0);
/// Allocations folded into the overflow row, and a bitmap of their sites'
/// hashes to estimate how many distinct sites overflowed.
var overflow_events: std.atomic.Value(u64) = .init(0);
var overflow_bitmap: [64]std.atomic.Value(u64) = @splat(.init(0));

/// Process-wide live bytes and peak while Tier 2 is on: exact (one shared
/// atomic per event, affordable next to a stack walk).
var global_current: std.atomic.Value(i64) = .init(0);
var global_peak: std.atomic.Value(i64) = .init(0);
var global_peak_blocks: std.atomic.Value(i64) = .init(0);
var global_blocks: std.atomic.Value(i64) = .init(0);
var peak_epoch: std.atomic.Value(u64) = .init(1);

pub fn enabled() bool {
    return @atomicLoad(?[*]u8, &table, .acquire) != null;
}

pub fn framesMax() u32 {
    return frames_max;
}

pub fn bucketsCount() u32 {
    return buckets;
}

pub fn tableBytes() usize {
    return if (enabled()) @as(usize, buckets) * entry_bytes else 0;
}

/// Maps the table. Called once (under the install lock); false when the
/// memory cannot be mapped.
pub fn enable(buckets_wanted: u32, frames_wanted: u32) bool {
    std.debug.assert(!enabled());
    std.debug.assert(buckets_wanted >= options.buckets_min and buckets_wanted <= options.buckets_max);
    std.debug.assert(frames_wanted >= 1 and frames_wanted <= options.frames_max);
    const size = header_bytes + @as(usize, frames_wanted) * @sizeOf(usize);
    const bytes = @as(usize, buckets_wanted) * size;
    const result = linux.mmap(null, bytes, .{ .READ = true, .WRITE = true }, .{ .TYPE = .PRIVATE, .ANONYMOUS = true, .NORESERVE = true }, -1, 0);
    if (linux.errno(result) != .SUCCESS) return false;
    buckets = buckets_wanted;
    frames_max = frames_wanted;
    entry_bytes = size;
    tick_clock.start();
    const base: [*]u8 = @ptrFromInt(result);
    headerAt(base, overflow_site).state.store(state_ready, .release);
    @atomicStore(?[*]u8, &table, base, .release);
    return true;
}

fn headerAt(base: [*]u8, index: u32) *Header {
    return @ptrCast(@alignCast(base + @as(usize, index) * entry_bytes));
}

fn framesAt(base: [*]u8, index: u32) [*]usize {
    return @ptrCast(@alignCast(base + @as(usize, index) * entry_bytes + header_bytes));
}

fn hashFrames(frames: []const usize) u64 {
    var hash: u64 = 0x9E3779B97F4A7C15 ^ frames.len;
    for (frames) |frame| {
        hash = (hash ^ frame) *% 0xff51afd7ed558ccd;
        hash ^= hash >> 32;
    }
    return hash | 1; // never 0, so an unwritten hash never matches
}

/// The site id of a frame vector, creating the site if needed; the
/// overflow row when the table has no room.
pub fn intern(frames: []const usize) u32 {
    const base = @atomicLoad(?[*]u8, &table, .acquire) orelse return overflow_site;
    const hash = hashFrames(frames);
    const slots = buckets - 1; // row 0 is the overflow row
    var index: u32 = @intCast(hash % slots);
    var probes: u32 = 0;
    while (probes < probe_limit and probes < slots) : (probes += 1) {
        const site = index + 1;
        const header = headerAt(base, site);
        var state = header.state.load(.acquire);
        if (state == state_empty) {
            if (header.state.cmpxchgStrong(state_empty, state_writing, .acquire, .acquire)) |now| {
                state = now;
            } else {
                header.hash = hash;
                header.frames_count = @intCast(frames.len);
                @memcpy(framesAt(base, site)[0..frames.len], frames);
                header.state.store(state_ready, .release);
                _ = used.fetchAdd(1, .monotonic);
                return site;
            }
        }
        // Another thread is writing this entry: it takes a few dozen
        // nanoseconds; wait a bounded while, then treat it as a mismatch.
        var spins: u32 = 0;
        while (state == state_writing and spins < 10_000) : (spins += 1) {
            std.atomic.spinLoopHint();
            state = header.state.load(.acquire);
        }
        if (state == state_ready and header.hash == hash and header.frames_count == frames.len and
            std.mem.eql(usize, framesAt(base, site)[0..frames.len], frames))
        {
            return site;
        }
        index = (index + 1) % slots;
    }
    _ = overflow_events.fetchAdd(1, .monotonic);
    _ = overflow_bitmap[(hash >> 6) % 64].fetchOr(@as(u64, 1) << @intCast(hash % 64), .monotonic);
    return overflow_site;
}

fn statsOf(site: u32, stripe: usize) ?*Stats {
    const base = @atomicLoad(?[*]u8, &table, .acquire) orelse return null;
    if (site >= buckets) return null;
    return &headerAt(base, site).stats[stripe % stripes];
}

/// Copies the site's live values into its at-peak values if a newer peak
/// was reached since the site last changed.
fn settlePeak(stats: *Stats) void {
    const epoch = peak_epoch.load(.acquire);
    if (stats.gmax_epoch.load(.monotonic) == epoch) return;
    stats.gmax_bytes.store(stats.current_bytes.load(.monotonic), .monotonic);
    stats.gmax_blocks.store(stats.current_blocks.load(.monotonic), .monotonic);
    stats.gmax_epoch.store(epoch, .monotonic);
}

/// Applies a change of live bytes/blocks to the global peak tracking; if
/// it sets a new peak, the causing site records its values at that peak.
fn changeGlobal(stats: *Stats, bytes: i64, blocks: i64) void {
    const current = global_current.fetchAdd(bytes, .monotonic) + bytes;
    const live = global_blocks.fetchAdd(blocks, .monotonic) + blocks;
    if (bytes <= 0 or current <= global_peak.load(.monotonic)) return;
    const previous = global_peak.fetchMax(current, .monotonic);
    if (current <= previous) return;
    global_peak_blocks.store(live, .monotonic);
    const epoch = peak_epoch.fetchAdd(1, .acq_rel) + 1;
    stats.gmax_bytes.store(stats.current_bytes.load(.monotonic), .monotonic);
    stats.gmax_blocks.store(stats.current_blocks.load(.monotonic), .monotonic);
    stats.gmax_epoch.store(epoch, .monotonic);
}

/// An allocation (or the growth/shrink of a realloc) at `site`: `events`
/// allocation events, `total` bytes added to the total, `bytes`/`blocks`
/// the change of live values, `block_bytes` the block's size now.
/// `stripe` is the caller's thread slot index.
pub fn countAlloc(site: u32, stripe: usize, total: u64, bytes: i64, blocks: i64, block_bytes: u64) void {
    const stats = statsOf(site, stripe) orelse return;
    settlePeak(stats);
    _ = stats.alloc_count.fetchAdd(1, .monotonic);
    _ = stats.total_bytes.fetchAdd(total, .monotonic);
    const current = stats.current_bytes.fetchAdd(bytes, .monotonic) + bytes;
    const live = stats.current_blocks.fetchAdd(blocks, .monotonic) + blocks;
    _ = stats.peak_bytes.fetchMax(current, .monotonic);
    _ = stats.peak_blocks.fetchMax(live, .monotonic);
    _ = stats.max_block_bytes.fetchMax(block_bytes, .monotonic);
    changeGlobal(stats, bytes, blocks);
}

/// A block of `bytes` allocated at `site` is gone after `lifetime_ticks`.
pub fn countFree(site: u32, stripe: usize, bytes: u64, lifetime_ticks: u64) void {
    const stats = statsOf(site, stripe) orelse return;
    settlePeak(stats);
    const signed: i64 = @bitCast(bytes);
    _ = stats.current_bytes.fetchSub(signed, .monotonic);
    _ = stats.current_blocks.fetchSub(1, .monotonic);
    _ = stats.freed_count.fetchAdd(1, .monotonic);
    _ = stats.lifetime_total.fetchAdd(lifetime_ticks, .monotonic);
    changeGlobal(stats, -signed, -1);
}

/// Copies site `index`'s statistics (in `Stats` field order, at-peak values
/// settled) and frames; returns the frame count, or -1 for an unused index.
pub fn read(index: u32, stats_out: *[stats_values]f64, frames_out: []u64) i32 {
    const base = @atomicLoad(?[*]u8, &table, .acquire) orelse return -1;
    if (index >= buckets) return -1;
    const header = headerAt(base, index);
    if (header.state.load(.acquire) != state_ready) return -1;
    const epoch = peak_epoch.load(.acquire);
    stats_out.* = @splat(0);
    for (&header.stats) |*stats| {
        const names = @typeInfo(Stats).@"struct".field_names;
        inline for (names[0..stats_values], 0..) |name, i| {
            stats_out[i] += @floatFromInt(@field(stats, name).load(.monotonic));
        }
        if (stats.gmax_epoch.load(.monotonic) != epoch) {
            // Untouched since the latest peak: its values then are its
            // values now.
            stats_out[9] += @as(f64, @floatFromInt(stats.current_bytes.load(.monotonic))) - @as(f64, @floatFromInt(stats.gmax_bytes.load(.monotonic)));
            stats_out[10] += @as(f64, @floatFromInt(stats.current_blocks.load(.monotonic))) - @as(f64, @floatFromInt(stats.gmax_blocks.load(.monotonic)));
        }
    }
    stats_out[8] *= tick_clock.nsPerTick();
    stats_out[11] = 0; // the epoch means nothing outside
    const count = @min(header.frames_count, frames_out.len);
    for (framesAt(base, index)[0..count], frames_out[0..count]) |frame, *out| out.* = frame;
    return @intCast(count);
}

/// Allocation events and total bytes summed over every site (the overflow
/// row included): equal to the Tier 1 counts made while sites were on.
pub fn totals(out: *[2]f64) void {
    out.* = .{ 0, 0 };
    const base = @atomicLoad(?[*]u8, &table, .acquire) orelse return;
    for (0..buckets) |index| {
        const header = headerAt(base, @intCast(index));
        if (header.state.load(.acquire) != state_ready) continue;
        for (&header.stats) |*stats| {
            out[0] += @floatFromInt(stats.alloc_count.load(.monotonic));
            out[1] += @floatFromInt(stats.total_bytes.load(.monotonic));
        }
    }
}

/// Summary values for a report, in this order: used sites, overflow
/// events, estimated distinct overflowed sites, global peak bytes, global
/// peak blocks, global live bytes, global live blocks, buckets, frames_max.
pub const summary_values = 9;

pub fn summary(out: *[summary_values]f64) void {
    var zero_bits: u32 = 0;
    for (&overflow_bitmap) |*word| zero_bits += @popCount(~word.load(.monotonic));
    // Linear counting: n ~ -m ln(zero fraction), m = 4096 bits.
    const bits: f64 = 64 * 64;
    const zeros: f64 = @floatFromInt(zero_bits);
    const distinct: f64 = if (zero_bits == 0) bits else if (zeros == bits) 0 else -bits * @log(zeros / bits);
    out.* = .{
        @floatFromInt(used.load(.monotonic)),
        @floatFromInt(overflow_events.load(.monotonic)),
        @round(distinct),
        @floatFromInt(global_peak.load(.monotonic)),
        @floatFromInt(global_peak_blocks.load(.monotonic)),
        @floatFromInt(global_current.load(.monotonic)),
        @floatFromInt(global_blocks.load(.monotonic)),
        @floatFromInt(buckets),
        @floatFromInt(frames_max),
    };
}

const testing = std.testing;

fn testEnable() void {
    if (!enabled()) std.debug.assert(enable(64, 4));
}

test "the same frames give the same site and other frames another" {
    testEnable();
    const a = intern(&.{ 0x1000, 0x2000 });
    const b = intern(&.{ 0x1000, 0x3000 });
    try testing.expect(a != overflow_site and b != overflow_site and a != b);
    try testing.expectEqual(a, intern(&.{ 0x1000, 0x2000 }));
}

test "bytes at the global peak are those of the peak moment" {
    testEnable();
    const a = intern(&.{ 0x5150, 1 });
    const b = intern(&.{ 0x5150, 2 });
    try testing.expect(a != overflow_site and b != overflow_site);
    var stats: [stats_values]f64 = undefined;
    var frames: [4]u64 = undefined;
    const peak_before = global_peak.load(.monotonic);
    const lift: i64 = peak_before - global_current.load(.monotonic) + 1000;
    countAlloc(a, 0, @intCast(lift), lift, 1, @intCast(lift)); // new global peak: a holds `lift`
    countAlloc(b, 0, 10, 10, 1, 10); // peak + 10: b holds 10 at the new peak
    countFree(a, 0, @intCast(lift), 5);
    _ = read(a, &stats, &frames);
    try testing.expectEqual(@as(f64, @floatFromInt(lift)), stats[9]);
    _ = read(b, &stats, &frames);
    try testing.expectEqual(@as(f64, 10), stats[9]);
    try testing.expectEqual(@as(f64, 1), stats[10]);
}

test "a full table folds new sites into the overflow row and keeps every count" {
    testEnable();
    var total_counted: u64 = 0;
    var stats_probe: [stats_values]f64 = undefined;
    var frames_probe: [4]u64 = undefined;
    for (0..200) |i| {
        const site = intern(&.{ 0xabc000 + i, 0x77 });
        countAlloc(site, 0, 10, 10, 1, 10);
        total_counted += 10;
        try testing.expect(read(site, &stats_probe, &frames_probe) >= 0);
    }
    var sum: f64 = 0;
    var stats: [stats_values]f64 = undefined;
    var frames: [4]u64 = undefined;
    for (0..buckets) |index| {
        if (read(@intCast(index), &stats, &frames) >= 0) sum += stats[1];
    }
    try testing.expect(sum >= @as(f64, @floatFromInt(total_counted)));
    var info: [summary_values]f64 = undefined;
    summary(&info);
    try testing.expect(info[1] > 0); // overflow events
    try testing.expect(info[2] >= 1); // distinct sites estimated
}

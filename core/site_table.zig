//! Tier 2: allocation sites, keyed by their frame vector, in a fixed-size
//! table mapped once when backtraces are enabled (`MOD_ALLOC_BUCKETS`
//! entries). Inserts are lock-free: a thread claims an empty entry with one
//! compare-and-swap, writes the frames, then publishes it; readers wait for
//! publication. Row 0 is the overflow row: sites that find no free entry
//! within `probe_limit` steps are folded into it, so counts are never lost.
//!
//! Sites are keyed by their frames and the allocating thread's name id
//! (`thread_names.zig`), so a report can say which threads (V8 workers,
//! Tokio, main) allocated at a site.
//!
//! Per-site statistics are kept in `stripes` copies ("lanes"). A thread
//! record takes a free lane from `lanes_free` on its first site event and
//! gives it back when it is released at thread exit, so at most one live
//! thread writes a lane with plain stores (no lock prefix, no shared cache
//! line); threads that find no free lane share lane 0 with atomic updates.
//! Reads sum the lanes. A lane's values are cumulative over its owners:
//! one thread's share is read as a difference from a baseline taken while
//! it owned the lane (`site_snapshot.zig`).
//!
//! Bytes and blocks at the process's peak (DHAT's t-gmax) follow
//! `peak.zig`: a new peak starts an epoch, and a lane copies its live
//! values into its at-peak values the first time it is touched in a newer
//! epoch (its values then are still those of the peak moment). A site's own
//! peak is the sum of its lanes' peaks: exact for one thread, an upper
//! bound under concurrency.

const std = @import("std");
const options = @import("options.zig");
const pages = @import("pages.zig");
const peak = @import("peak.zig");
const stack_walk = @import("stack_walk.zig");

/// Copies of each site's statistics (see above): 7 threads with a lane of
/// their own covers Deno's main thread and its busiest helpers.
pub const stripes = 8;

/// Lanes 1..stripes-1 that no live thread owns (bit i = lane i).
var lanes_free: std.atomic.Value(u8) = .init(0xfe);

/// A lane for a thread's first site event: a free one, or 0 (shared).
pub fn claimLane() u8 {
    var free = lanes_free.load(.monotonic);
    while (free != 0) {
        const lane: u3 = @intCast(@ctz(free));
        // Acquire: the previous owner's plain stores happen before ours.
        free = lanes_free.cmpxchgWeak(free, free & ~(@as(u8, 1) << lane), .acquire, .monotonic) orelse return lane;
    }
    return 0;
}

/// Returns a released record's lane (shared lane 0 and "unassigned" are
/// nobody's to return).
pub fn releaseLane(lane: u8) void {
    if (lane == 0 or lane >= stripes) return;
    std.debug.assert(lanes_free.load(.monotonic) & (@as(u8, 1) << @intCast(lane)) == 0);
    _ = lanes_free.fetchOr(@as(u8, 1) << @intCast(lane), .release);
}

fn add(comptime T: type, field: *std.atomic.Value(T), value: T, exclusive: bool) T {
    if (!exclusive) return field.fetchAdd(value, .monotonic) +% value;
    const updated = field.raw +% value;
    field.store(updated, .monotonic);
    return updated;
}

fn max(comptime T: type, field: *std.atomic.Value(T), value: T, exclusive: bool) void {
    if (!exclusive) {
        _ = field.fetchMax(value, .monotonic);
    } else if (value > field.raw) {
        field.store(value, .monotonic);
    }
}

/// Steps of linear probing before a site goes to the overflow row.
const probe_limit = 128;

const state_empty: u32 = 0;
const state_writing: u32 = 1;
const state_ready: u32 = 2;

pub const overflow_site: u32 = 0;

/// Statistics of one site. Order is the ABI of the snapshot records
/// (`site_snapshot.zig`, `ffi/sites.ts`).
pub const Stats = extern struct {
    alloc_count: std.atomic.Value(u64) = .init(0),
    total_bytes: std.atomic.Value(u64) = .init(0),
    current_bytes: std.atomic.Value(i64) = .init(0),
    current_blocks: std.atomic.Value(i64) = .init(0),
    peak_bytes: std.atomic.Value(i64) = .init(0),
    peak_blocks: std.atomic.Value(i64) = .init(0),
    max_block_bytes: std.atomic.Value(u64) = .init(0),
    freed_count: std.atomic.Value(u64) = .init(0),
    /// In allocation events (`event_clock.zig`).
    lifetime_total: std.atomic.Value(u64) = .init(0),
    gmax_bytes: std.atomic.Value(i64) = .init(0),
    gmax_blocks: std.atomic.Value(i64) = .init(0),
    gmax_epoch: std.atomic.Value(u64) = .init(0),
    /// Sampling mode only (`sampler.zig`): the estimates' variance sums,
    /// of blocks and of bytes in units of the interval R (bytes^2 / R).
    variance_blocks: std.atomic.Value(u64) = .init(0),
    variance_bytes_per_interval: std.atomic.Value(u64) = .init(0),
    _pad: [2]u64 = @splat(0),
};

/// Values `read` reports per site, in `Stats` field order (no padding).
pub const stats_values = 14;

comptime {
    std.debug.assert(@sizeOf(Stats) == 128);
}

const Header = extern struct {
    state: std.atomic.Value(u32),
    frames_count: u32,
    hash: u64,
    thread_name: u32,
    _pad: [108]u8,
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

pub fn enabled() bool {
    return @atomicLoad(?[*]u8, &table, .acquire) != null;
}

pub inline fn framesMax() u32 {
    return frames_max;
}

pub fn bucketsCount() u32 {
    return buckets;
}

pub fn tableBytes() usize {
    return if (enabled()) @as(usize, buckets) * entry_bytes else 0;
}

/// Pages of the table that are resident (touched), not the reservation.
pub fn residentBytes() usize {
    const base = @atomicLoad(?[*]u8, &table, .acquire) orelse return 0;
    return pages.residentBytes(base, tableBytes());
}

/// Maps the table. Called once (under the install lock); false when the
/// memory cannot be mapped.
pub fn enable(buckets_wanted: u32, frames_wanted: u32) bool {
    std.debug.assert(!enabled());
    std.debug.assert(buckets_wanted >= options.buckets_min and buckets_wanted <= options.buckets_max);
    std.debug.assert(frames_wanted >= 1 and frames_wanted <= options.frames_max);
    const size = header_bytes + @as(usize, frames_wanted) * @sizeOf(usize);
    const bytes = @as(usize, buckets_wanted) * size;
    const base = pages.map(bytes, .lazy) orelse return false;
    buckets = buckets_wanted;
    frames_max = frames_wanted;
    entry_bytes = size;
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

/// The site id of a frame vector allocated from a thread named
/// `thread_name`, creating the site if needed; the overflow row when the
/// table has no room.
pub fn intern(frames: []const usize, thread_name: u16) u32 {
    return internHashed(frames, stack_walk.FrameHash.of(frames), thread_name);
}

/// Threads between claiming an entry and publishing it, and the gate that
/// stops new claims while a fork is prepared: an entry left `writing` by a
/// thread that does not exist in the child would stay so for ever, and every
/// lookup probing past it would spin (see `closeForFork`).
var writers: std.atomic.Value(u32) = .init(0);
var fork_gate: std.atomic.Value(bool) = .init(false);
/// Writers still inside an entry when the fork went ahead (the wait below
/// timed out): the child must repair their entries.
var writers_at_fork: u32 = 0;

/// Spins of `closeForFork`'s wait: a write takes well under a microsecond
/// unless its thread was descheduled; after this the fork goes ahead and
/// the child repairs (a sweep of the table).
const fork_wait_spins = 1 << 20;

/// From our fork prepare handler: no new entry is claimed until the parent
/// or child handler (a thread that would claim one counts its event in the
/// overflow row instead of waiting), and the writes in progress finish.
/// The forking thread cannot be a writer: fork is not called from a hook.
pub fn closeForFork() void {
    fork_gate.store(true, .seq_cst);
    var spins: u32 = 0;
    while (writers.load(.seq_cst) != 0 and spins < fork_wait_spins) : (spins += 1) std.atomic.spinLoopHint();
    writers_at_fork = writers.load(.seq_cst);
}

pub fn openAfterFork() void {
    fork_gate.store(false, .seq_cst);
}

/// In the child: entries whose writer timed out the wait belong to threads
/// that do not exist here; they are emptied (nothing was counted in them:
/// a site's counts start after it is published). Then new sites can be
/// claimed again.
pub fn afterForkChild() void {
    if (writers_at_fork != 0) {
        if (@atomicLoad(?[*]u8, &table, .acquire)) |base| {
            for (1..buckets) |index| {
                const header = headerAt(base, @intCast(index));
                if (header.state.load(.monotonic) == state_writing) header.state.store(state_empty, .monotonic);
            }
        }
        writers_at_fork = 0;
    }
    writers.store(0, .monotonic);
    openAfterFork();
}

/// Enters the writers; false while a fork is being prepared.
fn beginWrite() bool {
    _ = writers.fetchAdd(1, .seq_cst);
    if (!fork_gate.load(.seq_cst)) return true;
    _ = writers.fetchSub(1, .seq_cst);
    return false;
}

fn endWrite() void {
    _ = writers.fetchSub(1, .release);
}

/// The sites a thread interned last, by key (kept in its record): a
/// direct-mapped cache in front of `internHashed`, whose probing and
/// header compares cost several times the look-up here. Site ids never
/// change once published, so an entry never goes stale; the overflow row
/// is not cached (a later event may find room).
pub const SiteCache = struct {
    pub const entries_count = 16;
    /// The site's key (hash with the thread name, never 0; 0 = empty).
    keys: [entries_count]u64 = @splat(0),
    /// site | frames_count << 32 | thread_name << 40.
    values: [entries_count]u64 = @splat(0),
};

/// `internHashed` through the thread's cache.
pub inline fn internCached(cache: *SiteCache, frames: []const usize, frames_hash: u64, thread_name: u16) u32 {
    const key = keyOf(frames_hash, thread_name);
    const slot: usize = @intCast(key >> 60);
    const tag = (@as(u64, frames.len) << 32) | (@as(u64, thread_name) << 40);
    const value = cache.values[slot];
    if (cache.keys[slot] == key and value & ~@as(u64, 0xffff_ffff) == tag) return @truncate(value);
    const site = internHashed(frames, frames_hash, thread_name);
    if (site != overflow_site) {
        cache.keys[slot] = key;
        cache.values[slot] = tag | site;
    }
    return site;
}

inline fn keyOf(frames_hash: u64, thread_name: u16) u64 {
    return (frames_hash ^ (@as(u64, thread_name) << 48)) | 1;
}

/// `intern` with the frames' hash already computed (by the walk).
pub fn internHashed(frames: []const usize, frames_hash: u64, thread_name: u16) u32 {
    const base = @atomicLoad(?[*]u8, &table, .acquire) orelse return overflow_site;
    const hash = keyOf(frames_hash, thread_name);
    const slots = buckets - 1; // row 0 is the overflow row
    // Multiply-shift instead of `hash % slots`: a 64-bit division was a
    // sixth of interning's time.
    var index: u32 = @intCast(((hash >> 32) * slots) >> 32);
    var probes: u32 = 0;
    while (probes < probe_limit and probes < slots) : (probes += 1) {
        const site = index + 1;
        const header = headerAt(base, site);
        var state = header.state.load(.acquire);
        if (state == state_empty) {
            // A fork is being prepared: the event goes to the overflow row
            // (not counted as a full table: no warning asks for buckets).
            if (!beginWrite()) return overflow_site;
            if (header.state.cmpxchgStrong(state_empty, state_writing, .acquire, .acquire)) |now| {
                endWrite();
                state = now;
            } else {
                header.hash = hash;
                header.thread_name = thread_name;
                header.frames_count = @intCast(frames.len);
                @memcpy(framesAt(base, site)[0..frames.len], frames);
                header.state.store(state_ready, .release);
                endWrite();
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
        // Sites are matched by their 64-bit hash and depth alone: comparing
        // the frames too cost a tenth of Tier 2's time, and a collision
        // among 2^20 sites has odds of about 2^-25.
        if (state == state_ready and header.hash == hash and header.frames_count == frames.len and
            header.thread_name == thread_name) return site;
        index += 1;
        if (index == slots) index = 0;
    }
    _ = overflow_events.fetchAdd(1, .monotonic);
    _ = overflow_bitmap[(hash >> 6) % 64].fetchOr(@as(u64, 1) << @intCast(hash % 64), .monotonic);
    return overflow_site;
}

/// Allocation events that went to the overflow row because the table was full.
pub fn overflowEvents() u64 {
    return overflow_events.load(.monotonic);
}

fn statsOf(site: u32, lane: u8) ?*Stats {
    const base = @atomicLoad(?[*]u8, &table, .acquire) orelse return null;
    if (site >= buckets) return null;
    return &headerAt(base, site).stats[lane];
}

/// Copies the site's live values into its at-peak values if a newer peak
/// was reached since the site last changed.
fn settlePeak(stats: *Stats) void {
    const epoch = peak.epoch();
    if (stats.gmax_epoch.load(.monotonic) == epoch) return;
    stats.gmax_bytes.store(stats.current_bytes.load(.monotonic), .monotonic);
    stats.gmax_blocks.store(stats.current_blocks.load(.monotonic), .monotonic);
    stats.gmax_epoch.store(epoch, .monotonic);
}

/// An allocation (or the growth/shrink of a realloc) at `site`: `events`
/// allocation events, `total` bytes added to the total, `bytes`/`blocks`
/// the change of live values, `block_bytes` the block's size now.
pub inline fn countAlloc(site: u32, lane: u8, total: u64, bytes: i64, blocks: i64, block_bytes: u64) void {
    const stats = statsOf(site, lane) orelse return;
    const own = lane != 0;
    settlePeak(stats);
    _ = add(u64, &stats.alloc_count, 1, own);
    _ = add(u64, &stats.total_bytes, total, own);
    const current = add(i64, &stats.current_bytes, bytes, own);
    const live = add(i64, &stats.current_blocks, blocks, own);
    max(i64, &stats.peak_bytes, current, own);
    max(i64, &stats.peak_blocks, live, own);
    max(u64, &stats.max_block_bytes, block_bytes, own);
}

/// Sampling mode: one sampled allocation standing for `blocks` blocks and
/// `bytes` bytes (estimates), with its variance contributions.
pub fn countSampledAlloc(site: u32, lane: u8, blocks: u64, bytes: u64, block_bytes: u64, variance_blocks: u64, variance_bytes_per_interval: u64) void {
    const stats = statsOf(site, lane) orelse return;
    const own = lane != 0;
    settlePeak(stats);
    _ = add(u64, &stats.alloc_count, blocks, own);
    _ = add(u64, &stats.total_bytes, bytes, own);
    const current = add(i64, &stats.current_bytes, @intCast(bytes), own);
    const live = add(i64, &stats.current_blocks, @intCast(blocks), own);
    max(i64, &stats.peak_bytes, current, own);
    max(i64, &stats.peak_blocks, live, own);
    max(u64, &stats.max_block_bytes, block_bytes, own);
    _ = add(u64, &stats.variance_blocks, variance_blocks, own);
    _ = add(u64, &stats.variance_bytes_per_interval, variance_bytes_per_interval, own);
}

/// Sampling mode: a sampled block is gone; it took `blocks`/`bytes` with it.
pub fn countSampledFree(site: u32, lane: u8, blocks: u64, bytes: u64) void {
    const stats = statsOf(site, lane) orelse return;
    const own = lane != 0;
    settlePeak(stats);
    _ = add(i64, &stats.current_bytes, -@as(i64, @intCast(bytes)), own);
    _ = add(i64, &stats.current_blocks, -@as(i64, @intCast(blocks)), own);
    _ = add(u64, &stats.freed_count, blocks, own);
}

/// A block of `bytes` allocated at `site` is gone after `lifetime` events.
pub inline fn countFree(site: u32, lane: u8, bytes: u64, lifetime: u64) void {
    const stats = statsOf(site, lane) orelse return;
    const own = lane != 0;
    settlePeak(stats);
    const signed: i64 = @bitCast(bytes);
    _ = add(i64, &stats.current_bytes, -signed, own);
    _ = add(i64, &stats.current_blocks, -1, own);
    _ = add(u64, &stats.freed_count, 1, own);
    _ = add(u64, &stats.lifetime_total, lifetime, own);
}

/// Copies site `index`'s statistics (in `Stats` field order, at-peak values
/// settled) and frames; returns the frame count, or -1 for an unused index.
/// `lane` null sums every lane; a lane number reads only that lane (one
/// thread's share, for a lane a thread owns).
pub fn read(index: u32, lane: ?u8, stats_out: *[stats_values]f64, frames_out: []u64) i32 {
    const base = @atomicLoad(?[*]u8, &table, .acquire) orelse return -1;
    if (index >= buckets) return -1;
    const header = headerAt(base, index);
    if (header.state.load(.acquire) != state_ready) return -1;
    const epoch = peak.epoch();
    stats_out.* = @splat(0);
    const lanes: []Stats = if (lane) |one| header.stats[one..][0..1] else &header.stats;
    for (lanes) |*stats| {
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
    // The epoch means nothing outside: its place carries the thread name.
    stats_out[11] = @floatFromInt(header.thread_name);
    const count = @min(header.frames_count, frames_out.len);
    for (framesAt(base, index)[0..count], frames_out[0..count]) |frame, *out| out.* = frame;
    return @intCast(count);
}

/// Calls `visit(context, row, live)` with every used row's live bytes and
/// blocks summed over its lanes, in row order, until it returns false
/// (then false: the walk stopped early): the one line per lane a
/// history walk needs (`site_history.zig`), where `read` touches two and
/// copies frames. Rows whose first page was never written are skipped
/// unread (mincore, 16 MiB of table per call): reading them would map the
/// zero page for each, measured at ~20 ms for a fresh 65,536-row table.
/// Callers serialize (the residency vector is static).
pub fn walkLive(context: anytype, comptime visit: fn (@TypeOf(context), u32, [2]i64) bool) bool {
    const base = @atomicLoad(?[*]u8, &table, .acquire) orelse return true;
    const page_bytes = 4096;
    const Residency = struct {
        var pages: [4096]u8 = undefined;
    };
    var chunk_start: usize = 0;
    var chunk_end: usize = 0;
    var row: u32 = 0;
    while (row < buckets) : (row += 1) {
        const offset = @as(usize, row) * entry_bytes;
        if (offset >= chunk_end) {
            chunk_start = offset - offset % page_bytes;
            chunk_end = @min(chunk_start + Residency.pages.len * page_bytes, tableBytes());
            const result = std.os.linux.mincore(base + chunk_start, chunk_end - chunk_start, &Residency.pages);
            // Unknown residency: read every row, as `read` does.
            if (std.os.linux.errno(result) != .SUCCESS) @memset(&Residency.pages, 1);
        }
        if (Residency.pages[(offset - chunk_start) / page_bytes] & 1 == 0) continue;
        const header = headerAt(base, row);
        if (header.state.load(.acquire) != state_ready) continue;
        var live: [2]i64 = .{ 0, 0 };
        for (&header.stats) |*stats| {
            live[0] +%= stats.current_bytes.load(.monotonic);
            live[1] +%= stats.current_blocks.load(.monotonic);
        }
        if (!visit(context, row, live)) return false;
    }
    return true;
}

/// One site in a snapshot buffer: its row, frame count, statistics (as
/// `read` gives them) and `frames_max` frames.
pub fn snapshotRecordBytes() usize {
    return 8 + stats_values * 8 + @as(usize, frames_max) * 8;
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
/// The four global values are the all-threads counters' (`peak.zig`),
/// passed in as `peaks` and `now`.
pub const summary_values = 9;

pub fn summary(peaks: [2]i64, now: [2]i64, out: *[summary_values]f64) void {
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
        @floatFromInt(peaks[0]),
        @floatFromInt(peaks[1]),
        @floatFromInt(now[0]),
        @floatFromInt(now[1]),
        @floatFromInt(buckets),
        @floatFromInt(frames_max),
    };
}

const testing = std.testing;

const test_lane: u8 = 0;

fn testEnable() void {
    if (!enabled()) std.debug.assert(enable(64, 4));
}

test "the same frames give the same site and other frames or thread names another" {
    testEnable();
    const a = intern(&.{ 0x1000, 0x2000 }, 1);
    const b = intern(&.{ 0x1000, 0x3000 }, 1);
    const c = intern(&.{ 0x1000, 0x2000 }, 2);
    try testing.expect(a != overflow_site and b != overflow_site and a != b and c != a and c != overflow_site);
    try testing.expectEqual(a, intern(&.{ 0x1000, 0x2000 }, 1));
    var stats: [stats_values]f64 = undefined;
    var frames: [4]u64 = undefined;
    _ = read(c, null, &stats, &frames);
    try testing.expectEqual(@as(f64, 2), stats[11]);
}

test "bytes at the global peak are those of the peak moment" {
    testEnable();
    const a = intern(&.{ 0x5150, 1 }, 0);
    const b = intern(&.{ 0x5150, 2 }, 0);
    try testing.expect(a != overflow_site and b != overflow_site);
    var stats: [stats_values]f64 = undefined;
    var frames: [4]u64 = undefined;
    countAlloc(a, test_lane, 1000, 1000, 1, 1000);
    // A new process peak while a holds 1000 bytes and b nothing.
    peak.raise(peak.peaks(0, 0)[0] + 1, 0);
    countAlloc(b, test_lane, 10, 10, 1, 10);
    countFree(a, test_lane, 1000, 5);
    _ = read(a, null, &stats, &frames);
    try testing.expectEqual(@as(f64, 1000), stats[9]);
    try testing.expectEqual(@as(f64, 1), stats[10]);
    _ = read(b, null, &stats, &frames);
    try testing.expectEqual(@as(f64, 0), stats[9]);
    try testing.expectEqual(@as(f64, 10), stats[2]);
}

test "a lane is owned by one thread at a time and comes back when released" {
    var taken: [stripes]u8 = undefined;
    var owned: usize = 0;
    while (owned < stripes) : (owned += 1) {
        taken[owned] = claimLane();
        if (taken[owned] == 0) break;
    }
    try testing.expect(owned <= stripes - 1);
    for (taken[0..owned], 0..) |lane, i| {
        for (taken[0..i]) |other| try testing.expect(lane != other);
    }
    try testing.expectEqual(@as(u8, 0), claimLane());
    releaseLane(taken[0]);
    try testing.expectEqual(taken[0], claimLane());
    for (taken[0..owned]) |lane| releaseLane(lane);
}

test "a full table folds new sites into the overflow row and keeps every count" {
    testEnable();
    var total_counted: u64 = 0;
    var stats_probe: [stats_values]f64 = undefined;
    var frames_probe: [4]u64 = undefined;
    for (0..200) |i| {
        const site = intern(&.{ 0xabc000 + i, 0x77 }, 0);
        countAlloc(site, test_lane, 10, 10, 1, 10);
        total_counted += 10;
        try testing.expect(read(site, null, &stats_probe, &frames_probe) >= 0);
    }
    var sum: f64 = 0;
    var stats: [stats_values]f64 = undefined;
    var frames: [4]u64 = undefined;
    for (0..buckets) |index| {
        if (read(@intCast(index), null, &stats, &frames) >= 0) sum += stats[1];
    }
    try testing.expect(sum >= @as(f64, @floatFromInt(total_counted)));
    var info: [summary_values]f64 = undefined;
    summary(.{ 0, 0 }, .{ 0, 0 }, &info);
    try testing.expect(info[1] > 0); // overflow events
    try testing.expect(info[2] >= 1); // distinct sites estimated
}

/// Empties every entry of the test table (other tests may have filled it).
fn testClear() void {
    testEnable();
    @memset(table.?[entry_bytes .. @as(usize, buckets) * entry_bytes], 0);
    used.store(0, .monotonic);
}

test "an entry a vanished thread left half written at fork is emptied in the child and interned once" {
    testClear();
    const frames = [_]usize{ 0xf0c4, 0x1 };
    // A writer that claimed the entry this site hashes to and never
    // published it (its thread does not exist after the fork).
    const hash = (stack_walk.FrameHash.of(&frames) ^ (@as(u64, 3) << 48)) | 1;
    const index: u32 = @intCast(((hash >> 32) * (buckets - 1)) >> 32);
    const header = headerAt(table.?, index + 1);
    try testing.expectEqual(state_empty, header.state.load(.monotonic));
    try testing.expect(beginWrite());
    header.state.store(state_writing, .monotonic);
    closeForFork();
    // While the gate is closed a new site goes to the overflow row, not
    // counted as a full table.
    const overflowed = overflowEvents();
    try testing.expectEqual(overflow_site, intern(&.{ 0xf0c4, 0x2 }, 3));
    try testing.expectEqual(overflowed, overflowEvents());
    afterForkChild();
    const site = intern(&frames, 3);
    try testing.expectEqual(index + 1, site);
    try testing.expectEqual(site, intern(&frames, 3));
    try testing.expectEqual(state_ready, header.state.load(.monotonic));
}

test "a thread's site cache gives the interned site and keys on frames count and thread name" {
    testEnable();
    var cache: SiteCache = .{};
    const frames = [_]usize{ 0xcac4e, 0x2 };
    const hash = stack_walk.FrameHash.of(&frames);
    const site = internCached(&cache, &frames, hash, 5);
    try testing.expectEqual(intern(&frames, 5), site);
    try testing.expectEqual(site, internCached(&cache, &frames, hash, 5));
    // Same hash given with another name or depth: not the cached site.
    try testing.expectEqual(intern(&frames, 6), internCached(&cache, &frames, hash, 6));
    const shorter = internCached(&cache, frames[0..1], hash, 5);
    try testing.expect(shorter != site);
    try testing.expectEqual(internHashed(frames[0..1], hash, 5), shorter);
}

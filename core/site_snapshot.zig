//! Copies of the site table for the TypeScript side, into buffers mapped
//! per thread record (NORESERVE, `buckets` records each), so that reading
//! sites takes FFI calls without parameters: Deno's slow FFI path allocates
//! for each call that has some, and a profiler scope would count its own
//! reads. A thread can also keep one baseline (its lane's or every lane's
//! values at a moment) and later copy out only what changed since, so a
//! profiler scope's sites are diffed here, before any JavaScript runs.
//! The buffers belong to the record and are kept when it is reused.

const std = @import("std");
const site_table = @import("site_table.zig");
const pages = @import("pages.zig");
const threads = @import("thread_lifecycle.zig");
const ThreadRecord = @import("ThreadRecord.zig");

pub const Source = enum { all, own_lane, baseline };

pub const Buffers = struct {
    records: ?[*]u8 = null,
    baseline: ?[*]f64 = null,
    /// Lane the baseline was taken for (null: every lane); unset = none.
    baseline_lane: ?u8 = null,
    baseline_set: bool = false,

    /// The mappings, without a previous thread's baseline.
    pub fn keptMappings(buffers: Buffers) Buffers {
        return .{ .records = buffers.records, .baseline = buffers.baseline };
    }

    /// Resident bytes of both mappings.
    pub fn residentBytes(buffers: Buffers) usize {
        var total: usize = 0;
        if (buffers.records) |memory| total += pages.residentBytes(memory, bufferBytes());
        if (buffers.baseline) |memory| total += pages.residentBytes(@ptrCast(memory), baselineBytes());
        return total;
    }
};

fn own() ?*ThreadRecord {
    if (!site_table.enabled()) return null;
    return threads.ownRecord();
}

pub fn bufferBytes() usize {
    return @as(usize, site_table.bucketsCount()) * site_table.snapshotRecordBytes();
}

fn baselineBytes() usize {
    return @as(usize, site_table.bucketsCount()) * site_table.stats_values * @sizeOf(f64);
}

/// The calling thread's record buffer (null: call sites off or no memory).
pub fn buffer() ?[*]u8 {
    const record = own() orelse return null;
    const mine = &record.sites;
    if (mine.records == null) mine.records = pages.map(bufferBytes(), .lazy);
    return mine.records;
}

/// The calling thread's lane, claimed now if it has none; null when it
/// shares lane 0.
pub fn ownLane() ?u8 {
    const record = threads.ownRecord() orelse return null;
    const lane = record.siteLane();
    return if (lane == 0) null else lane;
}

/// Records the current values of every site (of the calling thread's lane
/// when `source` is `own_lane` and it owns one). 0 on success, -1 without
/// memory or call sites.
pub fn setBaseline(source: Source) i32 {
    std.debug.assert(source != .baseline);
    const mine = &(own() orelse return -1).sites;
    if (mine.baseline == null) mine.baseline = @ptrCast(@alignCast(pages.map(baselineBytes(), .lazy) orelse return -1));
    const lane: ?u8 = if (source == .own_lane) ownLane() else null;
    var frames: [1]u64 = undefined;
    for (0..site_table.bucketsCount()) |index| {
        const row: *[site_table.stats_values]f64 = mine.baseline.?[index * site_table.stats_values ..][0..site_table.stats_values];
        if (site_table.read(@intCast(index), lane, row, &frames) < 0) row.* = @splat(0);
    }
    mine.baseline_lane = lane;
    mine.baseline_set = true;
    return 0;
}

/// Fields a baseline is subtracted from: counts and live values. Peaks
/// and at-peak values stay as they are now.
const delta_fields = [_]usize{ 0, 1, 2, 3, 7, 8 };

/// Copies sites into the calling thread's buffer; returns how many. With
/// `since_baseline`, only sites whose counts changed since the baseline,
/// with those counts as differences.
pub fn take(source: Source, since_baseline: bool) u32 {
    const records = buffer() orelse return 0;
    const mine = &own().?.sites;
    const lane: ?u8 = switch (source) {
        .all => null,
        .own_lane => ownLane(),
        .baseline => if (mine.baseline_set) mine.baseline_lane else return 0,
    };
    const record_bytes = site_table.snapshotRecordBytes();
    const frames_max = site_table.framesMax();
    var count: u32 = 0;
    var stats: [site_table.stats_values]f64 = undefined;
    for (0..site_table.bucketsCount()) |index| {
        const record = records + count * record_bytes;
        const frames: [*]u64 = @ptrCast(@alignCast(record + 8 + site_table.stats_values * 8));
        const frames_count = site_table.read(@intCast(index), lane, &stats, frames[0..frames_max]);
        if (frames_count < 0) continue;
        if (since_baseline) {
            const base = mine.baseline.?[index * site_table.stats_values ..][0..site_table.stats_values];
            for (delta_fields) |field| stats[field] -= base[field];
            if (stats[0] == 0 and stats[7] == 0) continue;
        } else if (stats[0] == 0 and stats[3] == 0 and stats[7] == 0) continue;
        const head: *[2]u32 = @ptrCast(@alignCast(record));
        head.* = .{ @intCast(index), @intCast(frames_count) };
        @memcpy((record + 8)[0 .. site_table.stats_values * 8], std.mem.asBytes(&stats));
        count += 1;
    }
    return count;
}

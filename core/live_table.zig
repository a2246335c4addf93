//! The live-allocation table: block address -> requested size and call-site
//! id, in memory the profiler maps itself, never in the heap it profiles.
//!
//! It is what makes frees exact (the size a block was asked with, not what
//! malloc rounded it to) and what recognises foreign pointers (allocated
//! before install or by the loader): a free that finds no entry is
//! forwarded untouched and never lowers the counters.
//!
//! Two halves: `small_map.zig` places small blocks by address arithmetic,
//! lock-free (the hot path); `large_table.zig` hashes the rest under
//! sharded locks. A free looks in the small map first, then the hash table.
//! Both keep the size the hook was asked for, never one derived from
//! glibc's chunk header (which changes under a realloc we did not see).
//! Times are allocation-event counts (`event_clock.zig`); the small map
//! keeps their low 40 bits, so a lifetime is taken modulo 2^40 events.

const std = @import("std");
const small_map = @import("small_map.zig");
const large_table = @import("large_table.zig");

/// What `insert`'s stale block and `remove` return: see `small_map.Found`.
pub const Found = small_map.Found;
pub const none = small_map.none;
pub const sizeOf = small_map.sizeOf;
pub const siteOf = small_map.siteOf;
pub const time_mask = small_map.time_mask;

/// Sizes above 2^40 - 3 bytes (1 TiB) do not fit an entry and its
/// sentinels; such a block is forwarded uncounted.
pub const size_max: u64 = small_map.found_size_max;
comptime {
    std.debug.assert(size_max <= large_table.size_max);
}

/// Records a new block. A stale block recorded at the same address (a free
/// the profiler did not see, e.g. while uninstalled) is returned so the
/// caller can settle it, else `none`. `error.Full` when no memory is left
/// for the table: the caller forwards the block uncounted.
pub inline fn insert(address: usize, size: u64, site: u32, time: u64) error{Full}!Found {
    std.debug.assert(size <= size_max);
    if (size <= small_map.size_max and site <= small_map.site_max) {
        const stale = small_map.insert(address, size, site, time & small_map.time_mask);
        if (stale != small_map.not_placed) return stale;
    }
    // A stale small entry would shadow this block at free time.
    var ignored: u64 = 0;
    const stale_small = small_map.remove(address, &ignored);
    const replaced = try large_table.insert(address, large_table.pack(size, site), time);
    if (replaced) |entry| return small_map.found(entry.size(), entry.site());
    return stale_small;
}

/// Removes a block and returns what was recorded; `none` for a foreign one.
/// `time` receives the allocation time of a block that has one, else 0.
pub inline fn remove(address: usize, time: *u64) Found {
    time.* = 0;
    const small = small_map.remove(address, time);
    if (small != none) return small;
    const entry = large_table.remove(address) orelse return none;
    time.* = entry.time;
    return small_map.found(entry.size(), entry.site());
}

/// Resident bytes of both halves.
pub fn residentBytes() usize {
    return small_map.residentBytes() + large_table.mappedBytes();
}

pub const lockAll = large_table.lockAll;
pub const unlockAll = large_table.unlockAll;
pub const forceUnlockAll = large_table.forceUnlockAll;

const testing = std.testing;

test "small and large blocks come back with their sizes and sites" {
    const small_block = std.c.malloc(48) orelse return error.OutOfMemory;
    defer std.c.free(small_block);
    const small_address = @intFromPtr(small_block);
    try testing.expectEqual(none, try insert(small_address, 48, 0, 0));
    try testing.expectEqual(none, try insert(0x7400_0000_1000, 1 << 20, 4, 0));
    const sited_block = std.c.malloc(64) orelse return error.OutOfMemory;
    defer std.c.free(sited_block);
    const sited = @intFromPtr(sited_block);
    try testing.expectEqual(none, try insert(sited, 64, 5, 77));
    var time: u64 = 0;
    try testing.expectEqual(@as(u64, 48), sizeOf(remove(small_address, &time)));
    const large = remove(0x7400_0000_1000, &time);
    try testing.expectEqual(@as(u64, 1 << 20), sizeOf(large));
    try testing.expectEqual(@as(u32, 4), siteOf(large));
    try testing.expectEqual(@as(u32, 5), siteOf(remove(sited, &time)));
    try testing.expectEqual(@as(u64, 77), time);
    try testing.expectEqual(none, remove(0x7400_0000_1000, &time));
}

test "a large block at the address of a stale small one settles the small one" {
    const block = std.c.malloc(64) orelse return error.OutOfMemory;
    defer std.c.free(block);
    const address = @intFromPtr(block);
    _ = try insert(address, 64, 0, 0);
    try testing.expectEqual(@as(u64, 64), sizeOf(try insert(address, 4096, 0, 0)));
    var time: u64 = 0;
    try testing.expectEqual(@as(u64, 4096), sizeOf(remove(address, &time)));
}

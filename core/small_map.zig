//! The live table's fast half: small blocks, found by address arithmetic.
//!
//! Every 16-byte granule of the address space has a 4-byte entry in a
//! table mapped lazily per 64 MiB region (a glibc arena heap is 64 MiB, so
//! a thread's blocks fill its own region). A block's entry is written only
//! by the thread that allocated it and cleared only by the thread that
//! frees it, which the program itself orders (a block is freed after it was
//! returned): plain atomic stores, no lock, no read-modify-write, no shared
//! cache line on the hot path. That is what lets two threads allocate
//! without slowing each other down.
//!
//! Memory: 4 bytes per 16-byte granule of address space *that holds small
//! blocks*, touched page by page: at most a quarter of the bytes of the
//! small blocks' heap, 8 bytes per block for glibc's smallest chunks (32 B).
//! Small entries also keep the table cache-friendly: the hot path's one
//! likely cache miss is the entry load.
//! Larger blocks go to `large_table.zig`, where a block costs one entry
//! whatever its size.

const std = @import("std");
const linux = std.os.linux;

/// Blocks up to this size live here; larger ones in the hash table. Small
/// blocks are the frequent ones, and packed densely enough that a table
/// page covers many of them.
pub const size_max: u64 = 1024;

const granule_shift = 4;
const region_shift = 26;
const region_bytes: usize = 1 << region_shift;
const entries_per_region = region_bytes >> granule_shift;
const region_table_bytes = entries_per_region * @sizeOf(Entry);
/// 48-bit user address spaces (x86_64 4-level paging, aarch64 48-bit VA).
/// Higher addresses are not mapped here: their blocks go to the hash table.
const address_bits = 48;
const regions_count: usize = 1 << (address_bits - region_shift);
const directory_bytes = regions_count * @sizeOf(usize);

/// Entry: 0 = no block. Else bit 31 set, site id in bits 11..30, size in
/// bits 0..10 (0 ..= 1024).
const Entry = u32;
const present: Entry = 1 << 31;
const size_bits = 11;
/// Blocks whose call-site id does not fit here go to the hash table.
pub const site_max: u32 = (1 << 20) - 1;

comptime {
    std.debug.assert(size_max < 1 << size_bits);
}

const Slot = std.atomic.Value(Entry);
var directory: std.atomic.Value(?[*]std.atomic.Value(?[*]Slot)) = .init(null);
var regions_mapped: std.atomic.Value(usize) = .init(0);

fn mapZeroed(bytes: usize) ?[*]u8 {
    // NORESERVE: only the pages written to ever become resident.
    const result = linux.mmap(null, bytes, .{ .READ = true, .WRITE = true }, .{ .TYPE = .PRIVATE, .ANONYMOUS = true, .NORESERVE = true }, -1, 0);
    if (linux.errno(result) != .SUCCESS) return null;
    return @ptrFromInt(result);
}

fn getDirectory(create: bool) ?[*]std.atomic.Value(?[*]Slot) {
    if (directory.load(.acquire)) |existing| return existing;
    if (!create) return null;
    const fresh: [*]std.atomic.Value(?[*]Slot) = @ptrCast(@alignCast(mapZeroed(directory_bytes) orelse return null));
    if (directory.cmpxchgStrong(null, fresh, .acq_rel, .acquire)) |winner| {
        _ = linux.munmap(@ptrCast(fresh), directory_bytes);
        return winner;
    }
    return fresh;
}

fn regionTable(address: usize, create: bool) ?[*]Slot {
    const region_index = address >> region_shift;
    if (region_index >= regions_count) return null;
    const dir = getDirectory(create) orelse return null;
    if (dir[region_index].load(.acquire)) |table| return table;
    if (!create) return null;
    const fresh: [*]Slot = @ptrCast(@alignCast(mapZeroed(region_table_bytes) orelse return null));
    if (dir[region_index].cmpxchgStrong(null, fresh, .acq_rel, .acquire)) |winner| {
        _ = linux.munmap(@ptrCast(fresh), region_table_bytes);
        return winner;
    }
    _ = regions_mapped.fetchAdd(1, .monotonic);
    return fresh;
}

fn slotOf(address: usize, create: bool) ?*Slot {
    if (address & ((1 << granule_shift) - 1) != 0) return null;
    const table = regionTable(address, create) orelse return null;
    return &table[(address & (region_bytes - 1)) >> granule_shift];
}

/// A block as the live table reports it: size in the low 40 bits, site id
/// above, or `none`. A plain integer rather than an optional struct: the
/// hot path then passes it in a register (an optional struct was measured
/// to stall on partial stack stores).
pub const Found = u64;
pub const none: Found = std.math.maxInt(u64);
/// `insert` could not place the block here.
pub const not_placed: Found = none - 1;

pub fn found(size: u64, site: u32) Found {
    return size | (@as(u64, site) << 40);
}

pub fn sizeOf(block: Found) u64 {
    std.debug.assert(block < not_placed);
    return block & ((1 << 40) - 1);
}

pub fn siteOf(block: Found) u32 {
    std.debug.assert(block < not_placed);
    return @intCast(block >> 40);
}

fn decode(entry: Entry) Found {
    return found(entry & ((1 << size_bits) - 1), (entry & ~present) >> size_bits);
}

/// Records a small block and returns a stale block found at the same
/// address (a free we never saw) or `none`; `not_placed` when it cannot be
/// mapped here (odd address, no memory for a table): the caller then uses
/// the hash table.
pub fn insert(address: usize, size: u64, site: u32) Found {
    std.debug.assert(size <= size_max);
    if (site > site_max) return not_placed;
    const slot = slotOf(address, true) orelse return not_placed;
    const previous = slot.load(.monotonic);
    slot.store(present | (site << size_bits) | @as(Entry, @intCast(size)), .monotonic);
    return if (previous != 0) decode(previous) else none;
}

/// Removes and returns the block at `address`, or `none`.
pub fn remove(address: usize) Found {
    const slot = slotOf(address, false) orelse return none;
    const entry = slot.load(.monotonic);
    if (entry == 0) return none;
    slot.store(0, .monotonic);
    return decode(entry);
}

/// Resident bytes of the tables (asks the kernel with mincore), so that
/// reports give the real cost, not the reserved address space.
pub fn residentBytes() usize {
    const dir = getDirectory(false) orelse return 0;
    var resident: usize = residentOf(@ptrCast(dir), directory_bytes);
    if (regions_mapped.load(.monotonic) == 0) return resident;
    for (0..regions_count) |index| {
        const table = dir[index].load(.acquire) orelse continue;
        resident += residentOf(@ptrCast(table), region_table_bytes);
    }
    return resident;
}

var mincore_vector: [4096]u8 = undefined;
var mincore_lock: std.atomic.Value(bool) = .init(false);

fn residentOf(start: [*]u8, bytes: usize) usize {
    const page_size = 4096;
    while (mincore_lock.swap(true, .acquire)) std.atomic.spinLoopHint();
    defer mincore_lock.store(false, .release);
    var resident: usize = 0;
    var offset: usize = 0;
    while (offset < bytes) {
        const chunk = @min(bytes - offset, mincore_vector.len * page_size);
        if (linux.errno(linux.mincore(start + offset, chunk, &mincore_vector)) != .SUCCESS) return resident;
        for (mincore_vector[0 .. (chunk + page_size - 1) / page_size]) |flags| {
            if (flags & 1 != 0) resident += page_size;
        }
        offset += chunk;
    }
    return resident;
}

const testing = std.testing;

test "a small block is found at its address and gone after removal" {
    try testing.expectEqual(none, insert(0x7000_0000_1230, 100, 9));
    const block = remove(0x7000_0000_1230);
    try testing.expectEqual(@as(u64, 100), sizeOf(block));
    try testing.expectEqual(@as(u32, 9), siteOf(block));
    try testing.expectEqual(none, remove(0x7000_0000_1230));
}

test "an address that was never recorded is not found, in a mapped region or not" {
    try testing.expectEqual(none, insert(0x7100_0000_0000, 1, 0));
    try testing.expectEqual(none, remove(0x7100_0000_0010));
    try testing.expectEqual(none, remove(0x7200_0000_0000));
    _ = remove(0x7100_0000_0000);
}

test "a misaligned or out-of-range address is refused" {
    try testing.expectEqual(not_placed, insert(0x7000_0000_1238, 1, 0));
    try testing.expectEqual(not_placed, insert(1 << 50, 1, 0));
}

test "a stale entry at a reused address is handed back" {
    try testing.expectEqual(none, insert(0x7300_0000_0040, 10, 0));
    try testing.expectEqual(@as(u64, 10), sizeOf(insert(0x7300_0000_0040, 20, 0)));
    try testing.expectEqual(@as(u64, 20), sizeOf(remove(0x7300_0000_0040)));
}

test "many threads recording their own blocks never see each other's" {
    const Worker = struct {
        fn run(id: usize) void {
            const base: usize = 0x6000_0000_0000 + id * region_bytes;
            for (0..10) |round| {
                for (0..5000) |i| std.debug.assert(insert(base + i * 32, (i + round) % 1024, 0) == none);
                for (0..5000) |i| std.debug.assert(sizeOf(remove(base + i * 32)) == (i + round) % 1024);
            }
        }
    };
    var threads: [8]std.Thread = undefined;
    for (&threads, 0..) |*thread, id| thread.* = try std.Thread.spawn(.{}, Worker.run, .{id});
    for (threads) |thread| thread.join();
}

//! The live table's fast half: small blocks, found by address arithmetic.
//!
//! Every 16-byte granule of the address space has a 1-byte entry in a
//! table mapped lazily per 64 MiB region (a glibc arena heap is 64 MiB, so
//! a thread's blocks fill its own region). The entry does not hold the size
//! itself but the block's *slack*: glibc's chunk size (the word before the
//! block, immutable while the block is live) minus the requested size, at
//! most 254 for a small block. So `size = chunk - slack` is exact by
//! construction, whatever glibc's rounding rules are, and an entry fits a
//! byte.
//!
//! A block's entry is written only by the thread that allocated it and
//! cleared only by the thread that frees it, which the program itself
//! orders (a block is freed after it was returned): plain atomic stores, no
//! lock, no read-modify-write, no shared cache line on the hot path. That
//! is what lets two threads allocate without slowing each other down.
//!
//! Memory: 1 byte per 16 bytes of address space *that holds small blocks*,
//! touched page by page: about chunk/16 bytes per block (2 B for a 32 B
//! chunk, 17 B for a 272 B one). Larger blocks, blocks with a larger slack
//! (pvalloc) and blocks with a call-site id (Tier 2) go to
//! `large_table.zig`, where a block costs one entry whatever its size.

const std = @import("std");
const linux = std.os.linux;

/// Blocks up to this size live here; larger ones in the hash table. Small
/// blocks are the frequent ones, and packed densely enough that a table
/// page covers many of them.
pub const size_max: u64 = 1024;
/// Largest slack an entry can hold (entry = slack + 1; 0 means empty).
const slack_max: usize = 254;

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

/// Entry: 0 = no block, else the block's slack + 1.
const Entry = u8;

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

inline fn regionTable(address: usize, create: bool) ?[*]Slot {
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

inline fn slotOf(address: usize, create: bool) ?*Slot {
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

/// glibc's chunk size of a live block: the word before it, without the
/// three flag bits (PREV_INUSE changes while the block lives; the rest do
/// not). Only read for blocks glibc just returned or that we recorded.
fn chunkBytes(address: usize) usize {
    const header: *const usize = @ptrFromInt(address - @sizeOf(usize));
    return header.* & ~@as(usize, 7);
}

/// Records a small block (no call site) and returns a stale block found at
/// the same address (a free we never saw; its size is estimated from the
/// new chunk) or `none`; `not_placed` when it cannot be placed here (odd
/// address, slack too large, no memory for a table): the caller then uses
/// the hash table.
pub inline fn insert(address: usize, size: u64) Found {
    std.debug.assert(size <= size_max);
    const slot = slotOf(address, true) orelse return not_placed;
    const chunk = chunkBytes(address);
    if (chunk < size or chunk - size > slack_max) return not_placed;
    const previous = slot.load(.monotonic);
    slot.store(@intCast(chunk - size + 1), .monotonic);
    if (previous == 0) return none;
    return found(chunk -| (previous - 1), 0);
}

/// Removes and returns the block at `address`, or `none`.
pub inline fn remove(address: usize) Found {
    const slot = slotOf(address, false) orelse return none;
    const entry = slot.load(.monotonic);
    if (entry == 0) return none;
    slot.store(0, .monotonic);
    return found(chunkBytes(address) - (entry - 1), 0);
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

/// A fake glibc chunk: a header word with `chunk` bytes, then the block.
fn fakeChunk(memory: []align(16) u8, offset: usize, chunk: usize) usize {
    const address = @intFromPtr(memory.ptr) + offset;
    const header: *usize = @ptrFromInt(address - 8);
    header.* = chunk | 1; // PREV_INUSE set, as glibc leaves it
    return address;
}

test "a small block is found at its address with its exact size, and gone after removal" {
    var memory: [256]u8 align(16) = undefined;
    const block = fakeChunk(&memory, 16, 112);
    try testing.expectEqual(none, insert(block, 100));
    try testing.expectEqual(@as(u64, 100), sizeOf(remove(block)));
    try testing.expectEqual(none, remove(block));
}

test "an address that was never recorded is not found" {
    var memory: [256]u8 align(16) = undefined;
    const block = fakeChunk(&memory, 16, 32);
    try testing.expectEqual(none, insert(block, 20));
    try testing.expectEqual(none, remove(block + 16));
    try testing.expectEqual(none, remove(0x7200_0000_0000));
    _ = remove(block);
}

test "a misaligned address, an address out of range or a large slack is refused" {
    var memory: [8192]u8 align(16) = undefined;
    try testing.expectEqual(not_placed, insert(fakeChunk(&memory, 24, 32), 1));
    try testing.expectEqual(not_placed, insert(1 << 50, 1));
    try testing.expectEqual(not_placed, insert(fakeChunk(&memory, 16, 4096), 10));
}

test "a stale entry at a reused address is handed back with its estimated size" {
    var memory: [256]u8 align(16) = undefined;
    const block = fakeChunk(&memory, 16, 48);
    try testing.expectEqual(none, insert(block, 30));
    try testing.expectEqual(@as(u64, 30), sizeOf(insert(block, 40)));
    try testing.expectEqual(@as(u64, 40), sizeOf(remove(block)));
}

test "many threads recording their own blocks never see each other's" {
    const Worker = struct {
        fn run(memory: []align(16) u8) void {
            const blocks = memory.len / 64;
            for (0..10) |round| {
                for (0..blocks) |i| {
                    const block = fakeChunk(memory, i * 64 + 16, 48);
                    std.debug.assert(insert(block, 20 + (i + round) % 20) == none);
                }
                for (0..blocks) |i| std.debug.assert(sizeOf(remove(@intFromPtr(memory.ptr) + i * 64 + 16)) == 20 + (i + round) % 20);
            }
        }
    };
    const memory = try testing.allocator.alignedAlloc(u8, .@"16", 8 * 64 * 4096);
    defer testing.allocator.free(memory);
    var threads: [8]std.Thread = undefined;
    for (&threads, 0..) |*thread, id| {
        thread.* = try std.Thread.spawn(.{}, Worker.run, .{@as([]align(16) u8, @alignCast(memory[id * 64 * 4096 ..][0 .. 64 * 4096]))});
    }
    for (threads) |thread| thread.join();
}

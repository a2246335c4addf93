//! The live table's fast half: small blocks, found by address arithmetic.
//!
//! Every 32-byte granule of the address space has a 2-byte entry in a
//! table mapped lazily per 64 MiB region (a glibc arena heap is 64 MiB, so
//! a thread's blocks fill its own region). 32 bytes, because glibc's
//! smallest chunk is 32 bytes: two live blocks are at least that far apart,
//! so no two share a granule. The entry holds the block's requested size
//! + 1 and bit 4 of its address (which 16-byte half of the granule it
//! starts in; 0 = no block): what the hook itself saw. Nothing read back at
//! free comes from glibc's chunk header, which changes when a block is
//! resized where the profiler cannot see it (`realloc(p, 1)` while
//! uninstalled, or from a module that is not patched): a size derived from
//! the chunk then went wrong, or wrapped to -1 TiB. The free of such a block
//! subtracts exactly what its allocation added.
//!
//! A block's entry is written only by the thread that allocated it and
//! cleared only by the thread that frees it, which the program itself
//! orders (a block is freed after it was returned): plain atomic stores, no
//! lock, no read-modify-write, no shared cache line on the hot path. That
//! is what lets two threads allocate without slowing each other down.
//!
//! Memory: 2 bytes per 32 bytes of address space *that holds small blocks*,
//! touched page by page: about chunk/16 bytes per block (2 B for a 32 B
//! chunk, 17 B for a 272 B one); with call sites on, a side map adds 8
//! bytes per granule (site id and birth time) in regions that held a block
//! with a site. Larger blocks go to `large_table.zig`, where a block costs
//! one entry whatever its size.

const std = @import("std");
const RegionMap = @import("region_map.zig").RegionMap;

/// Blocks up to this size live here; larger ones in the hash table. Small
/// blocks are the frequent ones, and packed densely enough that a table
/// page covers many of them.
pub const size_max: u64 = 1024;

/// glibc's smallest chunk (MINSIZE on 64-bit targets): the granule.
const granule_shift = 5;
/// Each small block's (requested size + 1) << 1 | bit 4 of its address
/// (0 = no block).
var size_map: RegionMap(u16, granule_shift) = .{};
comptime {
    std.debug.assert(((size_max + 1) << 1 | 1) <= std.math.maxInt(u16));
}

inline fn entryOf(address: usize, size: u64) u16 {
    return @intCast(((size + 1) << 1) | ((address >> 4) & 1));
}

/// The size an entry holds, when it describes the block at `address` (and
/// not one starting in the granule's other half).
inline fn sizeIn(entry: u16, address: usize) ?u64 {
    // One compare for "present, and this half": taking the tag away leaves
    // an even number >= 2 exactly then; rotated right by one that is
    // size + 1, while an odd or zero one lands at 0 or above 2^15.
    const tag: u16 = @intCast((address >> 4) & 1);
    const size = std.math.rotr(u16, entry -% tag, 1) -% 1;
    if (size > size_max) return null;
    return size;
}
/// With call sites on: each small block's site id (low 24 bits) and
/// allocation time (high 40 bits, wrapping), 8 bytes per granule, mapped
/// only for regions that held a block with a site.
var side_map: RegionMap(u64, granule_shift) = .{};
/// Set once any block with a site was recorded: until then the Tier 1 path
/// skips the side map entirely (one predictable branch instead of a lookup).
var side_map_used: std.atomic.Value(bool) = .init(false);
const site_bits = 24;
pub const site_max: u32 = (1 << site_bits) - 1;

/// A block as the live table reports it: size in the low 40 bits, site id
/// above, or `none`. A plain integer rather than an optional struct: the
/// hot path then passes it in a register (an optional struct was measured
/// to stall on partial stack stores).
pub const Found = u64;
pub const none: Found = std.math.maxInt(u64);
/// `insert` could not place the block here.
pub const not_placed: Found = none - 1;
/// Sizes a `Found` can carry: below 2^40 - 2, so that no size with any site
/// id packs to one of the two sentinels above.
pub const found_size_max: u64 = (1 << 40) - 3;

pub fn found(size: u64, site: u32) Found {
    std.debug.assert(size <= found_size_max);
    std.debug.assert(site <= site_max);
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

/// Records a small block and returns a stale block found at the same
/// address (a free we never saw, with the size it was recorded with) or
/// `none`; `not_placed` when it cannot be placed here (odd address, no
/// memory for a table): the caller then uses the hash table. `site` 0 means
/// none; a block with a site also records `time`.
pub inline fn insert(address: usize, size: u64, site: u32, time: u64) Found {
    std.debug.assert(size <= size_max);
    std.debug.assert(site < 1 << site_bits);
    const slot = size_map.slot(address, true) orelse return not_placed;
    // The side entry: a block without a site must not inherit a stale one.
    if (site != 0) {
        const side = side_map.slot(address, true) orelse return not_placed;
        if (!side_map_used.raw) side_map_used.store(true, .release);
        side.store(site | (time << site_bits), .monotonic);
    } else if (side_map_used.load(.monotonic)) {
        if (side_map.slot(address, false)) |side| side.store(0, .monotonic);
    }
    const previous = slot.load(.monotonic);
    slot.store(entryOf(address, size), .monotonic);
    if (previous == 0) return none;
    // A block recorded in this granule, at this address or in the other
    // half, overlaps the new one: it was freed unseen.
    return found((previous >> 1) - 1, 0);
}

/// The hooks' fast paths (`hooks.zig`): the common cases in a few
/// instructions, null for anything else (the caller then takes `insert` or
/// `remove`, which handle every case).
pub const Slot = RegionMap(u16, granule_shift).Slot;

/// The empty entry of a fresh small block whose region has a table, with no
/// stale side entry to clear (call sites never used).
pub inline fn freshSlot(address: usize) ?*Slot {
    if (side_map_used.load(.monotonic)) return null;
    const slot = size_map.slot(address, false) orelse return null;
    if (slot.load(.monotonic) != 0) return null;
    return slot;
}

pub inline fn fill(slot: *Slot, address: usize, size: u64) void {
    std.debug.assert(size <= size_max);
    slot.store(entryOf(address, size), .monotonic);
}

/// Removes the small block at `address` and returns its size, when call
/// sites were never used (no side entry to read).
pub inline fn takeSize(address: usize) ?u64 {
    if (side_map_used.load(.monotonic)) return null;
    const slot = size_map.slot(address, false) orelse return null;
    const size = sizeIn(slot.load(.monotonic), address) orelse return null;
    slot.store(0, .monotonic);
    return size;
}

/// Removes and returns the block at `address`, or `none`; `time` receives
/// its allocation time if it has a site (else 0).
pub inline fn remove(address: usize, time: *u64) Found {
    const slot = size_map.slot(address, false) orelse return none;
    const size = sizeIn(slot.load(.monotonic), address) orelse return none;
    slot.store(0, .monotonic);
    if (!side_map_used.load(.monotonic)) return size;
    var site: u32 = 0;
    if (side_map.slot(address, false)) |side| {
        const value = side.load(.monotonic);
        site = @intCast(value & ((1 << site_bits) - 1));
        time.* = value >> site_bits;
    }
    return found(size, site);
}

/// Allocation times wrap at 40 bits here: lifetimes are taken modulo it.
pub const time_mask: u64 = (1 << (64 - site_bits)) - 1;

/// Resident bytes of both maps.
pub fn residentBytes() usize {
    return size_map.residentBytes() + side_map.residentBytes();
}

const testing = std.testing;
var test_time: u64 = 0;

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
    try testing.expectEqual(none, insert(block, 100, 0, 0));
    try testing.expectEqual(@as(u64, 100), sizeOf(remove(block, &test_time)));
    try testing.expectEqual(none, remove(block, &test_time));
}

test "an address that was never recorded is not found, even in a recorded block's granule" {
    var memory: [256]u8 align(32) = undefined;
    const block = fakeChunk(&memory, 32, 32);
    try testing.expectEqual(none, insert(block, 20, 0, 0));
    try testing.expectEqual(none, remove(block + 16, &test_time));
    try testing.expectEqual(none, remove(block + 32, &test_time));
    try testing.expectEqual(none, remove(0x7200_0000_0000, &test_time));
    _ = remove(block, &test_time);
}

test "a misaligned address or an address out of range is refused" {
    var memory: [64]u8 align(16) = undefined;
    try testing.expectEqual(not_placed, insert(fakeChunk(&memory, 24, 32), 1, 0, 0));
    try testing.expectEqual(not_placed, insert(1 << 50, 1, 0, 0));
}

test "a block whose chunk was resized unseen is freed with the size it was recorded with" {
    // realloc(p, 1) while uninstalled shrinks the chunk in place: the size
    // read back must not come from the new chunk (it wrapped to -1 TiB).
    var memory: [1024]u8 align(16) = undefined;
    const block = fakeChunk(&memory, 16, 608);
    try testing.expectEqual(none, insert(block, 600, 0, 0));
    _ = fakeChunk(&memory, 16, 32);
    try testing.expectEqual(@as(u64, 600), sizeOf(remove(block, &test_time)));
    try testing.expectEqual(none, insert(block, 0, 0, 0));
    _ = fakeChunk(&memory, 16, 1008);
    try testing.expectEqual(@as(u64, 0), sizeOf(remove(block, &test_time)));
}

test "blocks 32 bytes apart, at either half of a granule, keep their own sizes" {
    var memory: [256]u8 align(32) = undefined;
    const a = fakeChunk(&memory, 48, 32); // bit 4 set
    const b = a + 32;
    const c = a + 80; // bit 4 clear
    try testing.expectEqual(none, insert(a, 24, 0, 0));
    try testing.expectEqual(none, insert(b, 17, 0, 0));
    try testing.expectEqual(none, insert(c, 1, 0, 0));
    try testing.expectEqual(@as(u64, 17), sizeOf(remove(b, &test_time)));
    try testing.expectEqual(@as(u64, 24), sizeOf(remove(a, &test_time)));
    try testing.expectEqual(@as(u64, 1), sizeOf(remove(c, &test_time)));
}

test "no size and site a Found carries collides with the sentinels" {
    try testing.expect(found(found_size_max, site_max) < not_placed);
    try testing.expect(found(size_max, site_max) < not_placed);
}

test "a stale entry at a reused address is handed back with its recorded size" {
    var memory: [256]u8 align(16) = undefined;
    const block = fakeChunk(&memory, 16, 48);
    try testing.expectEqual(none, insert(block, 30, 0, 0));
    try testing.expectEqual(@as(u64, 30), sizeOf(insert(block, 40, 0, 0)));
    try testing.expectEqual(@as(u64, 40), sizeOf(remove(block, &test_time)));
}

test "many threads recording their own blocks never see each other's" {
    const Worker = struct {
        fn run(memory: []align(16) u8) void {
            const blocks = memory.len / 64;
            for (0..10) |round| {
                for (0..blocks) |i| {
                    const block = fakeChunk(memory, i * 64 + 16, 48);
                    std.debug.assert(insert(block, 20 + (i + round) % 20, 0, 0) == none);
                }
                for (0..blocks) |i| std.debug.assert(sizeOf(remove(@intFromPtr(memory.ptr) + i * 64 + 16, &test_time)) == 20 + (i + round) % 20);
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

test "a block with a site keeps its site and time, and a later block without one does not inherit them" {
    var memory: [256]u8 align(16) = undefined;
    const block = fakeChunk(&memory, 16, 48);
    try testing.expectEqual(none, insert(block, 30, 77, 1234));
    const with_site = remove(block, &test_time);
    try testing.expectEqual(@as(u32, 77), siteOf(with_site));
    try testing.expectEqual(@as(u64, 1234), test_time);
    try testing.expectEqual(none, insert(block, 30, 0, 0));
    try testing.expectEqual(@as(u32, 0), siteOf(remove(block, &test_time)));
}

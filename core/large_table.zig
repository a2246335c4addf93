//! The live table's general half: a hash table from block address to
//! requested size and call-site id, for blocks larger than
//! `small_map.size_max` (and any block the small map cannot place).
//!
//! 64 shards, each an open-addressing table with linear probing behind its
//! own spin lock, so two threads rarely meet. Each shard grows on its own
//! by mapping a table twice the size and rehashing; memory comes from mmap,
//! never from the heap being profiled. Between 3/16 and 3/4 full, so 32 to
//! 128 bytes per large block (at least 1 KiB each); 24 bytes per entry.

const std = @import("std");
const linux = std.os.linux;
const SpinLock = @import("SpinLock.zig");
const pages = @import("pages.zig");

pub const shards_count = 64;
/// Entries a shard starts with: 64 x 1024 x 24 B = 1.5 MiB in all if every
/// shard is used, mapped on a shard's first insert. Starting small made
/// Deno map and unmap hundreds of tables while it warmed up (each munmap
/// stalls every thread of the process on its address space lock).
const shard_capacity_min = 1024;
/// A shard never grows past this (2^26 entries = 1.5 GiB): inserts then
/// fail and the caller forwards the block uncounted.
const shard_capacity_max = 1 << 26;

/// A lower ceiling for tests of a full table (MOD_ALLOC_TEST_LARGE_TABLE_MAX).
var capacity_limit: usize = shard_capacity_max;

pub fn limitShardCapacity(entries: usize) void {
    capacity_limit = @max(shard_capacity_min, @min(entries, shard_capacity_max));
}

/// Sizes of 2^40 bytes (1 TiB) or more do not fit an entry; such a block
/// is forwarded uncounted.
pub const size_max: u64 = (1 << 40) - 1;
/// Call-site ids take the other 24 bits; Tier 2 uses them.
pub const site_max: u32 = (1 << 24) - 1;

const key_empty: usize = 0;
const key_deleted: usize = 1;

pub const Entry = extern struct {
    key: usize,
    /// size in the low 40 bits, call-site id in the high 24.
    meta: u64,
    /// When the block was allocated, in allocation events
    /// (`event_clock.zig`), for lifetimes; 0 when call sites are off.
    time: u64,

    pub fn size(entry: Entry) u64 {
        return entry.meta & size_max;
    }

    pub fn site(entry: Entry) u32 {
        return @intCast(entry.meta >> 40);
    }
};

pub fn pack(bytes: u64, site: u32) u64 {
    std.debug.assert(bytes <= size_max);
    std.debug.assert(site <= site_max);
    return bytes | (@as(u64, site) << 40);
}

const Shard = struct {
    lock: SpinLock = .{},
    entries: [*]Entry = undefined,
    capacity: usize = 0,
    /// Live entries plus deleted markers: what the probe length depends on.
    used: usize = 0,
    live: usize = 0,
    _pad: [24]u8 = undefined,

    fn find(shard: *Shard, key: usize, hash: u64) ?*Entry {
        const mask = shard.capacity - 1;
        var index: usize = @intCast(hash & mask);
        var probes: usize = 0;
        while (probes < shard.capacity) : (probes += 1) {
            const entry = &shard.entries[index];
            if (entry.key == key) return entry;
            if (entry.key == key_empty) return null;
            index = (index + 1) & mask;
        }
        return null;
    }

    fn insertFresh(shard: *Shard, fresh: Entry, hash: u64) void {
        const mask = shard.capacity - 1;
        var index: usize = @intCast(hash & mask);
        while (true) : (index = (index + 1) & mask) {
            const entry = &shard.entries[index];
            if (entry.key == key_empty or entry.key == key_deleted) {
                if (entry.key == key_empty) shard.used += 1;
                entry.* = fresh;
                shard.live += 1;
                return;
            }
        }
    }

    /// Makes room for one more entry; false when no memory can be mapped.
    fn reserve(shard: *Shard) bool {
        if (shard.capacity != 0 and (shard.used + 1) * 4 <= shard.capacity * 3) return true;
        var capacity: usize = @max(shard.capacity, shard_capacity_min);
        // Grow by 4x (fewer remaps): a grown table is 3/16 to 1/2 full.
        while ((shard.live + 1) * 2 > capacity) capacity *= 4;
        if (capacity > capacity_limit) return false;
        const bytes = capacity * @sizeOf(Entry);
        const fresh = pages.map(bytes, .eager) orelse return false;
        const old_entries = shard.entries;
        const old_capacity = shard.capacity;
        shard.entries = @ptrCast(@alignCast(fresh));
        shard.capacity = capacity;
        shard.used = 0;
        shard.live = 0;
        _ = mapped_bytes.fetchAdd(bytes, .monotonic);
        if (old_capacity != 0) {
            for (old_entries[0..old_capacity]) |entry| {
                if (entry.key > key_deleted) shard.insertFresh(entry, hashOf(entry.key));
            }
            pages.unmap(@ptrCast(old_entries), old_capacity * @sizeOf(Entry));
            _ = mapped_bytes.fetchSub(old_capacity * @sizeOf(Entry), .monotonic);
        }
        return true;
    }
};

comptime {
    std.debug.assert(@sizeOf(Shard) == 64);
}

var shards: [shards_count]Shard align(64) = @splat(.{});
var mapped_bytes: std.atomic.Value(usize) = .init(0);

fn hashOf(key: usize) u64 {
    // murmur3's finaliser: the low bits of a pointer are mostly zero and its
    // high bits mostly equal, so they must be mixed before masking.
    var x: u64 = key;
    x ^= x >> 33;
    x *%= 0xff51afd7ed558ccd;
    x ^= x >> 33;
    x *%= 0xc4ceb9fe1a85ec53;
    x ^= x >> 33;
    return x;
}

fn shardOf(hash: u64) *Shard {
    return &shards[@intCast(hash >> 58)];
}

/// Records a new block. A stale entry for the same address (a free the
/// profiler did not see, e.g. after uninstall) is replaced and returned so
/// the caller can settle it. Returns `error.Full` when the table can grow no
/// more: the caller then forwards the block uncounted.
pub fn insert(key: usize, meta: u64, time: u64) error{Full}!?Entry {
    std.debug.assert(key > key_deleted);
    const hash = hashOf(key);
    const shard = shardOf(hash);
    shard.lock.lock();
    defer shard.lock.unlock();
    if (shard.capacity != 0) {
        if (shard.find(key, hash)) |entry| {
            const stale = entry.*;
            entry.meta = meta;
            entry.time = time;
            return stale;
        }
    }
    if (!shard.reserve()) return error.Full;
    shard.insertFresh(.{ .key = key, .meta = meta, .time = time }, hash);
    return null;
}

/// Removes a block and returns what was recorded for it; null for a pointer
/// the table does not know (a foreign pointer).
pub fn remove(key: usize) ?Entry {
    if (key <= key_deleted) return null;
    const hash = hashOf(key);
    const shard = shardOf(hash);
    shard.lock.lock();
    defer shard.lock.unlock();
    if (shard.capacity == 0) return null;
    const entry = shard.find(key, hash) orelse return null;
    const removed = entry.*;
    entry.key = key_deleted;
    shard.live -= 1;
    return removed;
}

/// Bytes of table memory mapped right now.
pub fn mappedBytes() usize {
    return mapped_bytes.load(.monotonic);
}

pub fn liveEntries() usize {
    var live: usize = 0;
    for (&shards) |*shard| live += @atomicLoad(usize, &shard.live, .monotonic);
    return live;
}

pub fn lockAll() void {
    for (&shards) |*shard| shard.lock.lock();
}

pub fn unlockAll() void {
    for (&shards) |*shard| shard.lock.unlock();
}

pub fn forceUnlockAll() void {
    for (&shards) |*shard| shard.lock.forceUnlock();
}

const testing = std.testing;

test "insert then remove returns the recorded size and site" {
    _ = try insert(0x1000_0010, pack(123, 7), 0);
    const entry = remove(0x1000_0010).?;
    try testing.expectEqual(@as(u64, 123), entry.size());
    try testing.expectEqual(@as(u32, 7), entry.site());
    try testing.expectEqual(@as(?Entry, null), remove(0x1000_0010));
}

test "an unknown pointer is not found" {
    try testing.expectEqual(@as(?Entry, null), remove(0xdead_0000));
}

test "growth keeps every entry" {
    const count = 50_000;
    const base: usize = 0x7f00_0000_0000;
    for (0..count) |i| _ = try insert(base + i * 16, pack(i, 0), 0);
    for (0..count) |i| try testing.expectEqual(@as(u64, i), remove(base + i * 16).?.size());
}

test "many threads inserting and removing their own keys keep the table exact" {
    const threads_count = 8;
    const Worker = struct {
        fn run(id: usize) void {
            const base: usize = 0x5000_0000_0000 + id * 0x1_0000_0000;
            for (0..20) |round| {
                for (0..2000) |i| _ = insert(base + i * 32, pack(i + round, 1), 0) catch unreachable;
                for (0..2000) |i| std.debug.assert(remove(base + i * 32).?.size() == i + round);
            }
        }
    };
    const live_before = liveEntries();
    var threads: [threads_count]std.Thread = undefined;
    for (&threads, 0..) |*thread, id| thread.* = try std.Thread.spawn(.{}, Worker.run, .{id});
    for (threads) |thread| thread.join();
    try testing.expectEqual(live_before, liveEntries());
}

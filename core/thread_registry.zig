//! Where thread records live: chunks of `chunk_records` records the
//! registry maps itself (never the heap being profiled), a free list of
//! released records, and one lock for claim, release and all-threads sums.
//! Claims and releases happen once per thread, never per allocation, so a
//! lock is cheap here; the hot path only reads the thread's TLS word.
//!
//! The lock knows its holder (`SpinLock.heldByCaller`): a thread that
//! already holds it and reaches a hook again (an atfork handler that
//! allocates while our prepare handler holds it across fork, a signal
//! handler) is told so and forwards uncounted instead of spinning on itself.

const std = @import("std");
const pages = @import("pages.zig");
const SpinLock = @import("SpinLock.zig");
const ThreadRecord = @import("ThreadRecord.zig");

/// Records per chunk: 64 x 384 B = 24 KiB, mapped when the previous chunks
/// are all claimed.
pub const chunk_records = 64;
/// Chunks at most: 16,384 x 64 = 1,048,576 threads alive at once, beyond
/// any process we know of (Linux's default threads-max is lower on most
/// machines). Past it a new thread gets no record: it forwards uncounted and
/// the library says so once on stderr.
pub const chunks_max = 16384;

const chunk_bytes = chunk_records * @sizeOf(ThreadRecord);

var chunks: [chunks_max]?[*]ThreadRecord = @splat(null);
/// Chunks published so far (a chunk's pointer is stored before the count
/// that makes it visible is raised).
var chunks_count: std.atomic.Value(u32) = .init(0);
var free_list: ?*ThreadRecord = null;
var claimed_count: u32 = 0;
/// Highest `claimed_count` seen: how many threads were alive at once.
var claimed_max: u32 = 0;
var claims_total: u64 = 0;

var registry_lock: SpinLock = .{};

pub fn lock() void {
    registry_lock.lock();
}

pub fn unlock() void {
    registry_lock.unlock();
}

/// True when the calling thread holds the lock.
pub fn lockHeld() bool {
    return registry_lock.heldByCaller();
}

/// For the child after fork: only the forking thread exists there.
pub fn forceUnlock() void {
    registry_lock.forceUnlock();
}

/// A free record, marked claimed (lock held); null when no memory is left.
/// The caller resets it for its thread.
pub fn claimLocked() ?*ThreadRecord {
    std.debug.assert(lockHeld());
    if (free_list == null) addChunk() orelse return null;
    const record = free_list.?;
    std.debug.assert(!record.claimed);
    free_list = record.next_free;
    record.next_free = null;
    record.claimed = true;
    claimed_count += 1;
    claimed_max = @max(claimed_max, claimed_count);
    claims_total += 1;
    return record;
}

/// Puts a record back on the free list (lock held); its state is the
/// caller's to settle first.
pub fn freeLocked(record: *ThreadRecord) void {
    std.debug.assert(lockHeld());
    std.debug.assert(record.claimed);
    record.claimed = false;
    record.next_free = free_list;
    free_list = record;
    claimed_count -= 1;
}

fn addChunk() ?void {
    const index = chunks_count.load(.monotonic);
    if (index == chunks_max) return null;
    const memory = pages.map(chunk_bytes, .eager) orelse return null;
    const records: [*]ThreadRecord = @ptrCast(@alignCast(memory));
    // Pushed in reverse so that claims take the lowest address first.
    var i: usize = chunk_records;
    while (i > 0) {
        i -= 1;
        records[i] = .{};
        records[i].next_free = free_list;
        free_list = &records[i];
    }
    chunks[index] = records;
    chunks_count.store(index + 1, .release);
}

/// Iterates the claimed records (lock held for a consistent view).
pub const Claimed = struct {
    chunk: u32 = 0,
    index: u32 = 0,
    chunks_seen: u32,

    pub fn next(iterator: *Claimed) ?*ThreadRecord {
        while (iterator.chunk < iterator.chunks_seen) {
            const records = chunks[iterator.chunk].?;
            while (iterator.index < chunk_records) {
                const record = &records[iterator.index];
                iterator.index += 1;
                if (@atomicLoad(bool, &record.claimed, .acquire)) return record;
            }
            iterator.chunk += 1;
            iterator.index = 0;
        }
        return null;
    }
};

pub fn claimedRecords() Claimed {
    return .{ .chunks_seen = chunks_count.load(.acquire) };
}

/// Every record, claimed or not (for resident-memory accounting).
pub fn forEachRecord(context: anytype, comptime visit: fn (@TypeOf(context), *ThreadRecord) void) void {
    const count = chunks_count.load(.acquire);
    for (chunks[0..count]) |chunk| {
        for (chunk.?[0..chunk_records]) |*record| visit(context, record);
    }
}

/// Bytes of records mapped.
pub fn mappedBytes() usize {
    return @as(usize, chunks_count.load(.monotonic)) * chunk_bytes;
}

/// Registry figures: records claimed now, the most claimed at once, claims
/// ever made, chunks mapped.
pub fn figures() [4]u64 {
    lock();
    defer unlock();
    return .{ claimed_count, claimed_max, claims_total, chunks_count.load(.monotonic) };
}

/// Rebuilds the free list from the `claimed` flags, for the child after
/// fork (a thread of the parent may have been half way through a claim or
/// release when it forked). Lock held.
pub fn rebuildFreeList() void {
    std.debug.assert(lockHeld());
    free_list = null;
    claimed_count = 0;
    const count = chunks_count.load(.monotonic);
    var c: u32 = count;
    while (c > 0) {
        c -= 1;
        const records = chunks[c].?;
        var i: usize = chunk_records;
        while (i > 0) {
            i -= 1;
            const record = &records[i];
            if (record.claimed) {
                claimed_count += 1;
                continue;
            }
            record.next_free = free_list;
            free_list = record;
        }
    }
}

const testing = std.testing;

test "claimed records are found by iteration and a freed one is claimed again" {
    lock();
    const first = claimLocked().?;
    const second = claimLocked().?;
    unlock();
    try testing.expect(first != second);
    var seen: u32 = 0;
    lock();
    var records = claimedRecords();
    while (records.next()) |record| {
        if (record == first or record == second) seen += 1;
    }
    freeLocked(second);
    const again = claimLocked().?;
    freeLocked(again);
    freeLocked(first);
    unlock();
    try testing.expectEqual(@as(u32, 2), seen);
    try testing.expectEqual(second, again);
}

test "claims beyond one chunk map another" {
    var taken: [chunk_records + 1]*ThreadRecord = undefined;
    lock();
    defer unlock();
    const before = chunks_count.load(.monotonic);
    for (&taken) |*slot| slot.* = claimLocked().?;
    try testing.expect(chunks_count.load(.monotonic) > before or before > 1);
    for (taken) |record| freeLocked(record);
}

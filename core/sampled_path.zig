//! The hooks' path in sampling mode (`MOD_ALLOC_SAMPLE`, `sampler.zig`),
//! entered by one branch at the top of `hooks.zig`'s shared entry points.
//!
//! Every allocation: the exact count and bytes on the thread's record, and
//! the sampler's subtract-and-branch. No live-table entry, no walk. Only a
//! sampled allocation (about one per interval of bytes) walks its stack,
//! enters the site table with its weights and is put in the live table,
//! which in this mode holds sampled blocks only.
//!
//! Every free: the exact count, and the sampler's filter; the live table is
//! looked up only when the filter says the address may be sampled.
//!
//! Figures that follow (README "Sampling mode"): allocation count, total
//! bytes, failed count and free count are exact (a free of a block made
//! before counting began is counted too: it cannot be told apart without a
//! lookup); live bytes, live blocks and their peaks are estimates from the
//! sampled blocks. A realloc is one allocation event of its new size (the
//! old size of an unsampled block is unknown).

const std = @import("std");
const real = @import("real.zig");
const live_table = @import("live_table.zig");
const site_table = @import("site_table.zig");
const backtrace = @import("backtrace.zig");
const threads = @import("thread_lifecycle.zig");
const sampler = @import("sampler.zig");
const ThreadRecord = @import("ThreadRecord.zig");

/// `hook_frame`: the exported hook's frame, where the walk starts.
pub inline fn alloc(block: ?*anyopaque, size: usize, hook_frame: usize) void {
    const record = threads.enter() orelse return;
    defer threads.leave(record);
    const ptr = block orelse return record.counters.countFailed();
    record.counters.countEvent(size);
    if (record.sampler.take(size)) sampleAlloc(record, @intFromPtr(ptr), size, hook_frame);
}

pub inline fn free(ptr: *anyopaque) void {
    const record = threads.enter() orelse return;
    defer threads.leave(record);
    record.counters.countFreeEvent();
    if (sampler.mayBeSampled(@intFromPtr(ptr))) freeMarked(record, @intFromPtr(ptr));
}

pub inline fn realloc(old_block: *anyopaque, size: usize, hook_frame: usize) ?*anyopaque {
    const record = threads.enter() orelse return real.realloc(old_block, size);
    defer threads.leave(record);
    const address = @intFromPtr(old_block);
    var old: live_table.Found = live_table.none;
    var old_time: u64 = 0;
    // Out of the table before the real call: once glibc has the old block
    // back, another thread may be handed its address.
    if (sampler.mayBeSampled(address)) old = live_table.remove(address, &old_time);
    const result = real.realloc(old_block, size);
    const new_block = result orelse {
        if (size == 0) {
            // glibc's realloc(p, 0) frees p and returns NULL.
            record.counters.countFreeEvent();
            if (old != live_table.none) settle(record, address, old);
        } else {
            // Failed: p is untouched and still live (its mark was kept).
            if (old != live_table.none) {
                _ = live_table.insert(address, live_table.sizeOf(old), live_table.siteOf(old), 0) catch {};
            }
            record.counters.countFailed();
        }
        return null;
    };
    if (old != live_table.none) settle(record, address, old);
    record.counters.countEvent(size);
    if (record.sampler.take(size)) sampleAlloc(record, @intFromPtr(new_block), size, hook_frame);
    return result;
}

/// A sampled allocation: its site, its weights, a live-table entry and a
/// mark in the filter.
noinline fn sampleAlloc(record: *ThreadRecord, address: usize, size: usize, hook_frame: usize) void {
    std.debug.assert(size > 0);
    // A block the table cannot hold (1 TiB or more) stays in the totals only.
    if (size > live_table.size_max) return;
    const site = backtrace.captureSite(record, hook_frame);
    const stale = live_table.insert(address, size, site, 0) catch return;
    // A sampled block whose free was never seen (made while uninstalled).
    if (stale != live_table.none) settle(record, address, stale);
    sampler.mark(address);
    const weights = sampler.weightsOf(size, address);
    site_table.countSampledAlloc(site - 1, record.siteLane(), @intCast(weights.blocks), @intCast(weights.bytes), size, weights.variance_blocks, weights.variance_bytes_per_interval);
    record.counters.changeLive(weights.bytes, weights.blocks);
    record.counters.offerPeak();
}

noinline fn freeMarked(record: *ThreadRecord, address: usize) void {
    var time: u64 = undefined;
    const block = live_table.remove(address, &time);
    if (block != live_table.none) settle(record, address, block);
}

/// Takes a block that is gone out of the estimates: what it added, by the
/// same weights (they depend on its size and address only).
fn settle(record: *ThreadRecord, address: usize, block: live_table.Found) void {
    const size = live_table.sizeOf(block);
    const site = live_table.siteOf(block);
    if (site == 0) {
        // Counted exactly before sampling began (under preload, the blocks
        // of the loader and libc's start): it took its exact size.
        record.counters.changeLive(-@as(i64, @intCast(size)), -1);
        return;
    }
    sampler.unmark(address);
    const weights = sampler.weightsOf(size, address);
    site_table.countSampledFree(site - 1, record.siteLane(), @intCast(weights.blocks), @intCast(weights.bytes));
    record.counters.changeLive(-weights.bytes, -weights.blocks);
}

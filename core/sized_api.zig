//! A GlobalAlloc-style sized API (`include/mod_alloc.h`): the caller passes
//! size and alignment back on free, as Rust's GlobalAlloc and Zig's
//! Allocator do, so these calls count without any live-table lookup.
//! Blocks from here must go back through `mod_alloc_dealloc` /
//! `mod_alloc_realloc`, never plain free (they are not in the live table).

const std = @import("std");
const real = @import("real.zig");
const hooks = @import("hooks.zig");
const threads = @import("thread_lifecycle.zig");

/// glibc's malloc returns 16-byte aligned blocks on 64-bit targets.
const malloc_alignment = 16;

fn alignedBlock(size: usize, alignment: usize, zeroed: bool) ?*anyopaque {
    if (alignment <= malloc_alignment) {
        return if (zeroed) real.calloc(1, size) else real.malloc(size);
    }
    if (!std.math.isPowerOfTwo(alignment)) return null;
    const block = real.memalign(alignment, size) orelse return null;
    if (zeroed) @memset(@as([*]u8, @ptrCast(block))[0..size], 0);
    return block;
}

fn countResult(block: ?*anyopaque, bytes_old: usize, bytes_new: usize, blocks: i64) void {
    if (!hooks.counting.load(.monotonic)) return;
    const record = threads.enter() orelse return;
    defer threads.leave(record);
    if (block == null) return record.counters.countFailed();
    record.counters.countAlloc(bytes_old, bytes_new, blocks);
}

pub fn alloc(size: usize, alignment: usize) callconv(hooks.hook_callconv) ?*anyopaque {
    const block = alignedBlock(size, alignment, false);
    countResult(block, 0, size, 1);
    return block;
}

pub fn allocZeroed(size: usize, alignment: usize) callconv(hooks.hook_callconv) ?*anyopaque {
    const block = alignedBlock(size, alignment, true);
    countResult(block, 0, size, 1);
    return block;
}

pub fn dealloc(ptr: ?*anyopaque, size: usize, alignment: usize) callconv(hooks.hook_callconv) void {
    _ = alignment;
    const block = ptr orelse return;
    real.free(block);
    if (!hooks.counting.load(.monotonic)) return;
    const record = threads.enter() orelse return;
    defer threads.leave(record);
    record.counters.countFree(size);
}

pub fn realloc(ptr: ?*anyopaque, old_size: usize, alignment: usize, new_size: usize) callconv(hooks.hook_callconv) ?*anyopaque {
    const block = ptr orelse return alloc(new_size, alignment);
    if (new_size == 0) {
        // As glibc's realloc(p, 0): the block is freed and NULL returned.
        // That is a free of `old_size`, not a failed allocation.
        dealloc(block, old_size, alignment);
        return null;
    }
    if (alignment <= malloc_alignment) {
        const result = real.realloc(block, new_size);
        countResult(result, old_size, new_size, 0);
        return result;
    }
    // glibc's realloc does not keep large alignments: move by hand.
    const result = alignedBlock(new_size, alignment, false) orelse {
        countResult(null, 0, 0, 0);
        return null;
    };
    const kept = @min(old_size, new_size);
    @memcpy(@as([*]u8, @ptrCast(result))[0..kept], @as([*]const u8, @ptrCast(block))[0..kept]);
    real.free(block);
    countResult(result, old_size, new_size, 0);
    return result;
}

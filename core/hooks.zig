//! The allocator entry points. Under LD_PRELOAD these exported symbols are
//! the process's malloc family; at run time `got_patch.zig` points GOT slots
//! at the same functions. Every path is: forward to glibc -> count. Nothing
//! here allocates, locks anything but a live-table shard, or touches errno
//! after the real call set it.

const std = @import("std");
const real = @import("real.zig");
const counters = @import("counters.zig");
const live_table = @import("live_table.zig");

/// Off only between `uninstall` and the next `install`. Starts on: under
/// preload the first malloc comes before any constructor, and when the
/// library is dlopen-ed nothing calls these functions before install.
pub var counting: std.atomic.Value(bool) = .init(true);

extern fn __errno_location() callconv(.c) *c_int;
const enomem: c_int = @intFromEnum(std.os.linux.E.NOMEM);

fn isCounting() bool {
    return counting.load(.monotonic);
}

/// Counts a block the real allocator just returned (or failed to).
inline fn recordAlloc(block: ?*anyopaque, size: usize) void {
    if (!isCounting()) return;
    const handle = counters.enter() orelse return;
    defer handle.release();
    const thread = handle.counters;
    const ptr = block orelse return thread.countFailed();
    if (!track(thread, ptr, size)) return thread.countForeign();
    thread.countAlloc(0, size, 1);
}

/// Enters a new block in the live table; false when it cannot be (too
/// large, or the table can grow no more): the block then stays foreign.
inline fn track(thread: *counters.ThreadCounters, block: *anyopaque, size: usize) bool {
    if (size > live_table.size_max) return false;
    const stale = live_table.insert(@intFromPtr(block), size, 0) catch return false;
    // A free of this address that was never seen (made while uninstalled):
    // settle it now so the block is not counted twice.
    if (stale != live_table.none) thread.countFree(live_table.sizeOf(stale));
    return true;
}

inline fn recordFree(ptr: *anyopaque) void {
    if (!isCounting()) return;
    const handle = counters.enter() orelse return;
    defer handle.release();
    const block = live_table.remove(@intFromPtr(ptr));
    if (block != live_table.none) {
        handle.counters.countFree(live_table.sizeOf(block));
    } else {
        handle.counters.countForeign();
    }
}

pub fn malloc(size: usize) callconv(.c) ?*anyopaque {
    const block = real.malloc(size);
    recordAlloc(block, size);
    return block;
}

pub fn calloc(count: usize, size: usize) callconv(.c) ?*anyopaque {
    // glibc checks count * size for overflow and fails with ENOMEM; the
    // product is only used once the call succeeded, so it cannot wrap.
    const block = real.calloc(count, size);
    recordAlloc(block, if (block != null) count *% size else 0);
    return block;
}

pub fn free(ptr: ?*anyopaque) callconv(.c) void {
    // Removed from the table before the real free: once glibc has the block
    // back, another thread may be handed the same address.
    if (ptr) |block| recordFree(block);
    real.free(ptr);
}

pub fn realloc(ptr: ?*anyopaque, size: usize) callconv(.c) ?*anyopaque {
    const old_block = ptr orelse return malloc(size);
    if (!isCounting()) return real.realloc(ptr, size);
    const handle = counters.enter() orelse return real.realloc(ptr, size);
    defer handle.release();
    const thread = handle.counters;
    const old = live_table.remove(@intFromPtr(old_block));
    const result = real.realloc(ptr, size);
    const new_block = result orelse {
        if (size == 0) {
            // glibc's realloc(p, 0) frees p and returns NULL.
            if (old != live_table.none) thread.countFree(live_table.sizeOf(old)) else thread.countForeign();
        } else {
            // Failed: p is untouched and still live.
            if (old != live_table.none) {
                _ = live_table.insert(@intFromPtr(old_block), live_table.sizeOf(old), live_table.siteOf(old)) catch {};
            }
            thread.countFailed();
        }
        return null;
    };
    const tracked = track(thread, new_block, size);
    if (old != live_table.none) {
        if (tracked) {
            thread.countAlloc(live_table.sizeOf(old), size, 0);
        } else {
            thread.countFree(live_table.sizeOf(old));
            thread.countForeign();
        }
    } else {
        // A foreign block: its old size is unknown, so the result is
        // adopted as a new block of `size` bytes.
        thread.countForeign();
        if (tracked) thread.countAlloc(0, size, 1);
    }
    return result;
}

pub fn reallocarray(ptr: ?*anyopaque, count: usize, size: usize) callconv(.c) ?*anyopaque {
    const bytes = std.math.mul(usize, count, size) catch {
        __errno_location().* = enomem;
        return null;
    };
    return realloc(ptr, bytes);
}

pub fn posix_memalign(out: *?*anyopaque, alignment: usize, size: usize) callconv(.c) c_int {
    const status = real.posixMemalign(out, alignment, size);
    recordAlloc(if (status == 0) out.* else null, size);
    return status;
}

pub fn aligned_alloc(alignment: usize, size: usize) callconv(.c) ?*anyopaque {
    const block = real.alignedAlloc(alignment, size);
    recordAlloc(block, size);
    return block;
}

pub fn memalign(alignment: usize, size: usize) callconv(.c) ?*anyopaque {
    const block = real.memalign(alignment, size);
    recordAlloc(block, size);
    return block;
}

pub fn valloc(size: usize) callconv(.c) ?*anyopaque {
    const block = real.valloc(size);
    recordAlloc(block, size);
    return block;
}

pub fn pvalloc(size: usize) callconv(.c) ?*anyopaque {
    const block = real.pvalloc(size);
    recordAlloc(block, size);
    return block;
}

pub fn malloc_usable_size(ptr: ?*anyopaque) callconv(.c) usize {
    return real.usableSize(ptr);
}

/// Name -> hook, for the exports and for GOT patching.
pub const table = .{
    .{ "malloc", &malloc },
    .{ "calloc", &calloc },
    .{ "realloc", &realloc },
    .{ "reallocarray", &reallocarray },
    .{ "free", &free },
    .{ "posix_memalign", &posix_memalign },
    .{ "aligned_alloc", &aligned_alloc },
    .{ "memalign", &memalign },
    .{ "valloc", &valloc },
    .{ "pvalloc", &pvalloc },
    .{ "malloc_usable_size", &malloc_usable_size },
};

comptime {
    for (table) |entry| @export(entry[1], .{ .name = entry[0] });
}

/// The hook for `name`, or null when the name is not one we replace.
pub fn hookFor(name: []const u8) ?usize {
    inline for (table) |entry| {
        if (std.mem.eql(u8, name, entry[0])) return @intFromPtr(entry[1]);
    }
    return null;
}

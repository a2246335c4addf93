//! The profiler's own memory: anonymous mappings straight from the kernel,
//! never the heap being profiled (a hook that called malloc would recurse).

const std = @import("std");
const linux = std.os.linux;

pub const Commit = enum {
    /// Pages are resident once written; the mapping reserves swap as usual.
    eager,
    /// NORESERVE: large tables sized for the worst case, of which only the
    /// pages written to ever become resident. Also opted out of transparent
    /// huge pages: with THP set to "always", one written byte would otherwise
    /// make 2 MiB resident, and a sparse table would cost megabytes.
    lazy,
};

/// `bytes` of zeroed, writable memory, or null when the kernel refuses.
pub fn map(bytes: usize, commit: Commit) ?[*]u8 {
    std.debug.assert(bytes > 0);
    const result = linux.mmap(null, bytes, .{ .READ = true, .WRITE = true }, .{
        .TYPE = .PRIVATE,
        .ANONYMOUS = true,
        .NORESERVE = commit == .lazy,
    }, -1, 0);
    if (linux.errno(result) != .SUCCESS) return null;
    const memory: [*]u8 = @ptrFromInt(result);
    // Advice only: a kernel without THP refuses it, and the table still works.
    if (commit == .lazy) _ = linux.madvise(memory, bytes, linux.MADV.NOHUGEPAGE);
    return memory;
}

pub fn unmap(memory: [*]u8, bytes: usize) void {
    _ = linux.munmap(memory, bytes);
}

var mincore_vector: [4096]u8 = undefined;
var mincore_lock: std.atomic.Value(bool) = .init(false);

/// Bytes of the mapping that are resident (asks the kernel with mincore), so
/// that reports give the real cost, not the reserved address space.
pub fn residentBytes(memory: [*]u8, bytes: usize) usize {
    const page_size = 4096;
    while (mincore_lock.swap(true, .acquire)) std.atomic.spinLoopHint();
    defer mincore_lock.store(false, .release);
    var resident: usize = 0;
    var offset: usize = 0;
    while (offset < bytes) {
        const chunk = @min(bytes - offset, mincore_vector.len * page_size);
        if (linux.errno(linux.mincore(memory + offset, chunk, &mincore_vector)) != .SUCCESS) return resident;
        for (mincore_vector[0 .. (chunk + page_size - 1) / page_size]) |flags| {
            if (flags & 1 != 0) resident += page_size;
        }
        offset += chunk;
    }
    return resident;
}

test "mapped memory is zeroed and writable" {
    const memory = map(8192, .lazy) orelse return error.OutOfMemory;
    defer unmap(memory, 8192);
    try std.testing.expectEqual(@as(u8, 0), memory[4096]);
    memory[4096] = 7;
    try std.testing.expectEqual(@as(u8, 7), memory[4096]);
}

test "a lazy mapping makes only the written page resident, even with transparent huge pages on" {
    // qemu-user returns success from madvise without passing the advice on.
    if (@import("build_options").under_emulator) return error.SkipZigTest;
    // 8 MiB holds at least one whole 2 MiB-aligned huge page; with THP set
    // to "always" and no opt-out, the write below would fault in 2 MiB.
    const bytes = 8 << 20;
    const memory = map(bytes, .lazy) orelse return error.OutOfMemory;
    defer unmap(memory, bytes);
    const huge_page = 2 << 20;
    const aligned = std.mem.alignForward(usize, @intFromPtr(memory), huge_page);
    @as(*volatile u8, @ptrFromInt(aligned + 100)).* = 1;
    try std.testing.expectEqual(@as(usize, 4096), residentBytes(memory, bytes));
}

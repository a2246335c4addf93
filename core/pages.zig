//! The profiler's own memory: anonymous mappings straight from the kernel,
//! never the heap being profiled (a hook that called malloc would recurse).

const std = @import("std");
const linux = std.os.linux;

pub const Commit = enum {
    /// Pages are resident once written; the mapping reserves swap as usual.
    eager,
    /// NORESERVE: large tables sized for the worst case, of which only the
    /// pages written to ever become resident.
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
    return @ptrFromInt(result);
}

pub fn unmap(memory: [*]u8, bytes: usize) void {
    _ = linux.munmap(memory, bytes);
}

test "mapped memory is zeroed and writable" {
    const memory = map(8192, .lazy) orelse return error.OutOfMemory;
    defer unmap(memory, 8192);
    try std.testing.expectEqual(@as(u8, 0), memory[4096]);
    memory[4096] = 7;
    try std.testing.expectEqual(@as(u8, 7), memory[4096]);
}

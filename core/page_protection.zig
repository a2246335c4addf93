//! The protection a page has now, read from /proc/self/maps: the GOT
//! patcher lifts a page's protection only around a write and then puts back
//! exactly what was there (a page ld.so has not yet made read-only must stay
//! writable; a page another library protected stays so).
//!
//! No allocation and no libc stdio: one static buffer, used under the
//! patcher's lock only.

const std = @import("std");
const linux = std.os.linux;

pub const Protection = struct {
    read: bool,
    write: bool,
    execute: bool,

    pub fn flags(protection: Protection) linux.PROT {
        return .{ .READ = protection.read, .WRITE = protection.write, .EXEC = protection.execute };
    }
};

/// One line of /proc/self/maps: a range and its protection.
pub const Mapping = struct {
    start: usize,
    end: usize,
    protection: Protection,

    pub fn contains(mapping: Mapping, address: usize) bool {
        return address >= mapping.start and address < mapping.end;
    }
};

/// Lines of /proc/self/maps are under 4 KiB (a path is at most PATH_MAX);
/// a longer one is skipped, not misread.
var buffer: [8192]u8 = undefined;

/// The mapping that holds `address`, or null when /proc/self/maps cannot
/// be read or no mapping holds it.
pub fn find(address: usize) ?Mapping {
    const fd_raw = linux.open("/proc/self/maps", .{ .ACCMODE = .RDONLY, .CLOEXEC = true }, 0);
    if (linux.errno(fd_raw) != .SUCCESS) return null;
    const fd: i32 = @intCast(fd_raw);
    defer _ = linux.close(fd);
    var kept: usize = 0;
    // Bounded: the maps file of a process is finite; a read error ends it.
    while (true) {
        const read_raw = linux.read(fd, buffer[kept..].ptr, buffer.len - kept);
        if (linux.errno(read_raw) != .SUCCESS or read_raw == 0) break;
        const filled = kept + read_raw;
        var line_start: usize = 0;
        while (std.mem.indexOfScalarPos(u8, buffer[0..filled], line_start, '\n')) |line_end| {
            if (parseLine(buffer[line_start..line_end], address)) |found| return found;
            line_start = line_end + 1;
        }
        kept = filled - line_start;
        // A line longer than the buffer: drop it rather than stall.
        if (kept == buffer.len) kept = 0;
        std.mem.copyForwards(u8, buffer[0..kept], buffer[line_start..filled]);
    }
    return null;
}

/// `start-end perms …`: the mapping when `address` is in [start, end).
fn parseLine(line: []const u8, address: usize) ?Mapping {
    const dash = std.mem.indexOfScalar(u8, line, '-') orelse return null;
    const space = std.mem.indexOfScalarPos(u8, line, dash, ' ') orelse return null;
    if (space + 4 > line.len) return null;
    const start = std.fmt.parseUnsigned(usize, line[0..dash], 16) catch return null;
    const end = std.fmt.parseUnsigned(usize, line[dash + 1 .. space], 16) catch return null;
    if (address < start or address >= end) return null;
    const perms = line[space + 1 .. space + 4];
    return .{
        .start = start,
        .end = end,
        .protection = .{ .read = perms[0] == 'r', .write = perms[1] == 'w', .execute = perms[2] == 'x' },
    };
}

test "a page of this test's writable data is seen writable, its code not" {
    const Holder = struct {
        var data: usize = 1;
        fn code() void {}
    };
    const data = find(@intFromPtr(&Holder.data)) orelse return error.MapsUnreadable;
    try std.testing.expect(data.protection.read and data.protection.write);
    try std.testing.expect(data.contains(@intFromPtr(&Holder.data)));
    const code = find(@intFromPtr(&Holder.code)) orelse return error.MapsUnreadable;
    try std.testing.expect(code.protection.execute and !code.protection.write);
}

test "an address no mapping holds has no protection" {
    try std.testing.expectEqual(@as(?Mapping, null), find(0x10));
}

test "a line that is not a mapping gives nothing; a mapping gives its permissions" {
    try std.testing.expectEqual(@as(?Mapping, null), parseLine("zz-10 rw-p", 5));
    const found = parseLine("1000-2000 r--p 00000000 00:00 0", 0x1800) orelse return error.NotFound;
    try std.testing.expect(found.protection.read and !found.protection.write and !found.protection.execute);
    try std.testing.expectEqual(@as(usize, 0x1000), found.start);
}

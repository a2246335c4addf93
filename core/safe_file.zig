//! Opens a report file the safe way, without allocating (it runs at exit
//! and from signal handlers inside other people's processes).
//!
//! A regular target (or a missing one) is written to a randomly named
//! staging file in the same directory, created with O_CREAT|O_EXCL|
//! O_NOFOLLOW and mode 0600, then renamed over the target: a symlink
//! planted under a predictable staging name in a shared directory is never
//! followed, and the file appears whole or not at all. A character device
//! (`/dev/null`, a terminal) is written in place, never replaced; a
//! directory, FIFO, socket or block device is refused. The TypeScript
//! writer (`api/safe_file.ts`) follows the same rule.

const std = @import("std");
const linux = std.os.linux;

/// Staging names collide only if getrandom repeats itself; a few tries
/// bound the loop if the directory is full of someone else's files.
const staging_attempts_max = 4;

pub const path_bytes_max = 4096;

pub const Target = struct {
    fd: linux.fd_t,
    /// Empty when the target is written in place.
    staging: [path_bytes_max + 32:0]u8 = undefined,
    staging_len: usize = 0,
    in_place: bool,
};

fn errnoOf(result: usize) i32 {
    return -@as(i32, @backingInt(linux.errno(result)));
}

fn negative(e: linux.E) i32 {
    return -@as(i32, @backingInt(e));
}

fn statxOf(path: [*:0]const u8, flags: u32, out: *linux.Statx) linux.E {
    return linux.errno(linux.statx(linux.AT.FDCWD, path, flags, .{ .TYPE = true, .UID = true }, out));
}

const Kind = enum { missing, regular, device, refused, failed };

/// What the final path is. A symlink owned by someone other than us or root
/// (planted in a shared directory) is not followed: it is replaced, as
/// rename replaces a link, never written through.
fn kindOf(final: [*:0]const u8, errno_out: *linux.E) Kind {
    var link: linux.Statx = undefined;
    const lstat_errno = statxOf(final, linux.AT.SYMLINK_NOFOLLOW, &link);
    if (lstat_errno == .NOENT) return .missing;
    if (lstat_errno != .SUCCESS) {
        errno_out.* = lstat_errno;
        return .failed;
    }
    var target = link;
    if (link.mode & linux.S.IFMT == linux.S.IFLNK) {
        const trusted = link.uid == 0 or link.uid == linux.geteuid();
        if (!trusted) return .regular;
        const follow_errno = statxOf(final, 0, &target);
        if (follow_errno == .NOENT) return .missing;
        if (follow_errno != .SUCCESS) {
            errno_out.* = follow_errno;
            return .failed;
        }
    }
    return switch (target.mode & linux.S.IFMT) {
        linux.S.IFREG => .regular,
        linux.S.IFCHR => .device,
        linux.S.IFDIR => blk: {
            errno_out.* = .ISDIR;
            break :blk .refused;
        },
        else => blk: {
            // FIFO, socket, block device: never replaced, never written.
            errno_out.* = .EXIST;
            break :blk .refused;
        },
    };
}

/// Opens `final` for writing as described above. 0 or a negative errno
/// (EISDIR for a directory, EEXIST for a FIFO, socket or block device).
pub fn open(final: [:0]const u8, target: *Target) i32 {
    std.debug.assert(final.len <= path_bytes_max);
    var kind_errno: linux.E = .SUCCESS;
    switch (kindOf(final.ptr, &kind_errno)) {
        .failed, .refused => return negative(kind_errno),
        .device => {
            const fd = linux.open(final.ptr, .{ .ACCMODE = .WRONLY, .NOCTTY = true, .CLOEXEC = true }, 0);
            if (linux.errno(fd) != .SUCCESS) return errnoOf(fd);
            target.* = .{ .fd = @intCast(fd), .in_place = true };
            return 0;
        },
        .missing, .regular => {},
    }
    const slash = std.mem.lastIndexOfScalar(u8, final, '/');
    const directory = if (slash) |index| final[0 .. index + 1] else "";
    const base = if (slash) |index| final[index + 1 ..] else final;
    if (base.len == 0) return negative(.ISDIR);
    var attempt: usize = 0;
    while (attempt < staging_attempts_max) : (attempt += 1) {
        var random: [8]u8 = undefined;
        if (linux.getrandom(&random, random.len, 0) != random.len) return negative(.IO);
        // Names are cut to fit NAME_MAX (255): the base is shortened, the
        // random part is always whole.
        const staging = std.fmt.bufPrintSentinel(&target.staging, "{s}.{s}.{x}.tmp", .{
            directory, base[0..@min(base.len, 200)], std.mem.readInt(u64, &random, .little),
        }, 0) catch return negative(.NAMETOOLONG);
        const flags: linux.O = .{ .ACCMODE = .WRONLY, .CREAT = true, .EXCL = true, .NOFOLLOW = true, .CLOEXEC = true };
        const fd = linux.open(staging.ptr, flags, 0o600);
        if (linux.errno(fd) == .EXIST) continue;
        if (linux.errno(fd) != .SUCCESS) return errnoOf(fd);
        std.debug.assert(!std.mem.eql(u8, staging, final));
        target.fd = @intCast(fd);
        target.staging_len = staging.len;
        target.in_place = false;
        return 0;
    }
    return negative(.EXIST);
}

/// Closes the file and, when it was staged, renames it over `final`
/// (`ok`) or removes it (not `ok`). 0 or a negative errno.
pub fn finish(target: *Target, final: [:0]const u8, ok: bool) i32 {
    std.debug.assert(target.fd >= 0);
    std.debug.assert(target.in_place or target.staging_len > 0);
    const closed = linux.close(target.fd);
    if (target.in_place) return if (!ok) negative(.IO) else errnoOf(closed);
    const staging: [*:0]const u8 = target.staging[0..target.staging_len :0];
    if (ok and linux.errno(closed) == .SUCCESS) {
        const renamed = linux.rename(staging, final.ptr);
        if (linux.errno(renamed) == .SUCCESS) return 0;
        _ = linux.unlink(staging);
        return errnoOf(renamed);
    }
    _ = linux.unlink(staging);
    return if (!ok) negative(.IO) else errnoOf(closed);
}

const testing = std.testing;

fn testDirectory(buffer: *[256]u8) [:0]const u8 {
    var random: [4]u8 = undefined;
    _ = linux.getrandom(&random, random.len, 0);
    const path = std.fmt.bufPrintSentinel(buffer, "/tmp/mod-alloc-safe-file-{x}", .{std.mem.readInt(u32, &random, .little)}, 0) catch unreachable;
    std.debug.assert(linux.errno(linux.mkdir(path.ptr, 0o700)) == .SUCCESS);
    return path;
}

test "a staged file appears at the final name with mode 0600 and nothing is left beside it" {
    var dir_buffer: [256]u8 = undefined;
    const dir = testDirectory(&dir_buffer);
    defer _ = linux.rmdir(dir.ptr);
    var path_buffer: [300]u8 = undefined;
    const final = try std.fmt.bufPrintSentinel(&path_buffer, "{s}/out.json", .{dir}, 0);
    var target: Target = undefined;
    try testing.expectEqual(@as(i32, 0), open(final, &target));
    try testing.expect(!target.in_place);
    _ = linux.write(target.fd, "{}", 2);
    try testing.expectEqual(@as(i32, 0), finish(&target, final, true));
    var info: linux.Statx = undefined;
    try testing.expectEqual(linux.E.SUCCESS, statxOf(final.ptr, 0, &info));
    try testing.expectEqual(@as(u16, 0o600), info.mode & 0o777);
    _ = linux.unlink(final.ptr);
}

test "a directory is refused, /dev/null is written in place" {
    var target: Target = undefined;
    try testing.expectEqual(negative(.ISDIR), open("/tmp", &target));
    try testing.expectEqual(@as(i32, 0), open("/dev/null", &target));
    try testing.expect(target.in_place);
    try testing.expectEqual(@as(i32, 0), finish(&target, "/dev/null", true));
}

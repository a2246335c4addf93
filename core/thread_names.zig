//! Kernel thread names (`/proc/self/task/<tid>/comm`: V8 workers, Tokio
//! runtime threads, "main"), interned into a small table so a site can
//! carry a 16-bit name id and a report can say which thread allocated.
//! Read with raw system calls and a stack buffer, off the hot path: when a
//! thread records its first call site, then again as its allocation count
//! doubles (threads often name themselves after their first allocation).

const std = @import("std");
const linux = std.os.linux;
const SpinLock = @import("SpinLock.zig");

/// A comm name is at most 15 bytes and a NUL.
pub const name_bytes = 16;
/// Distinct names kept: thread names repeat per pool ("tokio-runtime-w"),
/// so a few hundred cover real programs. Past it a name reads as id 0,
/// "unknown", so counts stay whole.
pub const names_max = 1024;

/// Name 0 is "unknown" (the read failed or the table was full); its entry
/// stays zero so the table lives in zero pages until used.
var names: [names_max][name_bytes]u8 = @splat(@splat(0));
const unknown = "unknown";
var names_count: std.atomic.Value(u32) = .init(1);
var insert_lock: SpinLock = .{};

/// The name of thread `tid` of this process, read now; null when it cannot
/// be read.
pub fn readName(tid: i32, out: *[name_bytes]u8) ?[]const u8 {
    var path_buffer: [48]u8 = undefined;
    const path = std.fmt.bufPrintSentinel(&path_buffer, "/proc/self/task/{d}/comm", .{tid}, 0) catch return null;
    const fd_raw = linux.open(path.ptr, .{ .ACCMODE = .RDONLY, .CLOEXEC = true }, 0);
    if (linux.errno(fd_raw) != .SUCCESS) return null;
    const fd: linux.fd_t = @intCast(fd_raw);
    defer _ = linux.close(fd);
    const got = linux.read(fd, out, name_bytes);
    if (linux.errno(got) != .SUCCESS or got == 0) return null;
    var length: usize = got;
    if (out[length - 1] == '\n') length -= 1;
    return out[0..length];
}

/// The id of `name`, added to the table if new; 0 when the table is full.
pub fn intern(name: []const u8) u16 {
    std.debug.assert(name.len < name_bytes);
    if (find(name, names_count.load(.acquire))) |id| return id;
    insert_lock.lock();
    defer insert_lock.unlock();
    const count = names_count.load(.monotonic);
    if (find(name, count)) |id| return id;
    if (count == names_max) return 0;
    names[count] = @splat(0);
    @memcpy(names[count][0..name.len], name);
    names_count.store(count + 1, .release);
    return @intCast(count);
}

fn find(name: []const u8, count: u32) ?u16 {
    for (names[1..count], 1..) |*entry, id| {
        const length = std.mem.indexOfScalar(u8, entry, 0) orelse name_bytes;
        if (std.mem.eql(u8, entry[0..length], name)) return @intCast(id);
    }
    return null;
}

/// The id of thread `tid`'s current name (0: unknown).
pub fn idOfThread(tid: i32) u16 {
    var buffer: [name_bytes]u8 = undefined;
    const name = readName(tid, &buffer) orelse return 0;
    return intern(name);
}

/// Copies name `id` (NUL-terminated) into `out`; its length, or -1 for an
/// id not in the table.
pub fn nameOf(id: u32, out: *[name_bytes]u8) i32 {
    if (id >= names_count.load(.acquire)) return -1;
    out.* = names[id];
    if (id == 0) @memcpy(out[0..unknown.len], unknown);
    return @intCast(std.mem.indexOfScalar(u8, out, 0) orelse name_bytes);
}

pub fn namesCount() u32 {
    return names_count.load(.acquire);
}

pub const table_bytes = @sizeOf(@TypeOf(names));

const testing = std.testing;

test "the calling thread's name is read and interned once" {
    const tid = linux.gettid();
    const id = idOfThread(tid);
    try testing.expect(id != 0);
    try testing.expectEqual(id, idOfThread(tid));
    var out: [name_bytes]u8 = undefined;
    var direct: [name_bytes]u8 = undefined;
    const length = nameOf(id, &out);
    try testing.expectEqualStrings(readName(tid, &direct).?, out[0..@intCast(length)]);
}

test "a renamed thread gets another id" {
    const Worker = struct {
        fn run(ids: *[2]u16) void {
            const tid = linux.gettid();
            ids[0] = idOfThread(tid);
            _ = linux.prctl(@backingInt(linux.PR.SET_NAME), @intFromPtr("mod-alloc-test"), 0, 0, 0);
            ids[1] = idOfThread(tid);
        }
    };
    var ids: [2]u16 = undefined;
    const thread = try std.Thread.spawn(.{}, Worker.run, .{&ids});
    thread.join();
    try testing.expect(ids[0] != ids[1]);
    var out: [name_bytes]u8 = undefined;
    try testing.expectEqualStrings("mod-alloc-test", out[0..@intCast(nameOf(ids[1], &out))]);
}

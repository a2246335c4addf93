//! Frame-pointer stack walking (x86_64, aarch64), safe inside a malloc
//! hook: no allocation, no lock, no unwinder. Two walks:
//!
//! - `walk`, on the thread's own stack, whose mapping the caller verified
//!   (`backtrace.zig`): each frame record is read only after its address is
//!   checked against those bounds, its alignment and upward growth, so a
//!   frame without a frame pointer (its register holding anything) ends the
//!   walk instead of faulting.
//! - `walkCopied`, on any other stack (a fiber, a `sigaltstack`, a
//!   coroutine or Wasm stack): such memory may be unmapped or reused while
//!   the thread is away from it, so no cached range is trusted there. Frame
//!   records are read through `process_vm_readv` on the process itself,
//!   which returns what it could read instead of faulting.

const std = @import("std");
const builtin = @import("builtin");
const linux = std.os.linux;
const pages = @import("pages.zig");

/// Return addresses on aarch64 may carry a pointer-authentication code in
/// the bits above the 48-bit address.
const address_mask: usize = switch (builtin.cpu.arch) {
    .aarch64 => (1 << 48) - 1,
    else => std.math.maxInt(usize),
};

/// The bounds a frame record must lie in: [low, high).
pub const Bounds = struct { low: usize, high: usize };

/// The hash of a frame vector, built one frame at a time so the walk can
/// compute it as it goes: its multiply chain runs beside the walk's chain
/// of dependent loads instead of in a second pass over the frames.
pub const FrameHash = struct {
    const k: u64 = 0xff51afd7ed558ccd;

    state: u64 = 0x9E3779B97F4A7C15,

    pub inline fn add(hash: *FrameHash, frame: usize) void {
        hash.state = (hash.state ^ frame) *% k;
    }

    /// The hash of the frames added (`count` of them); never 0, so an
    /// unwritten hash never matches.
    pub inline fn finish(hash: FrameHash, count: usize) u64 {
        var value = (hash.state ^ count) *% k;
        value ^= value >> 29;
        value *%= k;
        value ^= value >> 32;
        return value | 1;
    }

    pub fn of(frames: []const usize) u64 {
        var hash: FrameHash = .{};
        for (frames) |frame| hash.add(frame);
        return hash.finish(frames.len);
    }
};

/// Walks from frame pointer `start`, storing up to `out.len` return
/// addresses and adding each to `hash`. Returns how many were stored. The
/// caller starts at the exported hook's frame, so no frame of our own is
/// walked: nothing is range-checked per frame.
pub inline fn walk(start: usize, bounds: Bounds, out: []usize, hash: *FrameHash) usize {
    // A frame record is two words: the caller's frame pointer, then the
    // return address. Both must lie inside this stack. Frames grow toward
    // higher addresses as we walk out, so after the first check only the
    // upper bound can be crossed, and a chain that does not grow ends the
    // walk: at most out.len steps. Alignment is not checked: a misaligned
    // record inside the bounds reads mapped memory, and its return address
    // is as wrong as an aligned stray one.
    if (bounds.high < bounds.low + 2 * @sizeOf(usize)) return 0;
    const last = bounds.high - 2 * @sizeOf(usize);
    if (start < bounds.low or start > last) return 0;
    var frame = start;
    var count: usize = 0;
    while (count < out.len) {
        const record: *const [2]usize = @ptrFromInt(frame);
        if (!keepFrame(record.*, out, &count, hash)) break;
        const next = record[0];
        if (next <= frame or next > last) break;
        frame = next;
    }
    return count;
}

/// Stores a frame record's return address and adds it to the hash; false
/// at the end of the chain (a null return address).
inline fn keepFrame(record: [2]usize, out: []usize, count: *usize, hash: *FrameHash) bool {
    const return_address = record[1] & address_mask;
    if (return_address == 0) return false;
    out[count.*] = return_address;
    hash.add(return_address);
    count.* += 1;
    return true;
}

/// The current frame pointer.
pub inline fn framePointer() usize {
    return @frameAddress();
}

/// Bytes of stack copied per `process_vm_readv` in `walkCopied`: a dozen
/// typical C frames, small enough for a 16 KiB signal stack.
const window_bytes = 1024;
/// `process_vm_readv` moves whole iovecs or nothing: windows are cut at
/// this boundary so a read stops at the first unreadable page (4 KiB is the
/// smallest page size of both targets; larger pages only mean more cuts).
const cut_bytes = 4096;

/// Copies up to `out.len` words of this process's memory from `address`,
/// stopping at the first page that cannot be read. Returns the words copied.
fn copyOwn(pid: linux.pid_t, address: usize, out: []usize) usize {
    const bytes = out.len * @sizeOf(usize);
    const first = @min(bytes, cut_bytes - address % cut_bytes);
    const local = [_]std.posix.iovec{.{ .base = @ptrCast(out.ptr), .len = bytes }};
    const remote = [_]std.posix.iovec_const{
        .{ .base = @ptrFromInt(address), .len = first },
        .{ .base = @ptrFromInt(address + first), .len = bytes - first },
    };
    const count: usize = if (first == bytes) 1 else 2;
    const got = linux.process_vm_readv(pid, &local, remote[0..count], 0);
    if (linux.errno(got) != .SUCCESS) return 0;
    return got / @sizeOf(usize);
}

/// `walk` for a stack whose mapping is not verified: `start` is the
/// hook's own frame (live, so read directly); every record above it is read
/// from a copy. Where `process_vm_readv` is refused (seccomp, an emulator
/// without it) only the hook's caller is found.
pub noinline fn walkCopied(start: usize, out: []usize, hash: *FrameHash) usize {
    if (start % @alignOf(usize) != 0 or out.len == 0) return 0;
    const pid = linux.getpid();
    var window: [window_bytes / @sizeOf(usize)]usize = undefined;
    var window_start: usize = 0;
    var window_words: usize = 0;
    const first: *const [2]usize = @ptrFromInt(start);
    var record: [2]usize = first.*;
    var frame = start;
    var count: usize = 0;
    while (count < out.len) {
        if (!keepFrame(record, out, &count, hash)) break;
        const next = record[0];
        if (next <= frame or next % @alignOf(usize) != 0 or next > std.math.maxInt(usize) - window_bytes) break;
        frame = next;
        var offset = (frame -% window_start) / @sizeOf(usize);
        if (frame < window_start or offset + 2 > window_words) {
            window_words = copyOwn(pid, frame, &window);
            window_start = frame;
            offset = 0;
            if (window_words < 2) break;
        }
        record = .{ window[offset], window[offset + 1] };
    }
    return count;
}

/// A mapping of /proc/self/maps: [start, end), and whether it is the main
/// thread's stack (named `[stack]`). end == 0 when it cannot be read.
pub const Mapping = struct { start: usize = 0, end: usize = 0, main_stack: bool = false };

/// The upper end of the mapping that holds `address` (0 when unknown).
pub fn mappingEnd(address: usize) usize {
    return mappingOf(address).end;
}

/// The mapping that holds `address`, read from /proc/self/maps with raw
/// system calls and a stack buffer (no libc, no allocation).
pub fn mappingOf(address: usize) Mapping {
    const fd_raw = linux.open("/proc/self/maps", .{ .ACCMODE = .RDONLY, .CLOEXEC = true }, 0);
    if (linux.errno(fd_raw) != .SUCCESS) return .{};
    const fd: linux.fd_t = @intCast(fd_raw);
    defer _ = linux.close(fd);
    var buffer: [4096]u8 = undefined;
    var kept: usize = 0; // bytes of an unfinished line carried over
    while (true) {
        const got = linux.read(fd, buffer[kept..].ptr, buffer.len - kept);
        if (linux.errno(got) != .SUCCESS or got == 0) return .{};
        const filled = kept + got;
        var line_start: usize = 0;
        while (std.mem.indexOfScalarPos(u8, buffer[0..filled], line_start, '\n')) |line_end| {
            const line = buffer[line_start..line_end];
            if (parseRange(line)) |range| {
                if (address >= range[0] and address < range[1]) {
                    return .{ .start = range[0], .end = range[1], .main_stack = std.mem.endsWith(u8, line, " [stack]") };
                }
            }
            line_start = line_end + 1;
        }
        kept = filled - line_start;
        if (kept == buffer.len) return .{}; // a line longer than the buffer
        std.mem.copyForwards(u8, buffer[0..kept], buffer[line_start..filled]);
    }
}

/// "start-end perms ..." -> {start, end}.
fn parseRange(line: []const u8) ?[2]usize {
    const dash = std.mem.indexOfScalar(u8, line, '-') orelse return null;
    const space = std.mem.indexOfScalarPos(u8, line, dash, ' ') orelse return null;
    const start = std.fmt.parseInt(usize, line[0..dash], 16) catch return null;
    const end = std.fmt.parseInt(usize, line[dash + 1 .. space], 16) catch return null;
    return .{ start, end };
}

const testing = std.testing;

test "a well-formed chain is walked to its end" {
    // Three frame records laid out upward in one buffer, ending in a null
    // return address.
    var stack: [16]usize align(16) = @splat(0);
    const base = @intFromPtr(&stack);
    stack[0] = base + 4 * 8;
    stack[1] = 0x1111;
    stack[4] = base + 8 * 8;
    stack[5] = 0x2222;
    stack[8] = base + 12 * 8;
    stack[9] = 0x3333;
    var out: [8]usize = undefined;
    var hash: FrameHash = .{};
    const bounds: Bounds = .{ .low = base, .high = base + @sizeOf(@TypeOf(stack)) };
    const count = walk(base, bounds, &out, &hash);
    try testing.expectEqualSlices(usize, &.{ 0x1111, 0x2222, 0x3333 }, out[0..count]);
    try testing.expectEqual(FrameHash.of(out[0..count]), hash.finish(count));
}

test "a corrupt frame pointer ends the walk without reading it" {
    var stack: [8]usize align(16) = @splat(0);
    const base = @intFromPtr(&stack);
    const bounds: Bounds = .{ .low = base, .high = base + @sizeOf(@TypeOf(stack)) };
    var out: [8]usize = undefined;
    var hash: FrameHash = .{};
    // Points outside the stack (an unmapped address): must not be read.
    stack[0] = 0xdead_0000_0000;
    stack[1] = 0x1111;
    try testing.expectEqual(@as(usize, 1), walk(base, bounds, &out, &hash));
    // Points downward: a loop.
    stack[0] = base;
    try testing.expectEqual(@as(usize, 1), walk(base, bounds, &out, &hash));
    // Starting outside the bounds reads nothing.
    try testing.expectEqual(@as(usize, 0), walk(0x10, bounds, &out, &hash));
}

test "the depth is bounded by the output" {
    var stack: [16]usize align(16) = @splat(0);
    const base = @intFromPtr(&stack);
    for (0..7) |i| {
        stack[2 * i] = base + 2 * (i + 1) * 8;
        stack[2 * i + 1] = 0x9000 + i;
    }
    var out: [3]usize = undefined;
    var hash: FrameHash = .{};
    const bounds: Bounds = .{ .low = base, .high = base + @sizeOf(@TypeOf(stack)) };
    const count = walk(base, bounds, &out, &hash);
    try testing.expectEqualSlices(usize, &.{ 0x9000, 0x9001, 0x9002 }, out[0..count]);
}

test "a copied walk follows a chain and stops at an unmapped frame without faulting" {
    const page = std.heap.page_size_min;
    const memory = pages.map(2 * page, .eager) orelse return error.OutOfMemory;
    const base = @intFromPtr(memory);
    const words: [*]usize = @ptrCast(@alignCast(memory));
    // Frames at the end of the first page, the last one pointing into the
    // second page, which is then unmapped.
    const a = base + page - 64;
    words[(a - base) / 8] = a + 32;
    words[(a - base) / 8 + 1] = 0x1111;
    words[(a - base) / 8 + 4] = base + page + 16;
    words[(a - base) / 8 + 5] = 0x2222;
    pages.unmap(memory + page, page);
    defer pages.unmap(memory, page);
    var out: [8]usize = undefined;
    var hash: FrameHash = .{};
    const count = walkCopied(a, &out, &hash);
    // Where process_vm_readv is refused (qemu-user lacks it) only the first,
    // live, frame is read.
    var probe: [1]usize = .{0x5eed};
    var copied: [1]usize = .{0};
    const expected: []const usize = if (copyOwn(linux.getpid(), @intFromPtr(&probe), &copied) == 1) &.{ 0x1111, 0x2222 } else &.{0x1111};
    try testing.expectEqualSlices(usize, expected, out[0..count]);
    try testing.expectEqual(FrameHash.of(out[0..count]), hash.finish(count));
}

test "the mapping of a stack variable is found in /proc/self/maps" {
    var local: usize = 0;
    const end = mappingEnd(@intFromPtr(&local));
    try testing.expect(end > @intFromPtr(&local));
}

test "the live walk from this test reaches at least one caller" {
    var out: [8]usize = undefined;
    var hash: FrameHash = .{};
    const here = framePointer();
    const bounds: Bounds = .{ .low = here, .high = mappingEnd(here) };
    try testing.expect(walk(here, bounds, &out, &hash) >= 1);
}

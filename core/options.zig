//! Settings from the environment (read once, under preload at load time)
//! and from `mod_alloc_configure`. A bad value never stops the host: it
//! falls back to the default with one line on stderr saying what was wrong.

const std = @import("std");
const linux = std.os.linux;

pub const frames_default: u32 = 16;
/// A walk deeper than this costs more than it tells: V8's JIT frames are
/// reached at depth 10-14 in Deno.
pub const frames_max: u32 = 64;
pub const buckets_default: u32 = 4096;
pub const buckets_min: u32 = 16;
/// The ceiling: a site entry is 1,664 bytes at 64 frames (a header, 8 lanes
/// of 128-byte statistics, the frames), so 2^20 of them reserve 1.6 GiB of
/// address space, of which only the pages of sites in use become resident.
pub const buckets_max: u32 = 1 << 20;

extern fn getenv(name: [*:0]const u8) callconv(.c) ?[*:0]const u8;

/// Writes a line to stderr without allocating (safe inside a hook).
pub fn warn(parts: []const []const u8) void {
    for (parts) |part| _ = linux.write(2, part.ptr, part.len);
    _ = linux.write(2, "\n", 1);
}

fn parseUnsigned(text: []const u8) ?u64 {
    if (text.len == 0 or text.len > 18) return null;
    var value: u64 = 0;
    for (text) |c| {
        if (c < '0' or c > '9') return null;
        value = value * 10 + (c - '0');
    }
    return value;
}

fn formatUnsigned(buffer: *[20]u8, value: u64) []const u8 {
    var index: usize = buffer.len;
    var rest = value;
    while (true) {
        index -= 1;
        buffer[index] = @intCast('0' + rest % 10);
        rest /= 10;
        if (rest == 0) break;
    }
    return buffer[index..];
}

/// An integer setting in [min, max]; unset or empty -> `fallback`;
/// anything else -> `fallback` and a warning.
pub fn envInteger(comptime name: [:0]const u8, min: u32, max: u32, fallback: u32) u32 {
    const raw = getenv(name) orelse return fallback;
    const text = std.mem.span(raw);
    if (text.len == 0) return fallback;
    if (parseUnsigned(text)) |value| {
        if (value >= min and value <= max) return @intCast(value);
    }
    var min_text: [20]u8 = undefined;
    var max_text: [20]u8 = undefined;
    var fallback_text: [20]u8 = undefined;
    warn(&.{
        "mod-alloc: ",                            name,                             "=\"",
        text[0..@min(text.len, 40)],              "\" is not a whole number from ", formatUnsigned(&min_text, min),
        " to ",                                   formatUnsigned(&max_text, max),   "; using ",
        formatUnsigned(&fallback_text, fallback), ".",
    });
    return fallback;
}

/// A switch: 1/true/yes/on or 0/false/no/off (empty = off).
pub fn envSwitch(comptime name: [:0]const u8) bool {
    const raw = getenv(name) orelse return false;
    const text = std.mem.span(raw);
    const on = [_][]const u8{ "1", "true", "yes", "on" };
    const off = [_][]const u8{ "", "0", "false", "no", "off" };
    for (on) |word| if (std.ascii.eqlIgnoreCase(text, word)) return true;
    for (off) |word| if (std.ascii.eqlIgnoreCase(text, word)) return false;
    warn(&.{ "mod-alloc: ", name, "=\"", text[0..@min(text.len, 40)], "\" is not 1/true/yes/on or 0/false/no/off; using off." });
    return false;
}

const testing = std.testing;

test "parseUnsigned accepts digits only" {
    try testing.expectEqual(@as(?u64, 16), parseUnsigned("16"));
    try testing.expectEqual(@as(?u64, null), parseUnsigned(""));
    try testing.expectEqual(@as(?u64, null), parseUnsigned("-1"));
    try testing.expectEqual(@as(?u64, null), parseUnsigned("1e3"));
    try testing.expectEqual(@as(?u64, null), parseUnsigned("99999999999999999999999"));
}

test "formatUnsigned writes decimal digits" {
    var buffer: [20]u8 = undefined;
    try testing.expectEqualStrings("0", formatUnsigned(&buffer, 0));
    try testing.expectEqualStrings("4096", formatUnsigned(&buffer, 4096));
}

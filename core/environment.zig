//! Keeps the profiler to the process it was preloaded into: at load time
//! the library's own variables and its LD_PRELOAD entry are removed from
//! the environment, so the program's children run unprofiled (no stray
//! raw files, no child overwriting its parent's report) and Deno, which
//! refuses to spawn with LD_PRELOAD set under `--allow-run=<list>`, can
//! spawn them. MOD_ALLOC_FOLLOW_CHILDREN=1 keeps everything for children.
//!
//! Runs once, in the constructor, before the program's main and its
//! threads: editing `environ` in place, as unsetenv does, is safe then.
//! The strings stay where they are, so values read before stay valid.

const std = @import("std");

extern var environ: ?[*:null]?[*:0]u8;

/// The variables the library reads. MOD_ALLOC_LIB (read by the TypeScript
/// module) and others are left alone.
pub const own_variables = [_][]const u8{
    "MOD_ALLOC_BACKTRACES",
    "MOD_ALLOC_FRAMES",
    "MOD_ALLOC_BUCKETS",
    "MOD_ALLOC_OUT",
    "MOD_ALLOC_SIGNALS",
    "MOD_ALLOC_FOLLOW_CHILDREN",
    "MOD_ALLOC_TEST_LARGE_TABLE_MAX",
};

const library_file = "libmod_alloc.so";
/// glibc's separators for LD_PRELOAD entries.
const preload_separators = " :";

fn nameOf(entry: []const u8) []const u8 {
    return entry[0 .. std.mem.indexOfScalar(u8, entry, '=') orelse entry.len];
}

fn isOwn(name: []const u8) bool {
    for (own_variables) |own| if (std.mem.eql(u8, name, own)) return true;
    return false;
}

fn isLibraryEntry(entry: []const u8) bool {
    const slash = std.mem.lastIndexOfScalar(u8, entry, '/');
    const base = if (slash) |index| entry[index + 1 ..] else entry;
    return std.mem.eql(u8, base, library_file);
}

/// Drops this library's entries from an LD_PRELOAD value, in place (the
/// result is never longer). Returns the new length.
pub fn withoutLibrary(value: []u8) usize {
    var kept: usize = 0;
    var tokens = std.mem.tokenizeAny(u8, value, preload_separators);
    while (tokens.next()) |token| {
        if (isLibraryEntry(token)) continue;
        if (kept > 0) {
            value[kept] = ':';
            kept += 1;
        }
        // Moving left within the same buffer: the write never passes the read.
        std.mem.copyForwards(u8, value[kept..][0..token.len], token);
        kept += token.len;
    }
    return kept;
}

/// Removes the library's variables and its LD_PRELOAD entry (the whole
/// variable when nothing else is preloaded).
pub fn removeOwnVariables() void {
    const entries = environ orelse return;
    var read: usize = 0;
    var write: usize = 0;
    while (entries[read]) |entry_ptr| : (read += 1) {
        const entry = std.mem.span(entry_ptr);
        const name = nameOf(entry);
        var keep = !isOwn(name);
        if (keep and std.mem.eql(u8, name, "LD_PRELOAD") and name.len < entry.len) {
            const value = entry[name.len + 1 ..];
            const length = withoutLibrary(value);
            value.ptr[length] = 0;
            keep = length > 0;
        }
        if (keep) {
            entries[write] = entry_ptr;
            write += 1;
        }
    }
    entries[write] = null;
}

test "withoutLibrary drops our entries and keeps the others in order" {
    var value = "/a/libx.so /b/libmod_alloc.so:/c/liby.so".*;
    const length = withoutLibrary(&value);
    try std.testing.expectEqualStrings("/a/libx.so:/c/liby.so", value[0..length]);
    var only = "/b/libmod_alloc.so".*;
    try std.testing.expectEqual(@as(usize, 0), withoutLibrary(&only));
}

//! Keeps the profiler to the process it was preloaded into: at load time
//! the library's own variables and its LD_PRELOAD entry are removed from
//! the environment, so the program's children run unprofiled (no stray
//! raw files, no child overwriting its parent's report) and Deno, which
//! refuses to spawn with LD_PRELOAD set under `--allow-run=<list>`, can
//! spawn them. MOD_ALLOC_FOLLOW_CHILDREN=1 keeps everything for children.
//!
//! The profiled process itself stays profiled when it replaces its image
//! (a version manager's shim that execs the real `python3`, `sh -c 'exec
//! …'`): this library's `execve`, `execv`, `execvp` and `execvpe` put the
//! removed variables back for an exec by the process the library was
//! loaded into (same pid). A child (fork, posix_spawn) has another pid
//! and gets the environment as the program left it.
//!
//! Runs once, in the constructor, before the program's main and its
//! threads: editing `environ` in place, as unsetenv does, is safe then.
//! The strings stay where they are, so values read before stay valid.

const std = @import("std");
const linux = std.os.linux;
const elf_dynamic = @import("elf_dynamic.zig");
const pages = @import("pages.zig");

extern var environ: ?[*:null]?[*:0]u8;

/// The variables the library reads. MOD_ALLOC_LIB (read by the TypeScript
/// module) and others are left alone.
pub const own_variables = [_][]const u8{
    "MOD_ALLOC_BACKTRACES",
    "MOD_ALLOC_FRAMES",
    "MOD_ALLOC_BUCKETS",
    "MOD_ALLOC_SAMPLE",
    "MOD_ALLOC_SAMPLE_SEED",
    "MOD_ALLOC_OUT",
    "MOD_ALLOC_SIGNALS",
    "MOD_ALLOC_FOLLOW_CHILDREN",
    "MOD_ALLOC_TEST_LARGE_TABLE_MAX",
};

/// A build's file name; a release asset is `libmod_alloc-<target>.so`.
const library_file = "libmod_alloc.so";
const release_prefix = "libmod_alloc-";
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
    if (std.mem.eql(u8, base, library_file)) return true;
    return std.mem.startsWith(u8, base, release_prefix) and std.mem.endsWith(u8, base, ".so");
}

test "a build's and a release asset's file names are this library; others are not" {
    try std.testing.expect(isLibraryEntry("/x/zig-out/lib/libmod_alloc.so"));
    try std.testing.expect(isLibraryEntry("/cache/0.1.0/libmod_alloc-x86_64-linux-gnu.so"));
    try std.testing.expect(!isLibraryEntry("/x/libmod_alloc_fixture.so"));
    try std.testing.expect(!isLibraryEntry("/x/libmod_alloc.so.1"));
    try std.testing.expect(!isLibraryEntry("/x/other.so"));
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
    std.debug.assert(kept <= value.len);
    return kept;
}

/// The removed entries, to give back to an exec of this process: our
/// variables (their strings stay in place) and a copy of LD_PRELOAD as
/// it was (its string is edited in place).
var removed: [own_variables.len]?[*:0]const u8 = @splat(null);
var removed_count: usize = 0;
/// LD_PRELOAD longer than this is not carried over an exec (the exec'd
/// image then runs unprofiled).
const preload_copy_bytes_max = 4096;
var preload_copy: [preload_copy_bytes_max:0]u8 = undefined;
var preload_copied: bool = false;
/// The process the variables were removed from (0: none were).
var removed_pid: linux.pid_t = 0;

fn savePreload(entry: []const u8) void {
    if (entry.len >= preload_copy_bytes_max) return;
    @memcpy(preload_copy[0..entry.len], entry);
    preload_copy[entry.len] = 0;
    preload_copied = true;
}

/// Removes the library's variables and its LD_PRELOAD entry (the whole
/// variable when nothing else is preloaded).
pub fn removeOwnVariables() void {
    removed_pid = linux.getpid();
    const entries = environ orelse return;
    var read: usize = 0;
    var write: usize = 0;
    while (entries[read]) |entry_ptr| : (read += 1) {
        const entry = std.mem.span(entry_ptr);
        const name = nameOf(entry);
        var keep = !isOwn(name);
        if (!keep and removed_count < removed.len) {
            removed[removed_count] = entry_ptr;
            removed_count += 1;
        }
        if (keep and std.mem.eql(u8, name, "LD_PRELOAD") and name.len < entry.len) {
            savePreload(entry);
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

const Env = [*:null]const ?[*:0]const u8;

/// `envp` with the removed variables put back (the program's own copies
/// of them dropped), in pages mapped for the exec; null when there is
/// nothing to put back or no memory (the exec then goes ahead as asked).
fn withOwnVariables(envp: Env, bytes_out: *usize) ?Env {
    if (removed_pid == 0 or linux.getpid() != removed_pid) return null;
    var count: usize = 0;
    while (envp[count] != null) count += 1;
    const slots = count + removed_count + 2;
    bytes_out.* = slots * @sizeOf(usize);
    const memory = pages.map(bytes_out.*, .eager) orelse return null;
    const out: [*]?[*:0]const u8 = @ptrCast(@alignCast(memory));
    var used: usize = 0;
    for (envp[0..count]) |entry| {
        const name = nameOf(std.mem.span(entry.?));
        if (isOwn(name) or (preload_copied and std.mem.eql(u8, name, "LD_PRELOAD"))) continue;
        out[used] = entry;
        used += 1;
    }
    for (removed[0..removed_count]) |entry| {
        out[used] = entry;
        used += 1;
    }
    if (preload_copied) {
        out[used] = &preload_copy;
        used += 1;
    }
    out[used] = null;
    std.debug.assert(used < slots);
    return @ptrCast(out);
}

const ExecveFn = *const fn ([*:0]const u8, [*:null]const ?[*:0]const u8, Env) callconv(.c) c_int;
var real_execve: ?ExecveFn = null;
var real_execvpe: ?ExecveFn = null;

/// Finds libc's execve and execvpe (at load time: the lookup takes the
/// loader's lock).
pub fn init() void {
    if (elf_dynamic.findInLibc("execve")) |address| real_execve = @ptrFromInt(address);
    if (elf_dynamic.findInLibc("execvpe")) |address| real_execvpe = @ptrFromInt(address);
}

fn execWith(real: ?ExecveFn, file: [*:0]const u8, argv: [*:null]const ?[*:0]const u8, envp: Env) c_int {
    const exec = real orelse {
        std.c._errno().* = @backingInt(linux.E.NOSYS);
        return -1;
    };
    var bytes: usize = 0;
    const augmented = withOwnVariables(envp, &bytes) orelse return exec(file, argv, envp);
    const result = exec(file, argv, augmented);
    // Only reached when the exec failed.
    const saved_errno = std.c._errno().*;
    pages.unmap(@ptrCast(@constCast(augmented)), bytes);
    std.c._errno().* = saved_errno;
    return result;
}

pub fn execve(path: [*:0]const u8, argv: [*:null]const ?[*:0]const u8, envp: Env) callconv(.c) c_int {
    return execWith(real_execve, path, argv, envp);
}

pub fn execv(path: [*:0]const u8, argv: [*:null]const ?[*:0]const u8) callconv(.c) c_int {
    return execWith(real_execve, path, argv, @ptrCast(environ orelse &empty_env));
}

pub fn execvpe(file: [*:0]const u8, argv: [*:null]const ?[*:0]const u8, envp: Env) callconv(.c) c_int {
    return execWith(real_execvpe, file, argv, envp);
}

pub fn execvp(file: [*:0]const u8, argv: [*:null]const ?[*:0]const u8) callconv(.c) c_int {
    return execWith(real_execvpe, file, argv, @ptrCast(environ orelse &empty_env));
}

const empty_env = [_:null]?[*:0]u8{};

test "withoutLibrary drops our entries and keeps the others in order" {
    var value = "/a/libx.so /b/libmod_alloc.so:/c/liby.so".*;
    const length = withoutLibrary(&value);
    try std.testing.expectEqualStrings("/a/libx.so:/c/liby.so", value[0..length]);
    var only = "/b/libmod_alloc.so".*;
    try std.testing.expectEqual(@as(usize, 0), withoutLibrary(&only));
}

test "an exec by the same process gets the removed variables back, the program's own copies dropped" {
    const saved = .{ removed, removed_count, removed_pid, preload_copied };
    defer removed, removed_count, removed_pid, preload_copied = saved;
    removed = @splat(null);
    removed[0] = "MOD_ALLOC_OUT=/tmp/out.json";
    removed_count = 1;
    savePreload("LD_PRELOAD=/x/libmod_alloc.so");
    removed_pid = linux.getpid();
    const envp = [_:null]?[*:0]const u8{ "HOME=/root", "LD_PRELOAD=/y/other.so", "MOD_ALLOC_OUT=mine" };
    var bytes: usize = 0;
    const augmented = withOwnVariables(&envp, &bytes) orelse return error.TestUnexpectedResult;
    defer pages.unmap(@ptrCast(@constCast(augmented)), bytes);
    try std.testing.expectEqualStrings("HOME=/root", std.mem.span(augmented[0].?));
    try std.testing.expectEqualStrings("MOD_ALLOC_OUT=/tmp/out.json", std.mem.span(augmented[1].?));
    try std.testing.expectEqualStrings("LD_PRELOAD=/x/libmod_alloc.so", std.mem.span(augmented[2].?));
    try std.testing.expect(augmented[3] == null);
    // Another process (a forked child) gets nothing back.
    removed_pid = linux.getpid() + 1;
    try std.testing.expect(withOwnVariables(&envp, &bytes) == null);
}

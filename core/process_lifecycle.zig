//! The process's life as the library sees it, in one place: load (the
//! constructor), fork (three handlers), and exit (the report MOD_ALLOC_OUT
//! asks for, written by the destructor, by our `_exit`/`_Exit`, or before a
//! fatal signal). Threads' own lifecycle is `thread_lifecycle.zig`.
//!
//! Rules:
//! - Load: under preload the first malloc comes before the constructor
//!   (other libraries' constructors run first): that call starts the
//!   configuration (`configuration.start`), and nothing here may assume the
//!   constructor ran first.
//! - Fork: the forking thread's own calls while our locks are held pass
//!   through uncounted (`pauseForFork` comes before our first lock,
//!   `resumeAfterFork` after our last unlock), so neither another library's
//!   allocating fork handler nor a signal handler that allocates can wait
//!   on a lock this thread holds.
//! - Exit: one report per process (a forked child never writes its
//!   parent's file), written without allocating, from any stack.

const std = @import("std");
const configuration = @import("configuration.zig");
const settings = @import("settings.zig");
const options = @import("options.zig");
const threads = @import("thread_lifecycle.zig");
const thread_registry = @import("thread_registry.zig");
const live_table = @import("live_table.zig");
const large_table = @import("large_table.zig");
const got_patch = @import("got_patch.zig");
const site_table = @import("site_table.zig");
const timeline = @import("timeline.zig");
const dhat_writer = @import("dhat_writer.zig");
const environment = @import("environment.zig");
const exit_signals = @import("exit_signals.zig");
const go_program = @import("go_program.zig");
const foreign_allocator = @import("foreign_allocator.zig");
const hooks = @import("hooks.zig");

extern fn pthread_atfork(
    prepare: ?*const fn () callconv(.c) void,
    parent: ?*const fn () callconv(.c) void,
    child: ?*const fn () callconv(.c) void,
) callconv(.c) c_int;

// Fork handlers: the locks are held across fork so the child never
// inherits one mid-update from a thread that does not exist there. glibc
// runs prepare handlers last-registered-first, so in run-time mode handlers
// of libraries loaded before us run after our prepare, on this thread,
// while we hold our locks; and a signal may arrive at any point. Hence the
// pause comes before the first lock and ends after the last unlock.
fn forkPrepare() callconv(.c) void {
    const word = threads.pauseForFork();
    got_patch.lockForFork();
    thread_registry.lock();
    live_table.lockAll();
    threads.holdPausedWord(word);
}

fn forkParent() callconv(.c) void {
    live_table.unlockAll();
    thread_registry.unlock();
    got_patch.unlockAfterFork();
    threads.resumeAfterFork();
}

fn forkChild() callconv(.c) void {
    live_table.forceUnlockAll();
    threads.afterForkChild();
    got_patch.afterForkChild();
    timeline.afterForkChild();
    threads.resumeAfterFork();
}

/// The pid whose report MOD_ALLOC_OUT names (a forked child has another).
var out_pid: i32 = 0;

fn constructor() callconv(.c) void {
    configuration.start();
    _ = threads.ensureExitKey();
    _ = pthread_atfork(forkPrepare, forkParent, forkChild);
    const loaded = settings.current;
    const preloaded = configuration.isPreloaded();
    // The program's own allocator: stand aside for good (said on stderr).
    if (preloaded and foreign_allocator.detect() == .foreign) hooks.counting.store(false, .release);
    if (loaded.test_large_table_max) |limit| large_table.limitShardCapacity(limit);
    // Our exec*/kill/raise forward to libc's: find them however we were
    // loaded, so a call that reaches ours always has somewhere to go.
    environment.init();
    exit_signals.init(if (preloaded and loaded.signals) writeReportOnSignal else null);
    if (!preloaded) return;
    if (loaded.out_path != null) {
        out_pid = std.os.linux.getpid();
        warnIfGoProgram();
    }
    if (!loaded.follow_children) environment.removeOwnVariables();
}

/// Go's runtime ends the process with a raw exit_group: no exit handler,
/// destructor or `_exit` hook of ours runs, so the report cannot be written.
/// Said once, at start, instead of leaving the user to find no file.
fn warnIfGoProgram() void {
    if (!go_program.isGoExecutable("/proc/self/exe")) return;
    options.warn(&.{
        "mod-alloc: this is a Go program: Go exits without running exit handlers, so no MOD_ALLOC_OUT report ",
        "can be written at exit (the allocations are still counted; a report needs the program to call C's exit).",
    });
}

fn writeReportOnSignal() void {
    destructor();
}

var report_written: std.atomic.Value(bool) = .init(false);

/// At exit: the DHAT file MOD_ALLOC_OUT asked for (once). Only under
/// preload: at run time the TypeScript side writes its own reports. Not
/// when the program brought its own allocator: nothing was counted (said
/// at start).
fn destructor() callconv(.c) void {
    if (!configuration.isPreloaded() or foreign_allocator.active()) return;
    const path = settings.current.out_path orelse return;
    if (std.os.linux.getpid() != out_pid) return;
    if (report_written.swap(true, .acq_rel)) return;
    const status = dhat_writer.write(path);
    if (status == 0) {
        warnIfSitesOverflowed();
        return;
    }
    const why = switch (-status) {
        @backingInt(std.os.linux.E.ISDIR) => " (it is a directory: name a file)",
        @backingInt(std.os.linux.E.EXIST) => " (it is a FIFO, socket or block device, which is never replaced: name a file)",
        else => " (check that its directory exists and is writable)",
    };
    options.warn(&.{ "mod-alloc: could not write the DHAT file MOD_ALLOC_OUT=", std.mem.span(path), why });
}

/// Call sites that did not fit the table are one row of the report: say so
/// once, with the variable that makes room for them.
fn warnIfSitesOverflowed() void {
    const overflowed = site_table.overflowEvents();
    if (overflowed == 0) return;
    var count_text: [24]u8 = undefined;
    var buckets_text: [24]u8 = undefined;
    const count = std.fmt.bufPrint(&count_text, "{d}", .{overflowed}) catch "many";
    const buckets = std.fmt.bufPrint(&buckets_text, "{d}", .{site_table.bucketsCount()}) catch "?";
    options.warn(&.{
        "mod-alloc: ",                                                                                                                                  count, " allocations did not fit the call-site table (", buckets,
        " buckets) and share its overflow row: raise MOD_ALLOC_BUCKETS (up to 1048576; the profile command: --buckets) to give them rows of their own",
    });
}

/// Some programs (node) end with `_exit`, which runs no exit handlers:
/// under preload this `_exit` (and `_Exit`) writes the report first, then
/// ends the process as glibc's does.
fn exitWithoutHandlers(status: c_int) callconv(.c) noreturn {
    destructor();
    std.os.linux.exit_group(status);
}

comptime {
    @export(&exitWithoutHandlers, .{ .name = "_exit" });
    @export(&exitWithoutHandlers, .{ .name = "_Exit" });
    @export(&exit_signals.raise, .{ .name = "raise" });
    @export(&exit_signals.kill, .{ .name = "kill" });
    @export(&environment.execve, .{ .name = "execve" });
    @export(&environment.execv, .{ .name = "execv" });
    @export(&environment.execvp, .{ .name = "execvp" });
    @export(&environment.execvpe, .{ .name = "execvpe" });
}

const Init = *const fn () callconv(.c) void;
const init_entry: Init = &constructor;
const fini_entry: Init = &destructor;
comptime {
    @export(&init_entry, .{ .name = "mod_alloc_init_entry", .section = ".init_array", .visibility = .hidden });
    @export(&fini_entry, .{ .name = "mod_alloc_fini_entry", .section = ".fini_array", .visibility = .hidden });
}

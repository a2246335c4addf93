//! MOD_ALLOC_SIGNALS=1: a process that dies of Ctrl-C (SIGINT), SIGTERM or
//! SIGHUP still writes its report. Opt-in, because it installs signal
//! handlers in someone else's process; the `profile` command turns it on.
//!
//! Only a signal whose disposition is still the default at load time is
//! taken (an inherited SIG_IGN, as under nohup, stays). A program that
//! installs its own handler later replaces ours and exits its own way; the
//! report is then written at exit as usual.
//!
//! Deno installs its own handlers for all three at start-up (measured:
//! ours are replaced) and, when the program has no listener, resets the
//! default and calls libc's `raise`; Python does the same with
//! `kill(getpid(), SIGINT)` after a KeyboardInterrupt. So under preload
//! this library's `raise` and `kill` write the report first when a
//! handled signal is sent to this process with its default disposition.
//!
//! The handler writes the report, then lets the signal kill the process as
//! it would have, so the parent sees the same signal (exit 128+N in a
//! shell). While the report is written the signal is ignored: a terminal's
//! Ctrl-C reaches the whole process group, so the `profile` command's
//! forwarded copy arrives a moment after the terminal's own, and must not
//! kill the process halfway through its report (measured: it did). To
//! stop a process stuck there, SIGQUIT or SIGKILL still work.

const std = @import("std");
const linux = std.os.linux;
const elf_dynamic = @import("elf_dynamic.zig");

pub const handled = [_]linux.SIG{ .INT, .TERM, .HUP };

var on_signal: ?*const fn () void = null;

fn setDisposition(signal: linux.SIG, disposition: ?linux.Sigaction.handler_fn) void {
    const action: linux.Sigaction = .{ .handler = .{ .handler = disposition }, .mask = linux.sigemptyset(), .flags = 0 };
    _ = linux.sigaction(signal, &action, null);
}

/// Writes the report with `signal` ignored, then restores its default.
fn writeIgnoring(signal: linux.SIG, write_report: *const fn () void) void {
    setDisposition(signal, linux.SIG.IGN);
    write_report();
    setDisposition(signal, linux.SIG.DFL);
}

fn handler(signal: linux.SIG) callconv(.c) void {
    if (on_signal) |write_report| writeIgnoring(signal, write_report) else setDisposition(signal, linux.SIG.DFL);
    // Blocked until this handler returns (no SA_NODEFER), then fatal.
    _ = linux.tgkill(linux.getpid(), linux.gettid(), signal);
}

fn isHandled(signal: c_int) bool {
    for (handled) |one| if (@as(c_int, @intCast(@backingInt(one))) == signal) return true;
    return false;
}

fn isDefault(signal: linux.SIG) bool {
    var current: linux.Sigaction = undefined;
    if (linux.errno(linux.sigaction(signal, null, &current)) != .SUCCESS) return false;
    return current.handler.handler == linux.SIG.DFL;
}

const RaiseFn = *const fn (c_int) callconv(.c) c_int;
const KillFn = *const fn (linux.pid_t, c_int) callconv(.c) c_int;

/// libc's own `kill` and `raise`, looked up once at load time: a lookup
/// walks the loaded modules under the loader's lock, which a signal
/// handler calling `kill` must not take.
var real_kill: ?KillFn = null;
var real_raise: ?RaiseFn = null;

/// Writes the report if `signal` is about to kill this process.
fn beforeFatalSignal(signal: c_int) void {
    const write_report = on_signal orelse return;
    if (signal <= 0 or !isHandled(signal)) return;
    const sig: linux.SIG = @fromBackingInt(@intCast(@as(u32, @intCast(signal))));
    if (isDefault(sig)) writeIgnoring(sig, write_report);
}

/// libc's `kill`, after the report when it sends this process a signal
/// that kills it.
pub fn kill(pid: linux.pid_t, signal: c_int) callconv(.c) c_int {
    if (pid == linux.getpid()) beforeFatalSignal(signal);
    if (real_kill) |real| return real(pid, signal);
    return withErrno(linux.kill(pid, @fromBackingInt(@intCast(@as(u32, @bitCast(signal))))));
}

/// libc's `raise`, after the report when the signal is about to kill the
/// process.
pub fn raise(signal: c_int) callconv(.c) c_int {
    beforeFatalSignal(signal);
    if (real_raise) |real| return real(signal);
    return withErrno(linux.tgkill(linux.getpid(), linux.gettid(), @fromBackingInt(@intCast(@as(u32, @bitCast(signal))))));
}

/// A raw system call's result as libc returns it: 0, or -1 with errno set.
fn withErrno(result: usize) c_int {
    const e = linux.errno(result);
    if (e == .SUCCESS) return 0;
    std.c._errno().* = @backingInt(e);
    return -1;
}

/// At load time: finds libc's `kill` and `raise`, and with
/// `write_report` (MOD_ALLOC_SIGNALS=1) installs the handler for each
/// signal in `handled` still at its default.
pub fn init(write_report: ?*const fn () void) void {
    if (elf_dynamic.findInLibc("kill")) |address| real_kill = @ptrFromInt(address);
    if (elf_dynamic.findInLibc("raise")) |address| real_raise = @ptrFromInt(address);
    on_signal = write_report orelse return;
    for (handled) |signal| {
        var old: linux.Sigaction = undefined;
        if (linux.errno(linux.sigaction(signal, null, &old)) != .SUCCESS) continue;
        if (old.handler.handler != linux.SIG.DFL) continue;
        const action: linux.Sigaction = .{
            .handler = .{ .handler = handler },
            .mask = linux.sigemptyset(),
            .flags = linux.SA.RESTART,
        };
        _ = linux.sigaction(signal, &action, null);
    }
}

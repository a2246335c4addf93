//! Test build only (`build_options.test_build`): every spin lock taken can
//! raise a signal on the thread that just took it, so a test can run a
//! signal handler that allocates exactly where a lock is held (issue 16: a
//! handler that allocates on a thread inside a hook, a fork handler, a
//! claim, a release or the report writer must never wait on a lock that
//! thread holds). A release library has no probe: `lockTaken` is empty.
//!
//! The test program installs its handler first, then arms the probe with
//! `mod_alloc_test_signal_in_locks(signal, count)`: the next `count` lock
//! acquisitions each send `signal` to the locking thread. It arrives when
//! the kernel returns from `tgkill`, with the lock held. While the signal
//! is blocked (its handler is running) a lock raises nothing, or every
//! handler would leave the next one pending. The count bounds the run.

const std = @import("std");
const linux = std.os.linux;
const build_options = @import("build_options");

var signals_left: std.atomic.Value(u32) = .init(0);
var signal_number: std.atomic.Value(u32) = .init(0);

/// Called by `SpinLock.lock` once the lock is held.
pub inline fn lockTaken() void {
    if (!build_options.test_build) return;
    if (signals_left.load(.monotonic) == 0) return;
    raiseOne();
}

noinline fn raiseOne() void {
    const signal: linux.SIG = @fromBackingInt(@intCast(signal_number.load(.monotonic)));
    var blocked: linux.sigset_t = undefined;
    if (linux.errno(linux.sigprocmask(linux.SIG.BLOCK, null, &blocked)) != .SUCCESS) return;
    if (linux.sigismember(&blocked, signal)) return;
    var left = signals_left.load(.monotonic);
    while (left > 0) {
        left = signals_left.cmpxchgWeak(left, left - 1, .monotonic, .monotonic) orelse {
            _ = linux.tgkill(linux.getpid(), linux.gettid(), signal);
            return;
        };
    }
}

/// Arms the probe: the next `count` lock acquisitions each raise `signal`.
fn arm(signal: u32, count: u32) callconv(.c) i32 {
    if (signal == 0 or signal >= 65) return -1;
    signal_number.store(signal, .monotonic);
    signals_left.store(count, .monotonic);
    return 0;
}

/// Lock acquisitions still to raise a signal.
fn signalsLeft() callconv(.c) u32 {
    return signals_left.load(.monotonic);
}

comptime {
    if (build_options.test_build) {
        @export(&arm, .{ .name = "mod_alloc_test_signal_in_locks" });
        @export(&signalsLeft, .{ .name = "mod_alloc_test_signals_left" });
    }
}

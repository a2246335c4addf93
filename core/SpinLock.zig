//! A test-and-test-and-set lock for the short critical sections of the live
//! table, the thread registry, install, the timeline and the site history. A futex or pthread mutex is not
//! an option inside a malloc hook: neither may allocate, but a mutex may
//! call into code that does on contention paths we cannot see.
//!
//! The lock word holds its holder's thread pointer (0 = free), so a thread
//! can ask whether it already holds a lock (`heldByCaller`) before a hook it
//! reaches again (an atfork handler, a signal handler) spins on itself.

const std = @import("std");
const linux = std.os.linux;
const thread_tls = @import("thread_tls.zig");
const test_probes = @import("test_probes.zig");

const SpinLock = @This();

state: std.atomic.Value(usize) = .init(0),

/// Spins this many times before yielding the CPU: long enough to cover a
/// critical section of a few hundred nanoseconds, short enough not to burn a
/// core when the holder was preempted.
const spins_before_yield = 128;

pub fn lock(self: *SpinLock) void {
    const holder = thread_tls.threadPointer();
    std.debug.assert(holder != 0 and self.state.load(.monotonic) != holder);
    var spins: u32 = 0;
    while (true) {
        if (self.state.load(.monotonic) == 0 and
            self.state.cmpxchgWeak(0, holder, .acquire, .monotonic) == null)
        {
            test_probes.lockTaken();
            return;
        }
        spins += 1;
        if (spins < spins_before_yield) {
            std.atomic.spinLoopHint();
        } else {
            _ = linux.sched_yield();
            spins = 0;
        }
    }
}

/// Takes the lock only if it is free at once: for paths that must never
/// wait (a fold inside a hook drops its sample instead).
pub fn tryLock(self: *SpinLock) bool {
    const holder = thread_tls.threadPointer();
    std.debug.assert(holder != 0);
    if (self.state.load(.monotonic) != 0 or
        self.state.cmpxchgStrong(0, holder, .acquire, .monotonic) != null) return false;
    test_probes.lockTaken();
    return true;
}

/// Takes the lock within `attempts_max` tries (spinning, yielding every
/// 256th); false when it stays held. For readers whose holder may be this
/// very thread, interrupted by a signal handler that reads: waiting would
/// never end, so the caller goes without.
pub fn lockBounded(self: *SpinLock, attempts_max: u32) bool {
    var attempts: u32 = 0;
    while (!self.tryLock()) : (attempts += 1) {
        if (attempts == attempts_max) return false;
        if (attempts % 256 == 255) _ = linux.sched_yield() else std.atomic.spinLoopHint();
    }
    return true;
}

pub fn unlock(self: *SpinLock) void {
    std.debug.assert(self.heldByCaller());
    self.state.store(0, .release);
}

/// True when the calling thread holds the lock.
pub fn heldByCaller(self: *const SpinLock) bool {
    return self.state.load(.monotonic) == thread_tls.threadPointer();
}

/// For the child after fork: the holder thread no longer exists there.
pub fn forceUnlock(self: *SpinLock) void {
    self.state.store(0, .release);
}

test "tryLock and lockBounded fail while another thread holds the lock and succeed once it is free" {
    var spin: SpinLock = .{};
    const Other = struct {
        fn run(lock_ptr: *SpinLock, results: *[2]bool) void {
            results[0] = lock_ptr.tryLock();
            results[1] = lock_ptr.lockBounded(1000);
        }
    };
    spin.lock();
    var results: [2]bool = .{ true, true };
    (try std.Thread.spawn(.{}, Other.run, .{ &spin, &results })).join();
    try std.testing.expectEqual([2]bool{ false, false }, results);
    spin.unlock();
    try std.testing.expect(spin.tryLock());
    spin.unlock();
    try std.testing.expect(spin.lockBounded(0));
    try std.testing.expect(spin.heldByCaller());
    spin.unlock();
}

test "lock excludes a second locker until unlock, and knows its holder" {
    var spin: SpinLock = .{};
    spin.lock();
    try std.testing.expect(spin.heldByCaller());
    try std.testing.expect(spin.state.cmpxchgStrong(0, 1, .acquire, .monotonic) != null);
    const Other = struct {
        fn run(lock_ptr: *SpinLock, held: *bool) void {
            held.* = lock_ptr.heldByCaller();
        }
    };
    var held_elsewhere = true;
    (try std.Thread.spawn(.{}, Other.run, .{ &spin, &held_elsewhere })).join();
    try std.testing.expect(!held_elsewhere);
    spin.unlock();
    try std.testing.expect(!spin.heldByCaller());
    try std.testing.expect(spin.state.cmpxchgStrong(0, 1, .acquire, .monotonic) == null);
}

//! A test-and-test-and-set lock for the short critical sections of the live
//! table and the overflow counters. A futex or pthread mutex is not an
//! option inside a malloc hook: neither may allocate, but a mutex may call
//! into code that does on contention paths we cannot see.

const std = @import("std");
const linux = std.os.linux;

const SpinLock = @This();

state: std.atomic.Value(u32) = .init(0),

/// Spins this many times before yielding the CPU: long enough to cover a
/// critical section of a few hundred nanoseconds, short enough not to burn a
/// core when the holder was preempted.
const spins_before_yield = 128;

pub fn lock(self: *SpinLock) void {
    var spins: u32 = 0;
    while (true) {
        if (self.state.load(.monotonic) == 0 and
            self.state.cmpxchgWeak(0, 1, .acquire, .monotonic) == null) return;
        spins += 1;
        if (spins < spins_before_yield) {
            std.atomic.spinLoopHint();
        } else {
            _ = linux.sched_yield();
            spins = 0;
        }
    }
}

pub fn unlock(self: *SpinLock) void {
    std.debug.assert(self.state.load(.monotonic) == 1);
    self.state.store(0, .release);
}

/// For the child after fork: the holder thread no longer exists there.
pub fn forceUnlock(self: *SpinLock) void {
    self.state.store(0, .release);
}

test "lock excludes a second locker until unlock" {
    var spin: SpinLock = .{};
    spin.lock();
    try std.testing.expect(spin.state.cmpxchgStrong(0, 1, .acquire, .monotonic) != null);
    spin.unlock();
    try std.testing.expect(spin.state.cmpxchgStrong(0, 1, .acquire, .monotonic) == null);
}

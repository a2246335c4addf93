//! Wall time for the profiler's own bookkeeping (the timeline's points, the
//! site history's spacing, the sampler's seeds): CLOCK_MONOTONIC through
//! libc, which reads it from the vDSO without a system call. Never on the
//! per-allocation path: the logical clock there is `event_clock.zig`.

const std = @import("std");
const linux = std.os.linux;

extern "c" fn clock_gettime(clock: c_int, time: *linux.timespec) c_int;

/// CLOCK_MONOTONIC in nanoseconds.
pub fn monotonicNs() u64 {
    var time: linux.timespec = undefined;
    // CLOCK_MONOTONIC cannot fail with a valid pointer; 0 if it ever does.
    if (clock_gettime(@backingInt(linux.CLOCK.MONOTONIC), &time) != 0) return 0;
    return @as(u64, @intCast(time.sec)) * std.time.ns_per_s + @as(u64, @intCast(time.nsec));
}

test "monotonic time does not go backwards" {
    const first = monotonicNs();
    const second = monotonicNs();
    try std.testing.expect(first > 0 and second >= first);
}

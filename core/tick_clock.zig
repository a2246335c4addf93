//! A cheap monotonic clock for block lifetimes: the CPU's time-stamp counter
//! (x86_64 rdtsc, aarch64 cntvct_el0), a few nanoseconds to read. The vDSO
//! clock_gettime measured over 100 ns per call on this project's machines
//! (a virtualised clock source), a third of all Tier 2 time. Ticks become
//! nanoseconds only in reports, by calibrating against the real clock.

const std = @import("std");
const builtin = @import("builtin");

pub inline fn ticks() u64 {
    return switch (builtin.cpu.arch) {
        .x86_64 => blk: {
            var low: u32 = undefined;
            var high: u32 = undefined;
            asm volatile ("rdtsc"
                : [low] "={eax}" (low),
                  [high] "={edx}" (high),
            );
            break :blk (@as(u64, high) << 32) | low;
        },
        .aarch64 => asm volatile ("mrs %[ret], cntvct_el0"
            : [ret] "=r" (-> u64),
        ),
        else => @compileError("unsupported architecture"),
    };
}

extern fn clock_gettime(clock: c_int, out: *std.os.linux.timespec) callconv(.c) c_int;
const clock_monotonic = 1;

fn nowNs() u64 {
    var now: std.os.linux.timespec = undefined;
    if (clock_gettime(clock_monotonic, &now) != 0) return 0;
    return @as(u64, @intCast(now.sec)) * 1_000_000_000 + @as(u64, @intCast(now.nsec));
}

/// The reference point taken when Tier 2 was enabled.
var start_ticks: u64 = 0;
var start_ns: u64 = 0;

pub fn start() void {
    start_ns = nowNs();
    start_ticks = ticks();
}

/// Nanoseconds per tick, measured over the time since `start` (at least
/// 1 ms of it, else the estimate from aarch64's counter frequency or 1).
pub fn nsPerTick() f64 {
    const elapsed_ticks = ticks() -% start_ticks;
    const elapsed_ns = nowNs() -| start_ns;
    if (elapsed_ns >= 1_000_000 and elapsed_ticks > 0) {
        return @as(f64, @floatFromInt(elapsed_ns)) / @as(f64, @floatFromInt(elapsed_ticks));
    }
    if (builtin.cpu.arch == .aarch64) {
        const frequency = asm volatile ("mrs %[ret], cntfrq_el0"
            : [ret] "=r" (-> u64),
        );
        if (frequency > 0) return 1e9 / @as(f64, @floatFromInt(frequency));
    }
    return 1;
}

test "ticks move forward" {
    const first = ticks();
    var spin: u64 = 0;
    while (spin < 100_000) : (spin += 1) std.mem.doNotOptimizeAway(spin);
    try std.testing.expect(ticks() > first);
}

//! The clock of block lifetimes: a logical one that counts allocation
//! events, as DHAT's clock counts instructions. Reading the CPU's time
//! stamp counter measured ~10 ns here, twice per block, about as much as
//! glibc's whole malloc/free; this clock costs an increment.
//!
//! Each thread takes 64 ticks at a time from the shared counter and hands
//! them out to its own events, so threads touch the shared cache line once
//! per 64 events. Times from different threads therefore agree to within
//! 64 events per thread; a lifetime is "how many allocations the process
//! made while the block lived", within that margin.

const std = @import("std");

const batch = 64;

var shared: std.atomic.Value(u64) = .init(0);

/// A thread's current batch of ticks (kept in its record).
pub const Local = struct { next: u64 = 0, end: u64 = 0 };

/// The current time for the thread that owns `local`.
pub inline fn now(local: *Local) u64 {
    if (local.next == local.end) {
        local.next = shared.fetchAdd(batch, .monotonic);
        local.end = local.next + batch;
    }
    const time = local.next;
    local.next += 1;
    return time;
}

/// Ticks handed out so far: the time of "now" for a report.
pub fn elapsed() u64 {
    return shared.load(.monotonic);
}

test "times of one thread increase and batches do not overlap" {
    var one: Local = .{};
    var two: Local = .{};
    const first = now(&one);
    const second = now(&one);
    try std.testing.expect(second == first + 1);
    const other = now(&two);
    try std.testing.expect(other >= first + batch or other + batch <= first);
}

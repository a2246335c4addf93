//! Poisson sampling by bytes (`MOD_ALLOC_SAMPLE`): each thread counts down
//! a byte budget drawn from an exponential distribution of mean
//! `interval_bytes`; the allocation that takes the budget below zero is
//! sampled and a fresh budget drawn. Sample points then fall on the byte
//! stream as a Poisson process, so an allocation of `s` bytes is sampled
//! with probability p = 1 - e^(-s/R) whatever came before it
//! (memorylessness: the overshoot past the point is dropped, not carried).
//!
//! Each sample stands for 1/p blocks and s/p bytes (Horvitz-Thompson):
//! unbiased per site. Its contribution to the variance of those sums is
//! estimated per sample too (`Weights`), so a report can print a standard
//! error beside every estimate.
//!
//! Frees are matched without a lookup for the unsampled majority: a
//! sampled block's address is marked in `filter`, 4,096 one-byte counters
//! (4 KiB, mostly in L1 on a busy thread). A free looks up the live table
//! only when its counter is non-zero; a false positive costs one lookup
//! that finds nothing.

const std = @import("std");
const wall_clock = @import("wall_clock.zig");

/// Largest interval: budgets and weights stay well inside i64/f64 range.
pub const interval_max: u32 = 1 << 30;

/// 0 while sampling is off. Set once, before the hooks look at it.
var interval_bytes: std.atomic.Value(u64) = .init(0);
/// Non-zero: threads seed from it and their claim order (reproducible runs).
var seed_fixed: u64 = 0;
var threads_seeded: std.atomic.Value(u64) = .init(0);

pub inline fn enabled() bool {
    return interval_bytes.load(.monotonic) != 0;
}

pub fn intervalBytes() u64 {
    return interval_bytes.load(.monotonic);
}

/// Turns sampling on (once: callers hold the configure lock).
pub fn enable(interval: u64, seed: u64) void {
    std.debug.assert(interval >= 1 and interval <= interval_max);
    std.debug.assert(!enabled());
    seed_fixed = seed;
    interval_bytes.store(interval, .release);
}

/// A thread's sampling state, in its record.
pub const ThreadSampler = struct {
    /// Bytes left before the next sample; below zero = sample now.
    budget_bytes: i64 = 0,
    /// xorshift64* state; 0 = not seeded yet (the first allocation seeds).
    random: u64 = 0,

    /// The hot path: true when this allocation of `size` bytes is sampled.
    pub inline fn take(state: *ThreadSampler, size: usize) bool {
        state.budget_bytes -%= @bitCast(@as(u64, size));
        if (state.budget_bytes >= 0) return false;
        return state.crossed(size);
    }

    /// The budget went below zero: sample (drawing the next budget), or,
    /// for a thread's first allocation, seed and draw the first budget.
    noinline fn crossed(state: *ThreadSampler, size: usize) bool {
        @branchHint(.unlikely);
        if (state.random == 0) {
            state.random = seedForThread();
            state.budget_bytes = state.nextBudget() -% @as(i64, @bitCast(@as(u64, size)));
            if (state.budget_bytes >= 0) return false;
        }
        state.budget_bytes = state.nextBudget();
        return true;
    }

    fn nextRandom(state: *ThreadSampler) u64 {
        var x = state.random;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.random = x;
        return x *% 0x2545F4914F6CDD1D;
    }

    /// An exponential draw of mean R: -R ln(U), U uniform in (0, 1]. The
    /// largest draw is R ln(2^53), about 37 R.
    fn nextBudget(state: *ThreadSampler) i64 {
        const uniform = (@as(f64, @floatFromInt(state.nextRandom() >> 11)) + 1) / 9007199254740992.0;
        const interval: f64 = @floatFromInt(intervalBytes());
        return @intFromFloat(@ceil(-interval * @log(uniform)));
    }
};

fn splitmix(value: u64) u64 {
    var z = value +% 0x9E3779B97F4A7C15;
    z = (z ^ (z >> 30)) *% 0xBF58476D1CE4E5B9;
    z = (z ^ (z >> 27)) *% 0x94D049BB133111EB;
    return z ^ (z >> 31);
}

fn seedForThread() u64 {
    const ordinal = threads_seeded.fetchAdd(1, .monotonic);
    const base = if (seed_fixed != 0) seed_fixed else wall_clock.monotonicNs() ^ (@as(u64, @bitCast(@as(i64, std.os.linux.gettid()))) << 32);
    const seed = splitmix(base +% ordinal *% 0xD1B54A32D192ED03);
    return if (seed == 0) 1 else seed;
}

/// What one sample of `size` bytes stands for, rounded to the integers the
/// site table keeps: `blocks` (1/p, rounded up or down at random, by a hash
/// of the block's address so the free can recompute it) and `bytes`
/// (s/p; never below R, so rounding is negligible), with each one's
/// variance contribution: blocks k(k-1) (unbiased for the sum's variance
/// because p E[k] = 1), bytes b(b-s)/R in units of R bytes^2 (a standard
/// error is sqrt(R x sum)).
pub const Weights = struct {
    blocks: i64,
    bytes: i64,
    variance_blocks: u64,
    variance_bytes_per_interval: u64,
};

pub fn weightsOf(size: u64, address: usize) Weights {
    const interval: f64 = @floatFromInt(intervalBytes());
    std.debug.assert(interval > 0 and size > 0);
    const s: f64 = @floatFromInt(size);
    const probability = -std.math.expm1(-s / interval);
    const blocks_exact = 1.0 / probability;
    const whole = @floor(blocks_exact);
    const fraction = blocks_exact - whole;
    const pick = @as(f64, @floatFromInt(splitmix(address) >> 11)) / 9007199254740992.0;
    const blocks: f64 = if (pick < fraction) whole + 1 else whole;
    const bytes = @round(s * blocks_exact);
    return .{
        .blocks = @intFromFloat(blocks),
        .bytes = @intFromFloat(bytes),
        .variance_blocks = @intFromFloat(blocks * (blocks - 1)),
        .variance_bytes_per_interval = @intFromFloat(@round(bytes * @max(0, bytes - s) / interval)),
    };
}

/// Counters of sampled addresses (see the file comment). A counter that
/// reaches 255 stays there (a permanent false positive for its addresses,
/// never a missed sampled free).
const filter_bits = 12;
var filter: [1 << filter_bits]std.atomic.Value(u8) = @splat(.init(0));
const saturated: u8 = 255;

inline fn filterIndex(address: usize) usize {
    // glibc blocks are 16-byte aligned; the multiply spreads neighbours.
    return ((address >> 4) *% 0x9E3779B97F4A7C15) >> (64 - filter_bits);
}

/// The free path's test: false = certainly not a sampled block.
pub inline fn mayBeSampled(address: usize) bool {
    return filter[filterIndex(address)].raw != 0;
}

pub fn mark(address: usize) void {
    const counter = &filter[filterIndex(address)];
    var now = counter.load(.monotonic);
    while (now != saturated) {
        now = counter.cmpxchgWeak(now, now + 1, .monotonic, .monotonic) orelse return;
    }
}

pub fn unmark(address: usize) void {
    const counter = &filter[filterIndex(address)];
    var now = counter.load(.monotonic);
    while (now != saturated and now != 0) {
        now = counter.cmpxchgWeak(now, now - 1, .monotonic, .monotonic) orelse return;
    }
}

/// The filter's static bytes (for `mod_alloc_memory_bytes`).
pub fn filterBytes() usize {
    return @sizeOf(@TypeOf(filter));
}

const testing = std.testing;

test "weights: a block far above the interval stands for itself, a small one for about R/s" {
    interval_bytes.store(1024, .monotonic);
    defer interval_bytes.store(0, .monotonic);
    const big = weightsOf(1 << 20, 0x1000);
    try testing.expectEqual(@as(i64, 1), big.blocks);
    try testing.expectEqual(@as(i64, 1 << 20), big.bytes);
    try testing.expectEqual(@as(u64, 0), big.variance_bytes_per_interval);
    const small = weightsOf(8, 0x2000);
    try testing.expect(small.blocks == 128 or small.blocks == 129);
    try testing.expect(small.bytes >= 1024 and small.bytes <= 1030);
}

test "budgets average the interval and sampled sizes match 1 - e^(-s/R)" {
    interval_bytes.store(4096, .monotonic);
    defer interval_bytes.store(0, .monotonic);
    var state: ThreadSampler = .{ .random = 12345 };
    var sampled: u64 = 0;
    const rounds = 200_000;
    for (0..rounds) |_| {
        if (state.take(1024)) sampled += 1;
    }
    const ratio: f64 = -1024.0 / 4096.0;
    const expected = rounds * -std.math.expm1(ratio);
    const got: f64 = @floatFromInt(sampled);
    // Binomial sd is about 190 here: 5 sd.
    try testing.expect(@abs(got - expected) < 1000);
}

test "a marked address is found until unmarked; a saturated counter stays" {
    try testing.expect(!mayBeSampled(0x5550));
    mark(0x5550);
    try testing.expect(mayBeSampled(0x5550));
    unmark(0x5550);
    try testing.expect(!mayBeSampled(0x5550));
    for (0..300) |_| mark(0x7770);
    unmark(0x7770);
    try testing.expect(mayBeSampled(0x7770));
}

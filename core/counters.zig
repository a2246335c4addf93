//! Tier 1 counters, kept per thread.
//!
//! Each thread owns one cache-line-aligned `ThreadCounters` and updates it
//! with plain loads and stores: no shared cache line on the hot path (shared
//! atomics measured 6x slower at two threads). Snapshots of "all threads"
//! sum every slot. The process-wide high-water mark needs a shared value, so
//! each thread folds its change of live bytes into `global` only when it has
//! drifted by `flush_bytes`; the all-threads peak is therefore exact to
//! within `flush_bytes` per thread, while a thread's own peak is exact.
//!
//! Threads are told apart by their thread pointer (fs / tpidr_el0), not by a
//! `threadlocal`: a TLS variable of a dlopen-ed library can call malloc on
//! first touch (`__tls_get_addr`), which would recurse into the hook.

const std = @import("std");
const builtin = @import("builtin");
const abi = @import("abi.zig");
const SpinLock = @import("SpinLock.zig");

/// Slots for this many distinct threads alive at once (glibc reuses the
/// thread pointer of an exited thread for the next one, and with it the
/// slot). Past it, threads share `overflow`, which takes a lock: slower, still
/// exact. 1024 x 128 B = 128 KiB of zero pages until used.
pub const threads_max = 1 << threads_bits;
const threads_bits = 10;

/// Change of a thread's live bytes that is folded into the shared peak.
pub const flush_bytes: i64 = 64 * 1024;
/// Change of a thread's live blocks that is folded into the shared peak.
pub const flush_blocks: i64 = 64;

pub const ThreadCounters = extern struct {
    alloc_count: u64 = 0,
    free_count: u64 = 0,
    total_bytes: u64 = 0,
    current_bytes: i64 = 0,
    live_count: i64 = 0,
    /// High-water marks up to the last `markPeak`; the thread's peak is the
    /// larger of these and the `mark_peak_*` values, so the hot path keeps
    /// only one running maximum.
    peak_bytes: i64 = 0,
    peak_live_count: i64 = 0,
    foreign_count: u64 = 0,
    failed_count: u64 = 0,
    /// Highest `current_bytes` / `live_count` since the last `markPeak`.
    mark_peak_bytes: i64 = 0,
    mark_peak_live: i64 = 0,
    /// `current_bytes` / `live_count` as last folded into `global`.
    flushed_bytes: i64 = 0,
    flushed_live: i64 = 0,
    /// Set while this thread is inside a hook: a nested call (a signal
    /// handler that allocates) must not touch the tables again.
    in_hook: u32 = 0,
    _pad: [20]u8 = undefined,

    /// Counted by the owner thread only; other threads read fields with
    /// relaxed loads, which see a whole value on 64-bit targets.
    fn put(field: anytype, value: @TypeOf(field.*)) void {
        @atomicStore(@TypeOf(field.*), field, value, .monotonic);
    }

    fn get(field: anytype) @TypeOf(field.*) {
        return @atomicLoad(@TypeOf(field.*), field, .monotonic);
    }

    /// One allocation event (a realloc too): `bytes_new` is what the block
    /// holds now, `bytes_old` what it held before (0 for a fresh block),
    /// `blocks` the change of live blocks.
    pub inline fn countAlloc(self: *ThreadCounters, bytes_old: u64, bytes_new: u64, blocks: i64) void {
        const delta: i64 = @as(i64, @bitCast(bytes_new)) -% @as(i64, @bitCast(bytes_old));
        put(&self.alloc_count, self.alloc_count + 1);
        if (bytes_new > bytes_old) put(&self.total_bytes, self.total_bytes + (bytes_new - bytes_old));
        self.changeLive(delta, blocks);
    }

    pub inline fn countFree(self: *ThreadCounters, bytes: u64) void {
        put(&self.free_count, self.free_count + 1);
        self.changeLive(-@as(i64, @bitCast(bytes)), -1);
    }

    pub fn countForeign(self: *ThreadCounters) void {
        put(&self.foreign_count, self.foreign_count + 1);
    }

    pub fn countFailed(self: *ThreadCounters) void {
        put(&self.failed_count, self.failed_count + 1);
    }

    inline fn changeLive(self: *ThreadCounters, bytes: i64, blocks: i64) void {
        const current = self.current_bytes + bytes;
        const live = self.live_count + blocks;
        put(&self.current_bytes, current);
        put(&self.live_count, live);
        if (current > self.mark_peak_bytes) put(&self.mark_peak_bytes, current);
        if (live > self.mark_peak_live) put(&self.mark_peak_live, live);
        const drift_bytes = current - self.flushed_bytes;
        const drift_live = live - self.flushed_live;
        if (drift_bytes >= flush_bytes or drift_bytes <= -flush_bytes or
            drift_live >= flush_blocks or drift_live <= -flush_blocks)
        {
            self.flush(drift_bytes, drift_live);
        }
    }

    fn flush(self: *ThreadCounters, drift_bytes: i64, drift_live: i64) void {
        @branchHint(.cold);
        global.fold(drift_bytes, drift_live);
        self.flushed_bytes = self.current_bytes;
        self.flushed_live = self.live_count;
    }

    /// The thread's own high-water marks (owner thread only).
    fn peakBytes(self: *const ThreadCounters) i64 {
        return @max(get(&self.peak_bytes), get(&self.mark_peak_bytes));
    }

    fn peakLive(self: *const ThreadCounters) i64 {
        return @max(get(&self.peak_live_count), get(&self.mark_peak_live));
    }
};

comptime {
    std.debug.assert(@sizeOf(ThreadCounters) == 128);
}

/// Shared, process-wide values: updated once per `flush_bytes` per thread.
const Global = struct {
    current_bytes: std.atomic.Value(i64) = .init(0),
    live_count: std.atomic.Value(i64) = .init(0),
    peak_bytes: std.atomic.Value(i64) = .init(0),
    peak_live_count: std.atomic.Value(i64) = .init(0),
    mark_peak_bytes: std.atomic.Value(i64) = .init(0),
    mark_peak_live: std.atomic.Value(i64) = .init(0),

    fn fold(self: *Global, bytes: i64, blocks: i64) void {
        const current = self.current_bytes.fetchAdd(bytes, .monotonic) + bytes;
        const live = self.live_count.fetchAdd(blocks, .monotonic) + blocks;
        _ = self.peak_bytes.fetchMax(current, .monotonic);
        _ = self.peak_live_count.fetchMax(live, .monotonic);
        _ = self.mark_peak_bytes.fetchMax(current, .monotonic);
        _ = self.mark_peak_live.fetchMax(live, .monotonic);
    }
};

var global: Global = .{};

/// Values subtracted from the all-threads sums after `reset`.
var reset_base: ThreadCounters = .{};

var slots: [threads_max]ThreadCounters align(128) = @splat(.{});
var slot_owners: [threads_max]std.atomic.Value(usize) = @splat(.init(0));

/// Shared by threads that found no free slot; guarded by `overflow_lock`.
var overflow: ThreadCounters align(128) = .{};
var overflow_lock: SpinLock = .{};

pub fn threadPointer() usize {
    return switch (builtin.cpu.arch) {
        .x86_64 => asm volatile ("mov %%fs:0, %[ret]"
            : [ret] "=r" (-> usize),
        ),
        .aarch64 => asm volatile ("mrs %[ret], tpidr_el0"
            : [ret] "=r" (-> usize),
        ),
        else => @compileError("unsupported architecture"),
    };
}

/// Thread pointers are page-aligned-ish addresses near the top of each
/// thread's stack: one multiply spreads their page numbers over the slots.
fn mix(value: usize) usize {
    return ((value >> 12) *% 0x9E3779B97F4A7C15) >> (64 - threads_bits);
}

/// A handle on the counters the calling thread may update. A bare
/// pointer on purpose: a struct with a bool beside it was built in memory
/// byte by byte and read back whole, a store-forwarding stall measured at a
/// third of the hook's time.
pub const Handle = struct {
    counters: *ThreadCounters,

    /// True for the shared overflow counters (a thread without a slot).
    pub fn shared(self: Handle) bool {
        return self.counters == &overflow;
    }

    pub fn release(self: Handle) void {
        @atomicStore(u32, &self.counters.in_hook, 0, .monotonic);
        if (self.shared()) overflow_lock.unlock();
    }
};

/// The calling thread's counters, marked busy; null when the thread is
/// already inside a hook (the caller then forwards without counting).
/// Pair with `Handle.release`.
pub inline fn enter() ?Handle {
    const counters = ownSlot() orelse {
        overflow_lock.lock();
        return .{ .counters = &overflow };
    };
    if (counters.in_hook != 0) return null;
    @atomicStore(u32, &counters.in_hook, 1, .monotonic);
    return .{ .counters = counters };
}

/// The slot index of a (non-overflow) counters pointer from `enter`.
pub fn slotIndexOf(counters: *const ThreadCounters) usize {
    const index = (@intFromPtr(counters) - @intFromPtr(&slots)) / @sizeOf(ThreadCounters);
    std.debug.assert(index < threads_max);
    return index;
}

fn ownSlot() ?*ThreadCounters {
    const index = ownSlotIndex() orelse return null;
    return &slots[index];
}

/// Index of the calling thread's slot, claiming a free one on first use;
/// null when all `threads_max` slots are taken.
pub inline fn ownSlotIndex() ?usize {
    const key = threadPointer();
    std.debug.assert(key != 0);
    var index = mix(key) % threads_max;
    var probes: usize = 0;
    while (probes < threads_max) : (probes += 1) {
        const owner = slot_owners[index].load(.acquire);
        if (owner == key) return index;
        if (owner == 0) {
            if (slot_owners[index].cmpxchgStrong(0, key, .acq_rel, .acquire)) |winner| {
                if (winner == key) return index;
            } else return index;
        }
        index = (index + 1) % threads_max;
    }
    return null;
}

/// Sum of every slot, read with relaxed loads: exact once the threads are
/// quiet, and never torn.
fn sumAll() ThreadCounters {
    var sum: ThreadCounters = .{};
    for (&slots, &slot_owners) |*slot, *owner| {
        if (owner.load(.acquire) == 0) continue;
        addInto(&sum, slot);
    }
    overflow_lock.lock();
    addInto(&sum, &overflow);
    overflow_lock.unlock();
    return sum;
}

fn addInto(sum: *ThreadCounters, slot: *const ThreadCounters) void {
    const get = ThreadCounters.get;
    sum.alloc_count += get(&slot.alloc_count);
    sum.free_count += get(&slot.free_count);
    sum.total_bytes += get(&slot.total_bytes);
    sum.current_bytes += get(&slot.current_bytes);
    sum.live_count += get(&slot.live_count);
    sum.foreign_count += get(&slot.foreign_count);
    sum.failed_count += get(&slot.failed_count);
}

fn write(out: *[abi.stats_fields_count]f64, field: abi.StatsField, value: anytype) void {
    out[@intFromEnum(field)] = @floatFromInt(value);
}

/// Fills `out` in `abi.StatsField` order.
pub fn snapshot(scope: abi.Scope, out: *[abi.stats_fields_count]f64) void {
    switch (scope) {
        .all => {
            const sum = sumAll();
            const get = ThreadCounters.get;
            const peak_bytes = @max(global.peak_bytes.fetchMax(sum.current_bytes, .monotonic), sum.current_bytes);
            const peak_live = @max(global.peak_live_count.fetchMax(sum.live_count, .monotonic), sum.live_count);
            write(out, .alloc_count, sum.alloc_count -% get(&reset_base.alloc_count));
            write(out, .free_count, sum.free_count -% get(&reset_base.free_count));
            write(out, .total_bytes, sum.total_bytes -% get(&reset_base.total_bytes));
            write(out, .foreign_count, sum.foreign_count -% get(&reset_base.foreign_count));
            write(out, .failed_count, sum.failed_count -% get(&reset_base.failed_count));
            write(out, .current_bytes, sum.current_bytes);
            write(out, .live_count, sum.live_count);
            write(out, .peak_bytes, peak_bytes);
            write(out, .peak_live_count, peak_live);
        },
        .current_thread => {
            const self = ownSlot() orelse &overflow;
            const get = ThreadCounters.get;
            write(out, .alloc_count, get(&self.alloc_count));
            write(out, .free_count, get(&self.free_count));
            write(out, .total_bytes, get(&self.total_bytes));
            write(out, .foreign_count, get(&self.foreign_count));
            write(out, .failed_count, get(&self.failed_count));
            write(out, .current_bytes, get(&self.current_bytes));
            write(out, .live_count, get(&self.live_count));
            write(out, .peak_bytes, self.peakBytes());
            write(out, .peak_live_count, self.peakLive());
        },
    }
}

/// Zeroes the event counts of the all-threads view and re-bases its peaks on
/// the live values of now. Live bytes and blocks are not zeroed: they still
/// describe memory that exists.
pub fn reset() void {
    const sum = sumAll();
    const put = ThreadCounters.put;
    put(&reset_base.alloc_count, sum.alloc_count);
    put(&reset_base.free_count, sum.free_count);
    put(&reset_base.total_bytes, sum.total_bytes);
    put(&reset_base.foreign_count, sum.foreign_count);
    put(&reset_base.failed_count, sum.failed_count);
    global.peak_bytes.store(sum.current_bytes, .monotonic);
    global.peak_live_count.store(sum.live_count, .monotonic);
}

/// Returns the highest live bytes (out[0]) and blocks (out[1]) seen since the
/// previous call for the same scope, and starts a new interval at the
/// current values. Profilers use it to give each scope its own peak.
pub fn markPeak(scope: abi.Scope, out: *[2]f64) void {
    switch (scope) {
        .all => {
            const sum = sumAll();
            const bytes = @max(global.mark_peak_bytes.swap(sum.current_bytes, .monotonic), sum.current_bytes);
            const live = @max(global.mark_peak_live.swap(sum.live_count, .monotonic), sum.live_count);
            out.* = .{ @floatFromInt(bytes), @floatFromInt(live) };
        },
        .current_thread => {
            const handle = enter() orelse return;
            defer handle.release();
            const self = handle.counters;
            out.* = .{ @floatFromInt(self.mark_peak_bytes), @floatFromInt(self.mark_peak_live) };
            ThreadCounters.put(&self.peak_bytes, self.peakBytes());
            ThreadCounters.put(&self.peak_live_count, self.peakLive());
            ThreadCounters.put(&self.mark_peak_bytes, self.current_bytes);
            ThreadCounters.put(&self.mark_peak_live, self.live_count);
        },
    }
}

/// After fork, only the forking thread exists in the child.
pub fn afterForkChild() void {
    overflow_lock.forceUnlock();
}

pub fn lockForFork() void {
    overflow_lock.lock();
}

pub fn unlockAfterFork() void {
    overflow_lock.unlock();
}

const testing = std.testing;

fn readField(out: *const [abi.stats_fields_count]f64, field: abi.StatsField) f64 {
    return out[@intFromEnum(field)];
}

test "realloc growth adds the delta to total bytes and a shrink adds nothing" {
    var counters: ThreadCounters = .{};
    counters.countAlloc(0, 100, 1);
    counters.countAlloc(100, 300, 0);
    counters.countAlloc(300, 50, 0);
    try testing.expectEqual(@as(u64, 3), counters.alloc_count);
    try testing.expectEqual(@as(u64, 300), counters.total_bytes);
    try testing.expectEqual(@as(i64, 50), counters.current_bytes);
    try testing.expectEqual(@as(i64, 300), counters.peakBytes());
    try testing.expectEqual(@as(i64, 1), counters.live_count);
}

test "free lowers current bytes and live count but not the peaks" {
    var counters: ThreadCounters = .{};
    counters.countAlloc(0, 64, 1);
    counters.countAlloc(0, 32, 1);
    counters.countFree(64);
    try testing.expectEqual(@as(i64, 32), counters.current_bytes);
    try testing.expectEqual(@as(i64, 1), counters.live_count);
    try testing.expectEqual(@as(i64, 96), counters.peakBytes());
    try testing.expectEqual(@as(i64, 2), counters.peakLive());
}

test "many threads counting balance exactly in the all-threads sum" {
    const threads_count = 8;
    const rounds = 20_000;
    var before: [abi.stats_fields_count]f64 = undefined;
    snapshot(.all, &before);
    const Worker = struct {
        fn run() void {
            for (0..rounds) |i| {
                const handle = enter().?;
                handle.counters.countAlloc(0, 16 + i % 100, 1);
                handle.release();
                const again = enter().?;
                again.counters.countFree(16 + i % 100);
                again.release();
            }
        }
    };
    var threads: [threads_count]std.Thread = undefined;
    for (&threads) |*thread| thread.* = try std.Thread.spawn(.{}, Worker.run, .{});
    for (threads) |thread| thread.join();
    var after: [abi.stats_fields_count]f64 = undefined;
    snapshot(.all, &after);
    const events = readField(&after, .alloc_count) - readField(&before, .alloc_count);
    try testing.expectEqual(@as(f64, threads_count * rounds), events);
    try testing.expectEqual(readField(&before, .current_bytes), readField(&after, .current_bytes));
    try testing.expectEqual(readField(&before, .live_count), readField(&after, .live_count));
}

test "markPeak reports the interval's high-water mark and restarts at current" {
    var peak: [2]f64 = undefined;
    markPeak(.current_thread, &peak);
    const handle = enter().?;
    handle.counters.countAlloc(0, 1000, 1);
    handle.counters.countFree(1000);
    handle.release();
    markPeak(.current_thread, &peak);
    var now: [abi.stats_fields_count]f64 = undefined;
    snapshot(.current_thread, &now);
    try testing.expectEqual(readField(&now, .current_bytes) + 1000, peak[0]);
    markPeak(.current_thread, &peak);
    try testing.expectEqual(readField(&now, .current_bytes), peak[0]);
}

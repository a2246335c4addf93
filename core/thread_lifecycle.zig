//! The life of a thread record: claim on the thread's first hooked call,
//! use from the hooks (`enter`/`leave`), release when the thread exits,
//! reuse by a later thread. The rules, in one place:
//!
//! - The thread's TLS word (`thread_tls.zig`) holds its record or a state.
//!   `enter` is the hot path: one TLS load, one flag check.
//! - Claim: TLS set to `busy` first (calls the claim itself causes, such as
//!   pthread_setspecific's calloc for a key past the first 32, forward
//!   uncounted), a record taken from the registry and reset, the exit key
//!   armed with it, then TLS points at it.
//! - Exit: a pthread key whose destructor releases the record. Keys below
//!   32 (`PTHREAD_KEY_2NDLEVEL_SIZE`) need no malloc in glibc, and the key is
//!   created at load time (or by the first claim, under preload, where
//!   malloc comes before any constructor). The destructor re-arms itself
//!   until glibc's last round (`PTHREAD_DESTRUCTOR_ITERATIONS`), so other
//!   keys' destructors that allocate still find the record. Release moves
//!   the counts to the retired totals, folds the peak drift, returns the
//!   site-table lane, and sets TLS to `exited`.
//! - After release, an event on that thread (a later destructor, libc's
//!   teardown) borrows a record for that one event and gives it back: exact,
//!   and no record is left behind by a dead thread.
//! - Fork: the child keeps the forking thread's record and releases every
//!   other claimed record (their threads do not exist there); no call-site
//!   entry is left half written (`site_table.closeForFork`).
//! - The main thread's record is never released: it exits with the process.
//!
//! A thread-exit mechanism without a key (the DTV, `__cxa_thread_atexit`)
//! was not chosen: `__cxa_thread_atexit_impl` allocates, and nothing else in
//! glibc runs per-thread code at exit.

const std = @import("std");
const linux = std.os.linux;
const thread_tls = @import("thread_tls.zig");
const thread_registry = @import("thread_registry.zig");
const counters = @import("counters.zig");
const site_table = @import("site_table.zig");
const options = @import("options.zig");
const ThreadRecord = @import("ThreadRecord.zig");
const peak = @import("peak.zig");
const configuration = @import("configuration.zig");

/// The record could not be had (no memory, or a million threads alive):
/// the thread forwards uncounted for the rest of its life.
const no_memory: usize = 3;

/// glibc's PTHREAD_DESTRUCTOR_ITERATIONS.
const destructor_rounds = 4;

extern fn pthread_key_create(key: *c_uint, destructor: ?*const fn (?*anyopaque) callconv(.c) void) callconv(.c) c_int;
extern fn pthread_setspecific(key: c_uint, value: ?*const anyopaque) callconv(.c) c_int;

const key_none: u32 = std.math.maxInt(u32);
var exit_key: std.atomic.Value(u32) = .init(key_none);
/// Events a thread could not count (no record could be had): reported in
/// `figures` so a run that lost some says so.
var uncounted_events: std.atomic.Value(u64) = .init(0);
var warned_no_memory: std.atomic.Value(bool) = .init(false);
var warned_no_key: std.atomic.Value(bool) = .init(false);

/// The calling thread's record, marked busy; null when the thread is
/// already inside a hook or cannot have a record (the caller forwards
/// without counting). Pair with `leave`.
pub inline fn enter() ?*ThreadRecord {
    const word = thread_tls.get();
    if (word < thread_tls.state_max) return enterSlow(word);
    const record: *ThreadRecord = @ptrFromInt(word);
    if (record.in_hook != 0) return null;
    @atomicStore(u32, &record.in_hook, 1, .monotonic);
    return record;
}

pub inline fn leave(record: *ThreadRecord) void {
    std.debug.assert(record.in_hook == 1);
    @atomicStore(u32, &record.in_hook, 0, .monotonic);
    if (record.borrowed) giveBack(record);
}

/// `enter` for the hooks' fast paths: the thread's own record, or null for
/// every other case (no record yet, exited, busy, nested), which the
/// caller leaves to its full path. Pair with `leaveOwn`.
pub inline fn enterOwn() ?*ThreadRecord {
    const word = thread_tls.get();
    if (word < thread_tls.state_max) return null;
    const record: *ThreadRecord = @ptrFromInt(word);
    if (record.in_hook != 0) return null;
    @atomicStore(u32, &record.in_hook, 1, .monotonic);
    return record;
}

/// A record the TLS word points at is never a borrowed one (a borrowing
/// thread's word stays `busy`), so there is nothing to give back.
pub inline fn leaveOwn(record: *ThreadRecord) void {
    std.debug.assert(record.in_hook == 1 and !record.borrowed);
    @atomicStore(u32, &record.in_hook, 0, .monotonic);
}

noinline fn enterSlow(word: usize) ?*ThreadRecord {
    @branchHint(.cold);
    switch (word) {
        thread_tls.no_record => {
            const record = claimForThisThread() orelse return null;
            @atomicStore(u32, &record.in_hook, 1, .monotonic);
            return record;
        },
        thread_tls.exited => {
            thread_tls.set(thread_tls.busy);
            const record = claimRecord() orelse {
                thread_tls.set(thread_tls.exited);
                return null;
            };
            record.borrowed = true;
            @atomicStore(u32, &record.in_hook, 1, .monotonic);
            return record;
        },
        no_memory => {
            _ = uncounted_events.fetchAdd(1, .monotonic);
            return null;
        },
        else => return null, // busy: a call made by the claim or release itself
    }
}

/// Takes and resets a record for the calling thread; null without memory
/// or when the calling thread holds the registry lock (a hook reached from
/// inside a claim, a release or our fork handler).
fn claimRecord() ?*ThreadRecord {
    if (thread_registry.lockHeld()) return null;
    thread_registry.lock();
    const record = thread_registry.claimLocked();
    if (record) |claimed| claimed.resetForClaim(linux.gettid());
    thread_registry.unlock();
    return record;
}

fn claimForThisThread() ?*ThreadRecord {
    if (!thread_tls.replace(thread_tls.no_record, thread_tls.busy)) {
        // A signal handler on this thread claimed a record after the hook
        // read the word: use that one rather than claim (and leak) a second.
        const word = thread_tls.get();
        return if (word >= thread_tls.state_max) @ptrFromInt(word) else null;
    }
    const record = claimRecord() orelse {
        if (thread_registry.lockHeld()) {
            thread_tls.set(thread_tls.no_record);
            return null;
        }
        thread_tls.set(no_memory);
        _ = uncounted_events.fetchAdd(1, .monotonic);
        if (!warned_no_memory.swap(true, .monotonic)) {
            options.warn(&.{"mod-alloc: no memory for another thread record; this thread's allocations are not counted"});
        }
        return null;
    };
    armExitKey(record);
    // The process's first hooked call came before our constructor (under
    // preload, another library's constructor allocating): read the
    // settings now, so this block gets a call site if they ask for one.
    if (!configuration.isStarted() and !@import("builtin").is_test) configuration.start();
    thread_tls.set(@intFromPtr(record));
    return record;
}

fn armExitKey(record: *ThreadRecord) void {
    const key = ensureExitKey() orelse return;
    _ = pthread_setspecific(key, record);
}

/// Creates the exit key once. Load time calls it; so does the first claim,
/// which under preload comes before any constructor.
pub fn ensureExitKey() ?c_uint {
    const existing = exit_key.load(.acquire);
    if (existing != key_none) return existing;
    thread_registry.lock();
    defer thread_registry.unlock();
    if (exit_key.load(.monotonic) == key_none) {
        var key: c_uint = 0;
        if (pthread_key_create(&key, threadExit) == 0) {
            exit_key.store(key, .release);
        } else if (!warned_no_key.swap(true, .monotonic)) {
            options.warn(&.{"mod-alloc: no pthread key left; records of exiting threads are not reused"});
        }
    }
    const key = exit_key.load(.monotonic);
    return if (key == key_none) null else key;
}

/// The exit key's destructor: runs on the exiting thread.
fn threadExit(value: ?*anyopaque) callconv(.c) void {
    const record: *ThreadRecord = @ptrCast(@alignCast(value orelse return));
    std.debug.assert(record.claimed and !record.borrowed);
    record.exit_rounds += 1;
    if (record.exit_rounds < destructor_rounds) {
        // Run again in glibc's next round, after other keys' destructors.
        _ = pthread_setspecific(exit_key.load(.monotonic), record);
        return;
    }
    thread_tls.set(thread_tls.busy);
    release(record);
    thread_tls.set(thread_tls.exited);
}

fn giveBack(record: *ThreadRecord) void {
    @branchHint(.cold);
    release(record);
    thread_tls.set(thread_tls.exited);
}

/// Settles a record and returns it to the registry: counts retired, drift
/// folded, lane returned, all under the registry lock so that no sum sees
/// the counts twice or not at all.
fn release(record: *ThreadRecord) void {
    thread_registry.lock();
    defer thread_registry.unlock();
    releaseLocked(record);
}

fn releaseLocked(record: *ThreadRecord) void {
    counters.retire(&record.counters);
    site_table.releaseLane(record.lane);
    record.lane = ThreadRecord.lane_unassigned;
    thread_registry.freeLocked(record);
}

/// The calling thread's record outside a hook (FFI reads), claimed now if
/// the thread has none yet; null when none can be had.
pub fn ownRecord() ?*ThreadRecord {
    const record = enter() orelse {
        const word = thread_tls.get();
        return if (word >= thread_tls.state_max) @ptrFromInt(word) else null;
    };
    defer leave(record);
    if (record.borrowed) return null;
    return record;
}

/// The forking thread's TLS word while fork handlers run. Written only
/// with the fork locks held (`holdPausedWord`): two threads forking at once
/// are serialised by them.
var word_before_fork: usize = thread_tls.no_record;

/// First thing in our fork prepare handler, before any lock is taken: the
/// forking thread's own calls until the parent or child handler — other
/// libraries' fork handlers that allocate or free, a signal handler that
/// allocates — are forwarded uncounted instead of waiting on the locks
/// this thread is about to hold. Returns the word to give to
/// `holdPausedWord` once the locks are held.
pub fn pauseForFork() usize {
    site_table.closeForFork();
    const word = thread_tls.get();
    thread_tls.set(thread_tls.busy);
    return word;
}

/// Last thing in our fork prepare handler, with every fork lock held.
pub fn holdPausedWord(word: usize) void {
    std.debug.assert(thread_registry.lockHeld());
    word_before_fork = word;
}

/// Last thing in our parent or child handler, after every lock is let go.
pub fn resumeAfterFork() void {
    thread_tls.set(word_before_fork);
    site_table.openAfterFork();
}

/// In the child after fork (the forking thread still paused): its record
/// stays, every other claimed record is released (its thread does not
/// exist here).
pub fn afterForkChild() void {
    std.debug.assert(thread_tls.get() == thread_tls.busy);
    site_table.afterForkChild();
    thread_registry.forceUnlock();
    thread_registry.lock();
    defer thread_registry.unlock();
    thread_registry.rebuildFreeList();
    const own = word_before_fork;
    // The forking thread has a new thread id in the child (its name is
    // read by id).
    if (own >= thread_tls.state_max) @as(*ThreadRecord, @ptrFromInt(own)).tid = linux.gettid();
    var records = thread_registry.claimedRecords();
    while (records.next()) |record| {
        if (@intFromPtr(record) == own) continue;
        record.in_hook = 0;
        releaseLocked(record);
    }
}

/// Events not counted for want of a record.
pub fn uncountedEvents() u64 {
    return uncounted_events.load(.monotonic);
}

const testing = std.testing;

test "a thread's record is claimed on first use, released at exit and reused cleared" {
    _ = ensureExitKey();
    const Worker = struct {
        fn run(out: *?*ThreadRecord, alloc_count_at_start: *u64) void {
            const record = enter().?;
            alloc_count_at_start.* = record.counters.alloc_count;
            record.counters.countAlloc(0, 1000, 1); // a leaked block: live at exit
            leave(record);
            out.* = record;
        }
    };
    const before = counters.currentAll();
    var first: ?*ThreadRecord = null;
    var start_count: u64 = 99;
    (try std.Thread.spawn(.{}, Worker.run, .{ &first, &start_count })).join();
    try testing.expectEqual(@as(u64, 0), start_count);
    try testing.expect(!first.?.claimed);
    // The exited thread's live block is still counted, and its drift folded.
    const after = counters.currentAll();
    try testing.expectEqual(before[0] + 1000, after[0]);
    var second: ?*ThreadRecord = null;
    (try std.Thread.spawn(.{}, Worker.run, .{ &second, &start_count })).join();
    try testing.expectEqual(@as(u64, 0), start_count);
}

test "records are claimed, released and reused while 8 threads churn; counts and drift balance" {
    _ = ensureExitKey();
    const rounds = 50;
    const threads_per_round = 8;
    const before = counters.currentAll();
    const folded_before = peak.folded();
    const claims_before = thread_registry.figures()[2];
    const Worker = struct {
        fn run(seen_nonzero: *std.atomic.Value(u32)) void {
            const record = enter().?;
            if (record.counters.alloc_count != 0 or record.counters.current_bytes != 0) _ = seen_nonzero.fetchAdd(1, .monotonic);
            // 100 KiB live at exit: above the fold threshold once, then 40 KiB of unfolded drift.
            record.counters.countAlloc(0, 60 * 1024, 1);
            record.counters.countAlloc(0, 40 * 1024, 1);
            record.counters.countAlloc(0, 16, 1);
            record.counters.countFree(16);
            leave(record);
        }
    };
    var seen_nonzero: std.atomic.Value(u32) = .init(0);
    for (0..rounds) |_| {
        var threads: [threads_per_round]std.Thread = undefined;
        for (&threads) |*thread| thread.* = try std.Thread.spawn(.{}, Worker.run, .{&seen_nonzero});
        for (threads) |thread| thread.join();
    }
    try testing.expectEqual(@as(u32, 0), seen_nonzero.load(.monotonic));
    const after = counters.currentAll();
    const threads_total = rounds * threads_per_round;
    try testing.expectEqual(before[0] + threads_total * 100 * 1024, after[0]);
    try testing.expectEqual(before[1] + threads_total * 2, after[1]);
    // Each thread's unfolded drift was folded when its record was released.
    try testing.expectEqual(folded_before[0] + threads_total * 100 * 1024, peak.folded()[0]);
    const figures = thread_registry.figures();
    try testing.expectEqual(claims_before + threads_total, figures[2]);
    // Reuse: far fewer records exist than threads were made.
    try testing.expect(figures[3] * thread_registry.chunk_records < threads_total);
}

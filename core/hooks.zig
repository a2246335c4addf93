//! The allocator entry points. Under LD_PRELOAD these exported symbols are
//! the process's malloc family; at run time `got_patch.zig` points GOT slots
//! at the same functions. Every path is: forward to glibc -> the thread's
//! record -> count. Three paths per hook, chosen once: Tier 1's fast path
//! (`countFreshFast`/`countFreeFast`: the common case, no call), Tier 1's
//! full path (`recordAlloc`/`recordFree`, out of line: every other case),
//! and with call sites on a hook path of its own entered by a tail jump
//! (`mallocWithSite`/`freeWithSite`: capture the site, then count). Nothing
//! here allocates, locks anything but a live-table shard (and, once per
//! thread, the registry lock of its record's claim; once per process, the
//! start lock when the first call comes before our constructor), or touches
//! errno after the real call set it. Every lock is taken with the thread
//! marked inside a hook (`thread_lifecycle.zig`), so a signal handler's
//! allocation on that thread forwards uncounted instead of waiting on it.

const std = @import("std");
const real = @import("real.zig");
const live_table = @import("live_table.zig");
const site_table = @import("site_table.zig");
const backtrace = @import("backtrace.zig");
const event_clock = @import("event_clock.zig");
const threads = @import("thread_lifecycle.zig");
const ThreadRecord = @import("ThreadRecord.zig");
const foreign_allocator = @import("foreign_allocator.zig");
const sampler = @import("sampler.zig");
const sampled_path = @import("sampled_path.zig");
const small_map = @import("small_map.zig");

/// Off only between `uninstall` and the next `install`. Starts on: under
/// preload the first malloc comes before any constructor, and when the
/// library is dlopen-ed nothing calls these functions before install.
pub var counting: std.atomic.Value(bool) = .init(true);

/// The hooks' calling convention: C, but assuming only 8-byte stack
/// alignment on x86_64. Callers do call malloc with a misaligned stack
/// (hand-written assembly, code built without frame pointers: the stress
/// suite's garbage-frame-pointer program does), and the compiler's aligned
/// SSE spills (`movaps`) in our slow paths would fault there; realigning
/// costs one `and` in the prologue.
pub const hook_callconv: std.lang.CallingConvention = switch (@import("builtin").cpu.arch) {
    .x86_64 => .{ .x86_64_sysv = .{ .incoming_stack_alignment = 8 } },
    else => .c,
};

extern fn __errno_location() callconv(.c) *c_int;
const enomem: c_int = @backingInt(std.os.linux.E.NOMEM);

fn isCounting() bool {
    return counting.load(.monotonic);
}

/// A block's site as the live table keeps it (0 = none) and its birth time.
const Origin = struct { site: u32, time: u64 };
const no_origin: Origin = .{ .site = 0, .time = 0 };

/// Tier 1's fast path for a fresh block: the common case (own record, a
/// small block in a region that has a table, call sites off) with no call
/// and no stack of its own. False when anything is unusual: nothing was
/// changed, and the caller takes `recordAlloc`, which handles every case.
inline fn countFreshFast(block: ?*anyopaque, size: usize) bool {
    if (!isCounting()) return false;
    const address = @intFromPtr(block orelse return false);
    if (size > small_map.size_max) return false;
    const slot = small_map.freshSlot(address) orelse return false;
    const record = threads.enterOwn() orelse return false;
    small_map.fill(slot, address, size);
    record.counters.countFresh(size);
    threads.leaveOwn(record);
    return true;
}

/// Tier 1's fast path for a free (see `countFreshFast`).
inline fn countFreeFast(block: *anyopaque) bool {
    if (!isCounting()) return false;
    const record = threads.enterOwn() orelse return false;
    const size = small_map.takeSize(@intFromPtr(block)) orelse {
        threads.leaveOwn(record);
        return false;
    };
    record.counters.countFree(size);
    threads.leaveOwn(record);
    return true;
}

/// Counts a block the real allocator just returned (or failed to), every
/// case. Tier 1 and Tier 2 part here, once per event. `hook_frame`: the
/// frame of the exported hook the program called (Tier 2 walks from it).
noinline fn recordAlloc(block: ?*anyopaque, size: usize, hook_frame: usize) void {
    recordAllocInline(block, size, hook_frame);
}

inline fn recordAllocInline(block: ?*anyopaque, size: usize, hook_frame: usize) void {
    if (!isCounting()) return;
    if (sampler.enabled()) return sampled_path.alloc(block, size, hook_frame);
    const record = threads.enter() orelse return;
    defer threads.leave(record);
    if (site_table.enabled()) return recordAllocWithSite(record, block, size, hook_frame);
    const ptr = block orelse return record.counters.countFailed();
    if (!track(record, ptr, size, no_origin)) return record.counters.countForeign();
    record.counters.countFresh(size);
}

/// `hook_frame`: the frame of the exported hook, whose record holds the
/// return address into the program: the walk starts there.
inline fn recordAllocWithSite(record: *ThreadRecord, block: ?*anyopaque, size: usize, hook_frame: usize) void {
    const ptr = block orelse return record.counters.countFailed();
    const born = origin(record, hook_frame);
    if (!track(record, ptr, size, born)) return record.counters.countForeign();
    site_table.countAlloc(born.site - 1, record.siteLane(), size, @intCast(size), 1, size);
    record.counters.countFresh(size);
    record.counters.offerPeak();
}

inline fn origin(record: *ThreadRecord, hook_frame: usize) Origin {
    return .{ .site = backtrace.captureSite(record, hook_frame), .time = event_clock.now(&record.clock) };
}

/// Enters a new block in the live table; false when it cannot be (too
/// large, or the table can grow no more): the block then stays foreign.
inline fn track(record: *ThreadRecord, block: *anyopaque, size: usize, born: Origin) bool {
    if (size > live_table.size_max) return false;
    const stale = live_table.insert(@intFromPtr(block), size, born.site, born.time) catch return false;
    // A free of this address that was never seen (made while uninstalled):
    // settle it now so the block is not counted twice.
    if (stale != live_table.none) settleStale(record, stale);
    return true;
}

fn settleStale(record: *ThreadRecord, stale: live_table.Found) void {
    @branchHint(.cold);
    record.counters.countFree(live_table.sizeOf(stale));
    // Its site, if it has one, is settled too; when it was freed is
    // unknown, so no lifetime is added.
    const site = live_table.siteOf(stale);
    if (site != 0) site_table.countFree(site - 1, record.siteLane(), live_table.sizeOf(stale), 0);
}

/// Settles the site of a block that is gone (freed, or moved by realloc).
inline fn siteFree(record: *ThreadRecord, block: live_table.Found, time: u64) void {
    const site = live_table.siteOf(block);
    std.debug.assert(site != 0);
    const lifetime = (event_clock.now(&record.clock) -% time) & live_table.time_mask;
    site_table.countFree(site - 1, record.siteLane(), live_table.sizeOf(block), lifetime);
}

noinline fn recordFree(ptr: *anyopaque) void {
    recordFreeInline(ptr);
}

inline fn recordFreeInline(ptr: *anyopaque) void {
    if (!isCounting()) return;
    if (sampler.enabled()) return sampled_path.free(ptr);
    const record = threads.enter() orelse return;
    defer threads.leave(record);
    var time: u64 = undefined;
    const block = live_table.remove(@intFromPtr(ptr), &time);
    if (block == live_table.none) return record.counters.countForeign();
    if (live_table.siteOf(block) != 0) siteFree(record, block, time);
    record.counters.countFree(live_table.sizeOf(block));
}

/// Call sites on, every one or sampled (`sampled_path.zig`): the hooks take
/// their call-site paths. Two loads; the sampler is on only with the table
/// (it is switched on just before it), so Tier 1 never sees a sampled block.
inline fn callSitesOn() bool {
    return site_table.enabled() or sampler.enabled();
}

pub noinline fn malloc(size: usize) callconv(hook_callconv) ?*anyopaque {
    if (callSitesOn()) return @call(.always_tail, mallocWithSite, .{size});
    return allocate(size);
}

/// malloc with call sites on (every one or sampled): its own hook path, entered by a tail call so
/// that its frame is the one the program called (the walk starts there).
noinline fn mallocWithSite(size: usize) callconv(hook_callconv) ?*anyopaque {
    const block = real.malloc(size);
    recordAllocInline(block, size, @frameAddress());
    return block;
}

/// malloc's Tier 1 body (call sites off: `malloc` checked).
inline fn allocate(size: usize) ?*anyopaque {
    const block = real.malloc(size);
    if (!countFreshFast(block, size)) recordAlloc(block, size, @frameAddress());
    return block;
}

/// Counts a fresh block from a hook that did not choose its path by tier
/// (calloc, the aligned family, `realloc(NULL, n)`): Tier 1's fast path
/// when call sites are off, else the full path. `hook_frame`: the frame of
/// the exported hook the program called.
inline fn countFresh(block: ?*anyopaque, size: usize, hook_frame: usize) void {
    if (callSitesOn() or !countFreshFast(block, size)) recordAlloc(block, size, hook_frame);
}

pub fn calloc(count: usize, size: usize) callconv(hook_callconv) ?*anyopaque {
    // glibc checks count * size for overflow and fails with ENOMEM; the
    // product is only used once the call succeeded, so it cannot wrap.
    const block = real.calloc(count, size);
    countFresh(block, if (block != null) count *% size else 0, @frameAddress());
    return block;
}

pub noinline fn free(ptr: ?*anyopaque) callconv(hook_callconv) void {
    if (callSitesOn()) return @call(.always_tail, freeWithSite, .{ptr});
    // Removed from the table before the real free: once glibc has the block
    // back, another thread may be handed the same address.
    if (ptr) |block| {
        if (!countFreeFast(block)) recordFree(block);
    }
    real.free(ptr);
}

/// free with call sites on (see `mallocWithSite`).
noinline fn freeWithSite(ptr: ?*anyopaque) callconv(hook_callconv) void {
    if (ptr) |block| recordFreeInline(block);
    real.free(ptr);
}

pub fn realloc(ptr: ?*anyopaque, size: usize) callconv(hook_callconv) ?*anyopaque {
    return reallocate(ptr, size);
}

/// realloc's body, inlined into `reallocarray` too (see `allocate`).
inline fn reallocate(ptr: ?*anyopaque, size: usize) ?*anyopaque {
    const old_block = ptr orelse {
        const block = real.malloc(size);
        countFresh(block, size, @frameAddress());
        return block;
    };
    if (!isCounting()) return real.realloc(ptr, size);
    if (sampler.enabled()) return sampled_path.realloc(old_block, size, @frameAddress());
    const record = threads.enter() orelse return real.realloc(ptr, size);
    defer threads.leave(record);
    const thread = &record.counters;
    var old_time: u64 = undefined;
    const old = live_table.remove(@intFromPtr(old_block), &old_time);
    const result = real.realloc(ptr, size);
    const new_block = result orelse {
        if (size == 0) {
            // glibc's realloc(p, 0) frees p and returns NULL.
            if (old == live_table.none) {
                thread.countForeign();
            } else {
                if (live_table.siteOf(old) != 0) siteFree(record, old, old_time);
                thread.countFree(live_table.sizeOf(old));
            }
        } else {
            // Failed: p is untouched and still live.
            if (old != live_table.none) {
                _ = live_table.insert(@intFromPtr(old_block), live_table.sizeOf(old), live_table.siteOf(old), old_time) catch {};
            }
            thread.countFailed();
        }
        return null;
    };
    const born = if (site_table.enabled()) origin(record, @frameAddress()) else no_origin;
    const tracked = track(record, new_block, size, born);
    const old_size: u64 = if (old != live_table.none) live_table.sizeOf(old) else 0;
    if (old != live_table.none and live_table.siteOf(old) != 0) siteFree(record, old, old_time);
    if (!tracked) {
        if (old != live_table.none) thread.countFree(old_size);
        thread.countForeign();
        return result;
    }
    // A foreign block's old size is unknown: the result is adopted as a new
    // block of `size` bytes. Otherwise one event that adds the growth.
    if (old == live_table.none) thread.countForeign();
    const blocks: i64 = if (old == live_table.none) 1 else 0;
    if (born.site != 0) site_table.countAlloc(born.site - 1, record.siteLane(), size -| old_size, @intCast(size), 1, size);
    thread.countAlloc(old_size, size, blocks);
    if (born.site != 0) thread.offerPeak();
    return result;
}

pub fn reallocarray(ptr: ?*anyopaque, count: usize, size: usize) callconv(hook_callconv) ?*anyopaque {
    // The program's own malloc owns `ptr`: its realloc must move it.
    if (foreign_allocator.active()) return foreign_allocator.reallocarray(ptr, count, size);
    const bytes = std.math.mul(usize, count, size) catch {
        __errno_location().* = enomem;
        return null;
    };
    return reallocate(ptr, bytes);
}

pub fn posix_memalign(out: *?*anyopaque, alignment: usize, size: usize) callconv(hook_callconv) c_int {
    const status = real.posixMemalign(out, alignment, size);
    countFresh(if (status == 0) out.* else null, size, @frameAddress());
    return status;
}

pub fn aligned_alloc(alignment: usize, size: usize) callconv(hook_callconv) ?*anyopaque {
    const block = real.alignedAlloc(alignment, size);
    countFresh(block, size, @frameAddress());
    return block;
}

pub fn memalign(alignment: usize, size: usize) callconv(hook_callconv) ?*anyopaque {
    const block = real.memalign(alignment, size);
    countFresh(block, size, @frameAddress());
    return block;
}

pub fn valloc(size: usize) callconv(hook_callconv) ?*anyopaque {
    const block = real.valloc(size);
    countFresh(block, size, @frameAddress());
    return block;
}

pub fn pvalloc(size: usize) callconv(hook_callconv) ?*anyopaque {
    const block = real.pvalloc(size);
    countFresh(block, size, @frameAddress());
    return block;
}

pub fn malloc_usable_size(ptr: ?*anyopaque) callconv(hook_callconv) usize {
    return real.usableSize(ptr);
}

/// Name -> hook, for the exports and for GOT patching.
pub const table = .{
    .{ "malloc", &malloc },
    .{ "calloc", &calloc },
    .{ "realloc", &realloc },
    .{ "reallocarray", &reallocarray },
    .{ "free", &free },
    .{ "posix_memalign", &posix_memalign },
    .{ "aligned_alloc", &aligned_alloc },
    .{ "memalign", &memalign },
    .{ "valloc", &valloc },
    .{ "pvalloc", &pvalloc },
    .{ "malloc_usable_size", &malloc_usable_size },
};

comptime {
    for (table) |entry| @export(entry[1], .{ .name = entry[0] });
}

/// The hook for `name`, or null when the name is not one we replace.
pub fn hookFor(name: []const u8) ?usize {
    inline for (table) |entry| {
        if (std.mem.eql(u8, name, entry[0])) return @intFromPtr(entry[1]);
    }
    return null;
}

//! Tier 2 capture inside a hook: walk the caller's frames and intern them
//! as a site, with the thread's name.
//!
//! Stack bounds. The walk may only read memory known to be mapped for the
//! stack it is on. The record caches the thread's own stack ("home"): the
//! /proc/self/maps entry that holds the frame and is the main thread's
//! `[stack]` or holds the thread pointer (glibc puts a thread's TCB at the
//! top of its stack block, so [frame, thread pointer) is its stack and
//! nothing merged above it); it lives as long as the thread. A frame on any
//! other stack (fiber, `sigaltstack`, coroutine) is walked through copies
//! (`stack_walk.walkCopied`): such stacks may be unmapped or reused while the
//! thread is away, so no range is cached for them. Look-ups of maps are
//! bounded per record (`stack_lookups_max`), never one per allocation.

const std = @import("std");
const options = @import("options.zig");
const site_table = @import("site_table.zig");
const stack_walk = @import("stack_walk.zig");
const thread_names = @import("thread_names.zig");
const ThreadRecord = @import("ThreadRecord.zig");
const thread_tls = @import("thread_tls.zig");

/// Look-ups of /proc/self/maps one record may make: the first capture, and
/// a few more when the main thread's stack grew past the cached range or
/// the thread runs on other stacks (each look-up shows whether the frame is
/// home). Past this, frames off the cached range are walked through copies.
const stack_lookups_max = 8;

/// Times a stack mapping was looked up in /proc/self/maps: about once per
/// thread; tests check that it is not once per allocation.
var stack_resolves: std.atomic.Value(u64) = .init(0);

pub fn stackResolves() u64 {
    return stack_resolves.load(.monotonic);
}

/// Walk bounds from the frame up to the end of the thread's own stack, or
/// null when the frame is on another stack.
inline fn homeBounds(record: *ThreadRecord, frame: usize) ?stack_walk.Bounds {
    if (frame -% record.stack.low >= record.stack.high -% record.stack.low) {
        if (record.stack_lookups >= stack_lookups_max) return null;
        resolveHome(record, frame);
        if (frame -% record.stack.low >= record.stack.high -% record.stack.low) return null;
    }
    return .{ .low = frame, .high = record.stack.high };
}

/// Not inlined: its 4 KiB read buffer must not sit in the frame of every
/// capture (threads may run on 16 KiB stacks).
noinline fn resolveHome(record: *ThreadRecord, frame: usize) void {
    @branchHint(.cold);
    record.stack_lookups += 1;
    _ = stack_resolves.fetchAdd(1, .monotonic);
    const mapping = stack_walk.mappingOf(frame);
    if (mapping.end == 0) return;
    const thread_pointer = thread_tls.threadPointer();
    if (mapping.main_stack) {
        record.stack = .{ .low = mapping.start, .high = mapping.end };
    } else if (thread_pointer > frame and thread_pointer < mapping.end) {
        record.stack = .{ .low = mapping.start, .high = thread_pointer };
    }
}

/// Reads the thread's name again when its allocation count reaches the
/// next power of two.
fn refreshName(record: *ThreadRecord) void {
    @branchHint(.cold);
    record.name_id = thread_names.idOfThread(record.tid);
    record.name_check_at = @max(1, record.counters.alloc_count * 2);
}

/// The site of the current allocation, as stored in the live table: the
/// site table's id + 1 (0 means "no site"). `hook_frame` is the frame of
/// the exported hook that the program called (hooks that call hooks pass
/// the outermost one): the walk starts there, so none of the library's own
/// frames is walked and no frame needs a range check. A hook frame that is
/// not plausibly above ours (never, with frame pointers kept) starts the
/// walk here, which then names our own frames too.
pub inline fn captureSite(record: *ThreadRecord, hook_frame: usize) u32 {
    if (record.counters.alloc_count >= record.name_check_at) refreshName(record);
    var frames: [options.frames_max]usize = undefined;
    const here = stack_walk.framePointer();
    // The hook's frame lies above ours on this stack; anything else (a
    // frameless hook) starts from here.
    const frame = if (hook_frame > here and hook_frame - here < 64 * 1024) hook_frame else here;
    var hash: stack_walk.FrameHash = .{};
    const out = frames[0..site_table.framesMax()];
    const count = if (homeBounds(record, frame)) |bounds|
        stack_walk.walk(frame, bounds, out, &hash)
    else
        stack_walk.walkCopied(frame, out, &hash);
    return site_table.internCached(&record.site_cache, frames[0..count], hash.finish(count), record.name_id) + 1;
}

//! Tier 2 capture inside a hook: walk the caller's frames and intern them
//! as a site, with the thread's name. The mapping that holds the thread's
//! stack is resolved from /proc/self/maps when a frame lies outside the one
//! cached in its record (once per thread, again when its stack grows or it
//! runs on another stack), never per allocation.

const std = @import("std");
const elf_dynamic = @import("elf_dynamic.zig");
const options = @import("options.zig");
const site_table = @import("site_table.zig");
const stack_walk = @import("stack_walk.zig");
const thread_names = @import("thread_names.zig");
const ThreadRecord = @import("ThreadRecord.zig");
/// Our own code: frames in it are not part of a site.
var own_start: usize = 0;
var own_end: usize = 0;

/// Finds this library's address range; called when Tier 2 is enabled.
pub fn findOwnRange() void {
    const Find = struct {
        fn visit(_: void, module: *const elf_dynamic.Module) void {
            if (module.contains(@intFromPtr(&findOwnRange))) {
                own_start = module.start;
                own_end = module.end;
            }
        }
    };
    elf_dynamic.forEachModule({}, Find.visit);
}

const stack_unknown = std.math.maxInt(usize);

/// Times a stack mapping was looked up in /proc/self/maps: about once per
/// thread; tests check that it is not once per allocation.
var stack_resolves: std.atomic.Value(u64) = .init(0);

pub fn stackResolves() u64 {
    return stack_resolves.load(.monotonic);
}

/// Walk bounds from the frame up to the end of its mapping, as cached in
/// the record; a frame outside the cached mapping resolves it again.
fn boundsFor(record: *ThreadRecord, frame: usize) stack_walk.Bounds {
    if (frame < record.stack.low or frame >= record.stack.high) resolveStack(record, frame);
    if (record.stack.high == stack_unknown) return .{ .low = frame, .high = 0 };
    return .{ .low = frame, .high = record.stack.high };
}

/// Not inlined: its 4 KiB read buffer must not sit in the frame of every
/// capture (threads may run on 16 KiB stacks).
noinline fn resolveStack(record: *ThreadRecord, frame: usize) void {
    @branchHint(.cold);
    _ = stack_resolves.fetchAdd(1, .monotonic);
    const range = stack_walk.mappingRange(frame);
    // Unreadable maps: remembered as "unknown" (no frames are walked)
    // rather than read again on every allocation.
    record.stack = if (range[1] == 0) .{ .low = 0, .high = stack_unknown } else .{ .low = range[0], .high = range[1] };
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
/// the exported hook: the walk starts there, so the library's own frames
/// are not walked (frames inside it are still skipped, should a compiler
/// ever make the hook frameless).
pub noinline fn captureSite(record: *ThreadRecord, hook_frame: usize) u32 {
    if (record.counters.alloc_count >= record.name_check_at) refreshName(record);
    var frames: [options.frames_max]usize = undefined;
    const here = stack_walk.framePointer();
    // The hook's frame lies above ours on this stack; anything else (a
    // frameless hook) starts from here.
    const frame = if (hook_frame > here and hook_frame - here < 64 * 1024) hook_frame else here;
    const bounds = boundsFor(record, frame);
    var hash: stack_walk.FrameHash = .{};
    const count = stack_walk.walk(frame, bounds, own_start, own_end, frames[0..site_table.framesMax()], &hash);
    return site_table.internHashed(frames[0..count], hash.finish(count), record.name_id) + 1;
}

//! Tier 2 capture inside a hook: walk the caller's frames and intern them
//! as a site. Stack bounds are resolved once per thread (from
//! /proc/self/maps) and cached by thread slot.

const std = @import("std");
const counters = @import("counters.zig");
const elf_dynamic = @import("elf_dynamic.zig");
const options = @import("options.zig");
const site_table = @import("site_table.zig");
const stack_walk = @import("stack_walk.zig");

/// Upper bound of each thread slot's stack (0 = not resolved yet).
var stack_high: [counters.threads_max]usize = @splat(0);
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

/// A stack is never larger than this: a cached bound further away than
/// this from the current frame belongs to another stack (a signal stack).
const stack_bytes_max: usize = 1 << 30;

fn boundsFor(handle: counters.Handle, frame: usize) stack_walk.Bounds {
    if (handle.shared()) return .{ .low = frame, .high = stack_walk.mappingEnd(frame) };
    const slot = counters.slotIndexOf(handle.counters);
    var high = stack_high[slot];
    if (high <= frame or high - frame > stack_bytes_max) {
        high = stack_walk.mappingEnd(frame);
        stack_high[slot] = high;
    }
    return .{ .low = frame, .high = high };
}

/// The site of the current allocation, as stored in the live table: the
/// site table's id + 1 (0 means "no site").
pub inline fn captureSite(handle: counters.Handle) u32 {
    var frames: [options.frames_max]usize = undefined;
    const frame = stack_walk.framePointer();
    const bounds = boundsFor(handle, frame);
    if (bounds.high == 0) return site_table.intern(&.{}) + 1;
    const count = stack_walk.walk(frame, bounds, own_start, own_end, frames[0..site_table.framesMax()]);
    return site_table.intern(frames[0..count]) + 1;
}

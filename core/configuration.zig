//! How the library sees allocations (preloaded, or patched in at run time)
//! and whether call sites are on. Set once each: the mode by the
//! constructor, call sites by the first `configure` that turns them on
//! (they cannot be turned off: blocks in the live table carry site ids).

const std = @import("std");
const abi = @import("abi.zig");
const options = @import("options.zig");
const site_table = @import("site_table.zig");
const backtrace = @import("backtrace.zig");
const elf_dynamic = @import("elf_dynamic.zig");
const got_patch = @import("got_patch.zig");
const SpinLock = @import("SpinLock.zig");

/// Set by the constructor: true when our `malloc` is the process's (the
/// library was preloaded or linked ahead of libc).
var preloaded: bool = false;

pub fn isPreloaded() bool {
    return preloaded;
}

/// Decides the mode (from the constructor, before anything reads it).
pub fn detectMode() void {
    preloaded = loadedBeforeLibc();
}

/// True when this library's malloc is the process's: it was loaded ahead
/// of libc (LD_PRELOAD, or linked by the program before libc), so the
/// global scope finds it first. Loaded objects are listed in load order.
/// (Comparing `dlsym(RTLD_DEFAULT, "malloc")` with our malloc fails for a
/// non-PIE program that takes malloc's address, such as node: the global
/// definition is then the program's own PLT stub.)
fn loadedBeforeLibc() bool {
    const Order = struct {
        own: usize,
        seen_own: *bool,
        ahead: *bool,
        fn visit(order: @This(), module: *const elf_dynamic.Module) void {
            if (module.contains(order.own)) order.seen_own.* = true;
            if (elf_dynamic.isLibc(module.name) and order.seen_own.*) order.ahead.* = true;
        }
    };
    var seen_own = false;
    var ahead = false;
    elf_dynamic.forEachModule(Order{ .own = @intFromPtr(&loadedBeforeLibc), .seen_own = &seen_own, .ahead = &ahead }, Order.visit);
    return ahead;
}

pub fn mode() abi.Mode {
    if (preloaded) return .preload;
    if (got_patch.installed.load(.acquire)) return .runtime;
    return .none;
}

var configure_lock: SpinLock = .{};

/// Turns call sites on with a walk depth and a site-table size, or checks
/// that a later request agrees with the first.
pub fn configure(backtraces: bool, frames: u32, buckets: u32) abi.Status {
    if (frames < 1 or frames > options.frames_max) return .invalid_option;
    if (buckets < options.buckets_min or buckets > options.buckets_max) return .invalid_option;
    configure_lock.lock();
    defer configure_lock.unlock();
    if (site_table.enabled()) {
        const same = backtraces and site_table.framesMax() == frames and site_table.bucketsCount() == buckets;
        return if (same) .already_installed else .config_conflict;
    }
    if (!backtraces) return .ok;
    backtrace.findOwnRange();
    const enabled = site_table.enable(buckets, frames);
    std.debug.assert(enabled == site_table.enabled());
    return if (enabled) .ok else .out_of_memory;
}

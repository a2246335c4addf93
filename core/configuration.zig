//! How the library sees allocations (preloaded, or patched in at run time)
//! and whether call sites are on. Set once each: the mode and the settings
//! by `start`, call sites by the first `configure` that turns them on (they
//! cannot be turned off: blocks in the live table carry site ids).
//!
//! `start` runs from the constructor, or from the first hooked call if that
//! comes earlier: under preload other libraries' constructors allocate
//! before ours runs (libstdc++'s 72,704-byte emergency pool in every C++
//! program), and with call sites on those blocks must get sites as later
//! ones do, or the report (which sums its sites) leaves them out.

const std = @import("std");
const abi = @import("abi.zig");
const options = @import("options.zig");
const site_table = @import("site_table.zig");
const elf_dynamic = @import("elf_dynamic.zig");
const settings = @import("settings.zig");
const SpinLock = @import("SpinLock.zig");
const sampler = @import("sampler.zig");

/// Set by the constructor: true when our `malloc` is the process's (the
/// library was preloaded or linked ahead of libc).
var preloaded: bool = false;

pub fn isPreloaded() bool {
    return preloaded;
}

var start_lock: SpinLock = .{};
var started: std.atomic.Value(bool) = .init(false);

/// True once `start` has run.
pub fn isStarted() bool {
    return started.load(.acquire);
}

/// Once per process: the mode, the settings, and under preload call sites
/// when MOD_ALLOC_BACKTRACES asks. Safe inside a hook (the caller's thread
/// is marked busy): it reads the environment, walks the loaded objects
/// with `dl_iterate_phdr` and maps memory, and allocates nothing.
pub fn start() void {
    // A hook reached from inside `start` on this thread (a signal handler)
    // goes on with what is set so far.
    if (start_lock.heldByCaller()) return;
    start_lock.lock();
    defer start_lock.unlock();
    if (started.load(.monotonic)) return;
    preloaded = loadedBeforeLibc();
    settings.read();
    const loaded = settings.current;
    if (preloaded and loaded.sample_bytes != 0) {
        _ = configureSampling(loaded.sample_bytes, loaded.sample_seed, loaded.frames, loaded.buckets);
    } else if (preloaded and loaded.backtraces) _ = configure(true, loaded.frames, loaded.buckets);
    started.store(true, .release);
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
    const enabled = site_table.enable(buckets, frames);
    std.debug.assert(enabled == site_table.enabled());
    return if (enabled) .ok else .out_of_memory;
}

/// Sampling mode: call sites for one allocation per `interval` bytes on
/// average (`sampler.zig`). Once; a later request must ask for the same.
pub fn configureSampling(interval: u32, seed: u32, frames: u32, buckets: u32) abi.Status {
    if (interval < 1 or interval > sampler.interval_max) return .invalid_option;
    // Checked before the sampler is on: it must not run without a table.
    if (frames < 1 or frames > options.frames_max) return .invalid_option;
    if (buckets < options.buckets_min or buckets > options.buckets_max) return .invalid_option;
    if (sampler.enabled()) {
        const same = sampler.intervalBytes() == interval and site_table.framesMax() == frames and site_table.bucketsCount() == buckets;
        return if (same) .already_installed else .config_conflict;
    }
    // Full call sites already on: their exact rows cannot become estimates.
    if (site_table.enabled()) return .config_conflict;
    {
        configure_lock.lock();
        defer configure_lock.unlock();
        if (sampler.enabled()) return .config_conflict;
        sampler.enable(interval, seed);
    }
    return configure(true, frames, buckets);
}

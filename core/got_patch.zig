//! Run-time install: point the GOT slots of the malloc family in every
//! loaded ELF object at our hooks, and keep doing it for objects loaded
//! later (through hooks on dlopen/dlclose). Every slot we write is recorded
//! with its original value so `uninstall` can put it back.
//!
//! Slots are read and written inside `dl_iterate_phdr` callbacks, which hold
//! the loader's lock: an object cannot be unmapped while we touch it.
//!
//! Lock order. glibc takes `dl_load_lock` (dlopen, dlsym, dladdr) before
//! `dl_load_write_lock` (dl_iterate_phdr). A thread inside dlopen holds
//! `dl_load_lock` while it runs constructors, and a constructor may call
//! dlopen through our hook, which takes `patch_lock`. So `patch_lock` is
//! never held while calling anything that takes `dl_load_lock`: every
//! dlopen/dlsym/dladdr happens before it is taken, and under it only
//! dl_iterate_phdr runs.
//!
//! Half-loaded objects. Another thread's dlopen makes an object visible to
//! dl_iterate_phdr before relocating it and applying RELRO; patching it then
//! would be overwritten by ld.so, or would make a page read-only that ld.so
//! still writes. A patch round therefore snapshots the loaded objects, waits
//! until no dlopen is in flight (a `dladdr` call takes and releases
//! `dl_load_lock`), and patches only the objects of the snapshot, unless an
//! object was unloaded meanwhile (its base may now hold another one).

const std = @import("std");
const linux = std.os.linux;
const abi = @import("abi.zig");
const elf_dynamic = @import("elf_dynamic.zig");
const hooks = @import("hooks.zig");
const SpinLock = @import("SpinLock.zig");
const pages = @import("pages.zig");
const page_protection = @import("page_protection.zig");

const Record = struct {
    slot: usize,
    original: usize,
    hook: usize,
    module_base: usize,
};

/// Deno has ~30 objects with a handful of slots each; a process with more
/// patched slots than this gets `patch_table_full` from install, which then
/// rolls back. A test build makes it tiny (`build.zig`, `patch_records_max`).
const records_max: usize = @import("build_options").patch_records_max;

var records: ?[*]Record = null;
var records_count: usize = 0;
var overflowed: bool = false;
var mprotect_failed: bool = false;
/// Serialises install, uninstall and the dlopen/dlclose hooks.
var patch_lock: SpinLock = .{};
pub var installed: std.atomic.Value(bool) = .init(false);

extern fn dlopen(path: ?[*:0]const u8, flags: c_int) callconv(.c) ?*anyopaque;
extern fn dlclose(handle: ?*anyopaque) callconv(.c) c_int;
extern fn dladdr(address: *const anyopaque, info: *DlInfo) callconv(.c) c_int;
extern fn getauxval(kind: c_ulong) callconv(.c) c_ulong;
const DlInfo = extern struct {
    dli_fname: ?[*:0]const u8,
    dli_fbase: ?*anyopaque,
    dli_sname: ?[*:0]const u8,
    dli_saddr: ?*anyopaque,
};
const rtld_now = 2;
const rtld_noload = 4;
const rtld_nodelete = 0x1000;
const at_pagesz = 6;

fn hookDlopen(path: ?[*:0]const u8, flags: c_int) callconv(.c) ?*anyopaque {
    const handle = dlopen(path, flags);
    // Held by this thread: a dlopen from another library's fork handler
    // while our prepare handler holds the lock; the next dlopen patches.
    if (handle != null and installed.load(.acquire) and !patch_lock.heldByCaller()) patchLoaded();
    return handle;
}

fn hookDlclose(handle: ?*anyopaque) callconv(.c) c_int {
    const status = dlclose(handle);
    // See hookDlopen; records of an unloaded object are never written
    // (restoreAll visits loaded objects only).
    if (patch_lock.heldByCaller()) return status;
    patch_lock.lock();
    defer patch_lock.unlock();
    forgetUnloaded();
    return status;
}

fn hookAddress(name: []const u8) ?usize {
    if (std.mem.eql(u8, name, "dlopen")) return @intFromPtr(&hookDlopen);
    if (std.mem.eql(u8, name, "dlclose")) return @intFromPtr(&hookDlclose);
    return hooks.hookFor(name);
}

fn ownBase() usize {
    var info: DlInfo = undefined;
    if (dladdr(@ptrCast(&hookDlopen), &info) == 0) return 0;
    return @intFromPtr(info.dli_fbase);
}

fn pageSize() usize {
    const size: usize = getauxval(at_pagesz);
    return if (size == 0) 4096 else size;
}

/// Writes a GOT slot. A page that is not writable is made writable only
/// around the write and then given back exactly the protection it had
/// (read from /proc/self/maps); without /proc, a page in the object's RELRO
/// range is taken to be read-only and any other page writable.
fn writeSlot(module: *const elf_dynamic.Module, slot: usize, value: usize) bool {
    std.debug.assert(slot % @alignOf(usize) == 0);
    std.debug.assert(module.contains(slot));
    const page_size = pageSize();
    const page = slot & ~(page_size - 1);
    const pointer: *usize = @ptrFromInt(slot);
    const before = protectionOf(page) orelse assumedProtection(module, page, page_size);
    if (before.write) {
        @atomicStore(usize, pointer, value, .release);
        return true;
    }
    const page_ptr: [*]const u8 = @ptrFromInt(page);
    var writable = before;
    writable.write = true;
    if (linux.errno(linux.mprotect(page_ptr, page_size, writable.flags())) != .SUCCESS) return false;
    @atomicStore(usize, pointer, value, .release);
    _ = linux.mprotect(page_ptr, page_size, before.flags());
    return true;
}

/// The last mapping read, valid for one patch round under `patch_lock`: the
/// slots of an object share a few pages, and reading /proc/self/maps once
/// per slot tripled install's time in Deno. A write puts the protection
/// back, so the cached protection stays true within the round.
var mapping_cache: ?page_protection.Mapping = null;

fn protectionOf(page: usize) ?page_protection.Protection {
    if (mapping_cache) |cached| if (cached.contains(page)) return cached.protection;
    mapping_cache = page_protection.find(page);
    return if (mapping_cache) |found| found.protection else null;
}

fn assumedProtection(module: *const elf_dynamic.Module, page: usize, page_size: usize) page_protection.Protection {
    // The loader protects whole pages only: the RELRO range rounded down at its end.
    const relro_start = module.relro_start & ~(page_size - 1);
    const relro_end = module.relro_end & ~(page_size - 1);
    const protected = page >= relro_start and page < relro_end;
    return .{ .read = true, .write = !protected, .execute = false };
}

fn recordsSlice() []Record {
    const base = records orelse return &.{};
    return base[0..records_count];
}

fn isRecorded(slot: usize) bool {
    for (recordsSlice()) |record| if (record.slot == slot) return true;
    return false;
}

/// Address range of libc.so, where every slot we replace must point now
/// (or into its own object: a lazy-binding stub not yet resolved).
const Range = struct {
    start: usize = 0,
    end: usize = 0,

    fn contains(range: Range, address: usize) bool {
        return address >= range.start and address < range.end;
    }
};

fn libcRange() Range {
    const Find = struct {
        fn visit(out: *Range, module: *const elf_dynamic.Module) void {
            if (elf_dynamic.isLibc(module.name)) out.* = .{ .start = module.start, .end = module.end };
        }
    };
    var range: Range = .{};
    elf_dynamic.forEachModule(&range, Find.visit);
    return range;
}

extern fn dlsym(handle: ?*anyopaque, name: [*:0]const u8) callconv(.c) ?*anyopaque;

/// True when the process-wide `malloc` is glibc's.
fn globalMallocIsLibc(libc: Range) bool {
    const address = dlsym(null, "malloc") orelse return false;
    return libc.contains(@intFromPtr(address));
}

/// The objects a patch round may touch: those loaded when it began.
/// Deno has ~30; a process with more leaves the rest for a later round
/// (the next dlopen), and `truncated` says so.
const snapshot_max = 512;

const Snapshot = struct {
    bases: [snapshot_max]usize = undefined,
    count: usize = 0,
    unloads_total: u64 = 0,
    truncated: bool = false,

    fn take(snapshot: *Snapshot) void {
        snapshot.count = 0;
        snapshot.truncated = false;
        const Visit = struct {
            fn visit(into: *Snapshot, module: *const elf_dynamic.Module) void {
                into.unloads_total = module.unloads_total;
                if (into.count == snapshot_max) {
                    into.truncated = true;
                    return;
                }
                into.bases[into.count] = module.base;
                into.count += 1;
            }
        };
        elf_dynamic.forEachModule(snapshot, Visit.visit);
    }

    fn contains(snapshot: *const Snapshot, base: usize) bool {
        for (snapshot.bases[0..snapshot.count]) |known| if (known == base) return true;
        return false;
    }
};

const PatchContext = struct {
    own_base: usize,
    libc: Range,
    snapshot: *const Snapshot,
    /// Set when an object was unloaded after the snapshot: the round is void.
    raced: *bool,
    module: *const elf_dynamic.Module = undefined,

    fn visitModule(context: PatchContext, module: *const elf_dynamic.Module) void {
        if (module.unloads_total != context.snapshot.unloads_total) {
            context.raced.* = true;
            return;
        }
        if (context.raced.*) return;
        if (!context.snapshot.contains(module.base)) return;
        if (module.base == context.own_base and context.own_base != 0) return;
        const name = std.mem.span(module.name);
        if (std.mem.startsWith(u8, name, "linux-vdso") or std.mem.startsWith(u8, name, "linux-gate")) return;
        var with_module = context;
        with_module.module = module;
        module.forEachImportSlot(with_module, visitSlot);
    }

    fn visitSlot(context: PatchContext, slot: usize, name: [*:0]const u8) void {
        const hook = hookAddress(std.mem.span(name)) orelse return;
        const current = @atomicLoad(usize, @as(*usize, @ptrFromInt(slot)), .acquire);
        if (current == hook or isRecorded(slot)) return;
        if (!context.libc.contains(current) and !context.module.contains(current)) return;
        if (records_count == records_max) {
            overflowed = true;
            return;
        }
        if (!writeSlot(context.module, slot, hook)) {
            mprotect_failed = true;
            return;
        }
        records.?[records_count] = .{ .slot = slot, .original = current, .hook = hook, .module_base = context.module.base };
        records_count += 1;
    }
};

/// Base of this library and libc's range, read once by install (dladdr and
/// dl_iterate_phdr must not run under `patch_lock` for the first, and libc
/// never moves).
var own_base: usize = 0;
var libc_range: Range = .{};

/// Waits until no dlopen is in flight: dladdr takes and releases the
/// loader's `dl_load_lock`, which a dlopen holds until its objects are
/// relocated and protected (or unloaded again on failure).
fn waitForLoaderIdle() void {
    var info: DlInfo = undefined;
    _ = dladdr(@ptrCast(&hookDlopen), &info);
}

/// A round that saw an object unloaded is repeated, at most this often; a
/// process that unloads objects faster than that leaves them for the next
/// dlopen (counted as not patched, never patched half-loaded).
const rounds_max = 8;

/// Patches the import slots of every fully loaded object. Called without
/// `patch_lock` and without any loader lock held by us.
fn patchLoaded() void {
    var snapshot: Snapshot = .{};
    var round: u32 = 0;
    while (round < rounds_max) : (round += 1) {
        snapshot.take();
        waitForLoaderIdle();
        patch_lock.lock();
        defer patch_lock.unlock();
        if (!installed.load(.acquire)) return;
        mapping_cache = null;
        var raced = false;
        elf_dynamic.forEachModule(PatchContext{
            .own_base = own_base,
            .libc = libc_range,
            .snapshot = &snapshot,
            .raced = &raced,
        }, PatchContext.visitModule);
        if (!raced) return;
    }
}

/// Restores every slot of the objects still loaded, then forgets all.
fn restoreAll() void {
    mapping_cache = null;
    const Restore = struct {
        fn visitModule(_: void, module: *const elf_dynamic.Module) void {
            for (recordsSlice()) |record| {
                if (record.module_base != module.base or !module.contains(record.slot)) continue;
                const pointer: *usize = @ptrFromInt(record.slot);
                // Someone else rewrote the slot since: leave theirs.
                if (@atomicLoad(usize, pointer, .acquire) != record.hook) continue;
                _ = writeSlot(module, record.slot, record.original);
            }
        }
    };
    elf_dynamic.forEachModule({}, Restore.visitModule);
    records_count = 0;
}

/// Drops records of objects that dlclose unmapped.
fn forgetUnloaded() void {
    const Mark = struct {
        fn visitModule(_: void, module: *const elf_dynamic.Module) void {
            for (recordsSlice()) |*record| {
                if (record.module_base == module.base and module.contains(record.slot)) record.module_base |= 1 << 63;
            }
        }
    };
    elf_dynamic.forEachModule({}, Mark.visitModule);
    var kept: usize = 0;
    for (recordsSlice()) |record| {
        if (record.module_base & (1 << 63) == 0) continue;
        records.?[kept] = record;
        records.?[kept].module_base &= ~@as(usize, 1 << 63);
        kept += 1;
    }
    records_count = kept;
}

/// The library must never be unmapped while a slot points into it, even if
/// the process dlcloses it: pin it with RTLD_NODELETE.
fn pinSelf() void {
    var info: DlInfo = undefined;
    if (dladdr(@ptrCast(&hookDlopen), &info) == 0) return;
    _ = dlopen(info.dli_fname, rtld_now | rtld_noload | rtld_nodelete);
}

fn mapRecords() bool {
    if (records != null) return true;
    const bytes = records_max * @sizeOf(Record);
    records = @ptrCast(@alignCast(pages.map(bytes, .eager) orelse return false));
    return true;
}

/// Patches every loaded object. A failure part way (a page that cannot be
/// made writable, a full record table) rolls back every slot written and
/// leaves the library uninstalled, so a retry starts afresh.
pub fn install() abi.Status {
    if (installed.load(.acquire)) return .already_installed;
    // Everything that enters the loader happens before `patch_lock`.
    if (!mapRecords()) return .out_of_memory;
    const libc = libcRange();
    if (libc.end == 0) return .libc_not_found;
    if (!globalMallocIsLibc(libc)) return .foreign_allocator;
    const base = ownBase();
    pinSelf();
    {
        patch_lock.lock();
        defer patch_lock.unlock();
        if (installed.load(.acquire)) return .already_installed;
        std.debug.assert(records_count == 0);
        own_base = base;
        libc_range = libc;
        overflowed = false;
        mprotect_failed = false;
        hooks.counting.store(true, .release);
        installed.store(true, .release);
    }
    patchLoaded();
    patch_lock.lock();
    defer patch_lock.unlock();
    if (!installed.load(.acquire)) return .ok; // uninstalled meanwhile by another thread
    const failure: ?abi.Status = if (mprotect_failed) .mprotect_failed else if (overflowed) .patch_table_full else null;
    if (failure) |status| {
        hooks.counting.store(false, .release);
        installed.store(false, .release);
        restoreAll();
        std.debug.assert(records_count == 0);
        return status;
    }
    return .ok;
}

pub fn uninstall() abi.Status {
    patch_lock.lock();
    defer patch_lock.unlock();
    if (!installed.load(.acquire)) return .not_installed;
    hooks.counting.store(false, .release);
    installed.store(false, .release);
    restoreAll();
    return .ok;
}

pub fn patchedSlots() usize {
    return records_count;
}

pub fn mappedBytes() usize {
    return if (records != null) records_max * @sizeOf(Record) else 0;
}

pub fn lockForFork() void {
    patch_lock.lock();
}

pub fn unlockAfterFork() void {
    patch_lock.unlock();
}

pub fn afterForkChild() void {
    patch_lock.forceUnlock();
}

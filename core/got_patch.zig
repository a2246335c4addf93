//! Run-time install: point the GOT slots of the malloc family in every
//! loaded ELF object at our hooks, and keep doing it for objects loaded
//! later (through hooks on dlopen/dlclose). Every slot we write is recorded
//! with its original value so `uninstall` can put it back.
//!
//! Slots are read and written inside `dl_iterate_phdr` callbacks, which hold
//! the loader's lock: an object cannot be unmapped while we touch it.

const std = @import("std");
const linux = std.os.linux;
const abi = @import("abi.zig");
const elf_dynamic = @import("elf_dynamic.zig");
const hooks = @import("hooks.zig");
const SpinLock = @import("SpinLock.zig");
const pages = @import("pages.zig");

const Record = struct {
    slot: usize,
    original: usize,
    hook: usize,
    module_base: usize,
};

/// Deno has ~30 objects with a handful of slots each; a process with more
/// patched slots than this gets `patch_table_full` from install.
const records_max = 4096;

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
    if (handle != null and installed.load(.acquire)) {
        patch_lock.lock();
        defer patch_lock.unlock();
        if (installed.load(.acquire)) patchAll();
    }
    return handle;
}

fn hookDlclose(handle: ?*anyopaque) callconv(.c) c_int {
    const status = dlclose(handle);
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

/// Writes a GOT slot, lifting RELRO protection only around the write. A
/// page outside the RELRO range was writable and stays so.
fn writeSlot(module: *const elf_dynamic.Module, slot: usize, value: usize) bool {
    const page_size = pageSize();
    const page = slot & ~(page_size - 1);
    // The loader protects whole pages only: the RELRO range rounded down at
    // its end.
    const relro_start = module.relro_start & ~(page_size - 1);
    const relro_end = module.relro_end & ~(page_size - 1);
    const protected = page >= relro_start and page < relro_end;
    const pointer: *usize = @ptrFromInt(slot);
    if (!protected) {
        @atomicStore(usize, pointer, value, .release);
        return true;
    }
    const page_ptr: [*]const u8 = @ptrFromInt(page);
    if (linux.errno(linux.mprotect(page_ptr, page_size, .{ .READ = true, .WRITE = true })) != .SUCCESS) return false;
    @atomicStore(usize, pointer, value, .release);
    _ = linux.mprotect(page_ptr, page_size, .{ .READ = true });
    return true;
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

const PatchContext = struct {
    own_base: usize,
    libc: Range,
    module: *const elf_dynamic.Module = undefined,

    fn visitModule(context: PatchContext, module: *const elf_dynamic.Module) void {
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

fn patchAll() void {
    elf_dynamic.forEachModule(PatchContext{ .own_base = ownBase(), .libc = libcRange() }, PatchContext.visitModule);
}

/// Restores every slot of the objects still loaded, then forgets all.
fn restoreAll() void {
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

pub fn install() abi.Status {
    patch_lock.lock();
    defer patch_lock.unlock();
    if (installed.load(.acquire)) return .already_installed;
    if (!mapRecords()) return .patch_table_full;
    const libc = libcRange();
    if (libc.end == 0) return .libc_not_found;
    if (!globalMallocIsLibc(libc)) return .foreign_allocator;
    pinSelf();
    overflowed = false;
    mprotect_failed = false;
    hooks.counting.store(true, .release);
    installed.store(true, .release);
    patchAll();
    if (mprotect_failed) return .mprotect_failed;
    if (overflowed) return .patch_table_full;
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

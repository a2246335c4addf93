//! The real glibc allocator that every hook forwards to.
//!
//! malloc/calloc/realloc/free/memalign/valloc/pvalloc have `__libc_*`
//! aliases that glibc exports precisely so that an interposer can reach it
//! without `dlsym(RTLD_NEXT)` (whose error path allocates: the classic
//! recursion trap). posix_memalign, aligned_alloc and malloc_usable_size
//! have no such alias: they are looked up once in libc's own dynamic symbol
//! table by `elf_dynamic.findInLibc`, which neither allocates nor locks
//! beyond `dl_iterate_phdr`.

const std = @import("std");
const elf_dynamic = @import("elf_dynamic.zig");

extern fn __libc_malloc(size: usize) callconv(.c) ?*anyopaque;
extern fn __libc_calloc(count: usize, size: usize) callconv(.c) ?*anyopaque;
extern fn __libc_realloc(ptr: ?*anyopaque, size: usize) callconv(.c) ?*anyopaque;
extern fn __libc_free(ptr: ?*anyopaque) callconv(.c) void;
extern fn __libc_memalign(alignment: usize, size: usize) callconv(.c) ?*anyopaque;
extern fn __libc_valloc(size: usize) callconv(.c) ?*anyopaque;
extern fn __libc_pvalloc(size: usize) callconv(.c) ?*anyopaque;

pub const malloc = __libc_malloc;
pub const calloc = __libc_calloc;
pub const realloc = __libc_realloc;
pub const free = __libc_free;
pub const memalign = __libc_memalign;
pub const valloc = __libc_valloc;
pub const pvalloc = __libc_pvalloc;

const PosixMemalignFn = *const fn (*?*anyopaque, usize, usize) callconv(.c) c_int;
const AlignedAllocFn = *const fn (usize, usize) callconv(.c) ?*anyopaque;
const UsableSizeFn = *const fn (?*anyopaque) callconv(.c) usize;

var posix_memalign_fn: std.atomic.Value(?PosixMemalignFn) = .init(null);
var aligned_alloc_fn: std.atomic.Value(?AlignedAllocFn) = .init(null);
var usable_size_fn: std.atomic.Value(?UsableSizeFn) = .init(null);

/// Resolves a libc function once; a race resolves it twice to the same
/// address, which is harmless.
fn resolve(comptime T: type, slot: *std.atomic.Value(?T), comptime name: [:0]const u8) ?T {
    if (slot.load(.acquire)) |f| return f;
    const address = elf_dynamic.findInLibc(name) orelse return null;
    const f: T = @ptrFromInt(address);
    slot.store(f, .release);
    return f;
}

pub fn posixMemalign(out: *?*anyopaque, alignment: usize, size: usize) c_int {
    if (resolve(PosixMemalignFn, &posix_memalign_fn, "posix_memalign")) |f| {
        return f(out, alignment, size);
    }
    // Not reachable with glibc; keep the documented contract anyway.
    const valid = alignment % @sizeOf(usize) == 0 and std.math.isPowerOfTwo(alignment);
    if (!valid) return @backingInt(std.os.linux.E.INVAL);
    out.* = __libc_memalign(alignment, size) orelse return @backingInt(std.os.linux.E.NOMEM);
    return 0;
}

pub fn alignedAlloc(alignment: usize, size: usize) ?*anyopaque {
    if (resolve(AlignedAllocFn, &aligned_alloc_fn, "aligned_alloc")) |f| return f(alignment, size);
    return __libc_memalign(alignment, size);
}

pub fn usableSize(ptr: ?*anyopaque) usize {
    if (resolve(UsableSizeFn, &usable_size_fn, "malloc_usable_size")) |f| return f(ptr);
    return 0;
}

//! A program that brings its own allocator under preload: the executable
//! (rustc with jemalloc, a game engine) or an object preloaded ahead of us
//! defines malloc itself. The dynamic linker then binds malloc, free,
//! calloc, realloc … to that allocator, and only the names it leaves out
//! (typically `reallocarray` and `pvalloc`) reach our hooks. Ours would hand
//! its blocks to glibc (`realloc(): invalid pointer`, an abort), and count
//! nothing else: a report of zero blocks without a word.
//!
//! So, when the first definition of `malloc` in lookup order is neither ours
//! nor glibc's, the library stands aside: it counts nothing (install is
//! refused with `foreign_allocator`), writes no report, says so once on
//! stderr, and `reallocarray` goes to the program's `realloc`, as glibc's
//! own reallocarray would (through its PLT). The other hooks already go
//! where glibc's definitions would: the same place a plain run goes.
//!
//! Decided in the constructor, or on the first call of `reallocarray` if it
//! comes earlier (another library's constructor).

const std = @import("std");
const elf_dynamic = @import("elf_dynamic.zig");
const options = @import("options.zig");

const State = enum(u8) { unknown, glibc, foreign };

var state: std.atomic.Value(State) = .init(.unknown);
var warned: std.atomic.Value(bool) = .init(false);

const ReallocFn = *const fn (?*anyopaque, usize) callconv(.c) ?*anyopaque;
/// The program's realloc (the first definition that is not ours).
var program_realloc: ?ReallocFn = null;

/// True when another allocator owns the process's malloc; decides now if
/// not decided yet.
pub fn active() bool {
    const decided = state.load(.acquire);
    if (decided != .unknown) return decided == .foreign;
    return detect() == .foreign;
}

/// Where `malloc` and `realloc` are first defined in lookup order (load
/// order: the executable, preloaded objects, then the libraries).
const Definers = struct {
    own_address: usize,
    malloc_in_own: bool = false,
    malloc_in_libc: bool = false,
    malloc_found: bool = false,
    malloc_module_name: [*:0]const u8 = "",
    realloc_not_own: ?usize = null,

    fn visit(found: *Definers, module: *const elf_dynamic.Module) void {
        const own = module.contains(found.own_address);
        if (!found.malloc_found and module.lookup("malloc") != null) {
            found.malloc_found = true;
            found.malloc_in_own = own;
            found.malloc_in_libc = elf_dynamic.isLibc(module.name);
            found.malloc_module_name = module.name;
        }
        if (!own and found.realloc_not_own == null) found.realloc_not_own = module.lookup("realloc");
    }
};

/// Decides once per process (a race decides twice, the same way). Only
/// meaningful under preload: the caller asks only then.
pub fn detect() State {
    var found: Definers = .{ .own_address = @intFromPtr(&detect) };
    elf_dynamic.forEachModule(&found, Definers.visit);
    const foreign = found.malloc_found and !found.malloc_in_own and !found.malloc_in_libc;
    const realloc_address = found.realloc_not_own orelse 0;
    if (foreign and realloc_address != 0) program_realloc = @ptrFromInt(realloc_address);
    const decided: State = if (foreign) .foreign else .glibc;
    state.store(decided, .release);
    if (foreign and !warned.swap(true, .monotonic)) warn(found.malloc_module_name);
    return decided;
}

fn warn(module_name: [*:0]const u8) void {
    const name = std.mem.span(module_name);
    options.warn(&.{
        "mod-alloc: ",
        if (name.len == 0) "the program" else name,
        " defines its own malloc (an allocator such as jemalloc or mimalloc built in or preloaded first), which mod-alloc cannot see: ",
        "nothing is counted and no report is written; profile a build that uses glibc's malloc",
    });
}

/// `reallocarray` for a process whose allocator is not glibc's: the
/// overflow check, then the program's realloc.
pub fn reallocarray(block: ?*anyopaque, count: usize, size: usize) ?*anyopaque {
    std.debug.assert(state.load(.monotonic) == .foreign);
    const bytes = std.math.mul(usize, count, size) catch {
        std.c._errno().* = @backingInt(std.os.linux.E.NOMEM);
        return null;
    };
    const realloc = program_realloc orelse {
        // An allocator without realloc cannot take the block back.
        std.c._errno().* = @backingInt(std.os.linux.E.NOMEM);
        return null;
    };
    return realloc(block, bytes);
}

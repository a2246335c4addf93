//! Reading the dynamic sections of the ELF objects loaded in this process,
//! as the dynamic loader left them in memory: no file I/O, no allocation.
//! Used by the GOT patcher (relocations) and by `real.zig` (libc symbols).

const std = @import("std");
const builtin = @import("builtin");

comptime {
    if (@sizeOf(usize) != 8) @compileError("mod-alloc supports 64-bit ELF targets only");
}

/// glibc's `struct dl_phdr_info`, up to the fields we read.
pub const PhdrInfo = extern struct {
    addr: usize,
    name: ?[*:0]const u8,
    phdr: [*]const Phdr,
    phnum: u16,
    /// Objects loaded and unloaded in the process so far (glibc 2.4+).
    adds: u64,
    subs: u64,
};

pub const Phdr = extern struct {
    p_type: u32,
    p_flags: u32,
    p_offset: u64,
    p_vaddr: u64,
    p_paddr: u64,
    p_filesz: u64,
    p_memsz: u64,
    p_align: u64,
};

const Dyn = extern struct { d_tag: i64, d_val: u64 };
const Rela = extern struct { r_offset: u64, r_info: u64, r_addend: i64 };
const Sym = extern struct {
    st_name: u32,
    st_info: u8,
    st_other: u8,
    st_shndx: u16,
    st_value: u64,
    st_size: u64,
};

const pt_load = 1;
const pt_dynamic = 2;
const pt_gnu_relro = 0x6474e552;

const dt_null = 0;
const dt_pltrelsz = 2;
const dt_strtab = 5;
const dt_symtab = 6;
const dt_rela = 7;
const dt_relasz = 8;
const dt_jmprel = 23;
const dt_gnu_hash = 0x6ffffef5;

/// The two relocation types that fill a GOT slot with a function address.
const reloc_jump_slot: u32 = switch (builtin.cpu.arch) {
    .x86_64 => 7,
    .aarch64 => 1026,
    else => @compileError("unsupported architecture"),
};
const reloc_glob_dat: u32 = switch (builtin.cpu.arch) {
    .x86_64 => 6,
    .aarch64 => 1025,
    else => @compileError("unsupported architecture"),
};

pub const Callback = *const fn (info: *const PhdrInfo, size: usize, context: ?*anyopaque) callconv(.c) c_int;
pub extern fn dl_iterate_phdr(callback: Callback, context: ?*anyopaque) callconv(.c) c_int;

/// The parts of one loaded object that patching and lookup need.
pub const Module = struct {
    base: usize,
    name: [*:0]const u8,
    /// Objects unloaded in the process when this was read: a change means a
    /// base address may now belong to another object.
    unloads_total: u64 = 0,
    /// Lowest and highest mapped address (PT_LOAD segments).
    start: usize = 0,
    end: usize = 0,
    relro_start: usize = 0,
    relro_end: usize = 0,
    symtab: ?[*]const Sym = null,
    strtab: ?[*:0]const u8 = null,
    gnu_hash: ?[*]const u32 = null,
    rela: ?[*]const Rela = null,
    rela_count: usize = 0,
    jmprel: ?[*]const Rela = null,
    jmprel_count: usize = 0,

    pub fn fromInfo(info: *const PhdrInfo) Module {
        var module: Module = .{ .base = info.addr, .name = info.name orelse "", .unloads_total = info.subs };
        var dynamic: ?[*]const Dyn = null;
        module.start = std.math.maxInt(usize);
        for (info.phdr[0..info.phnum]) |ph| {
            switch (ph.p_type) {
                pt_load => {
                    module.start = @min(module.start, info.addr + ph.p_vaddr);
                    module.end = @max(module.end, info.addr + ph.p_vaddr + ph.p_memsz);
                },
                pt_dynamic => dynamic = @ptrFromInt(info.addr + ph.p_vaddr),
                pt_gnu_relro => {
                    module.relro_start = info.addr + ph.p_vaddr;
                    module.relro_end = module.relro_start + ph.p_memsz;
                },
                else => {},
            }
        }
        if (module.start > module.end) module.start = module.end;
        if (dynamic) |entries| module.readDynamic(entries);
        return module;
    }

    /// The loader rewrites most d_ptr values to absolute addresses, but not
    /// for every object (the vDSO, the loader itself): a value below the
    /// load base is still relative.
    fn absolute(module: *const Module, value: u64) usize {
        return if (value < module.base) module.base + value else value;
    }

    fn readDynamic(module: *Module, entries: [*]const Dyn) void {
        var rela_bytes: usize = 0;
        var jmprel_bytes: usize = 0;
        // A dynamic section has a few dozen entries; the bound only stops a
        // corrupt one from running away.
        var index: usize = 0;
        while (index < 4096 and entries[index].d_tag != dt_null) : (index += 1) {
            const value = entries[index].d_val;
            switch (entries[index].d_tag) {
                dt_symtab => module.symtab = @ptrFromInt(module.absolute(value)),
                dt_strtab => module.strtab = @ptrFromInt(module.absolute(value)),
                dt_gnu_hash => module.gnu_hash = @ptrFromInt(module.absolute(value)),
                dt_rela => module.rela = @ptrFromInt(module.absolute(value)),
                dt_relasz => rela_bytes = value,
                dt_jmprel => module.jmprel = @ptrFromInt(module.absolute(value)),
                dt_pltrelsz => jmprel_bytes = value,
                else => {},
            }
        }
        module.rela_count = rela_bytes / @sizeOf(Rela);
        module.jmprel_count = jmprel_bytes / @sizeOf(Rela);
    }

    pub fn contains(module: *const Module, address: usize) bool {
        return address >= module.start and address < module.end;
    }

    pub fn symbolName(module: *const Module, index: usize) ?[*:0]const u8 {
        const symtab = module.symtab orelse return null;
        const strtab = module.strtab orelse return null;
        return strtab + symtab[index].st_name;
    }

    /// Calls `visit(context, slot_address, symbol_name)` for every GOT slot
    /// that a JUMP_SLOT or GLOB_DAT relocation binds to a named symbol.
    pub fn forEachImportSlot(
        module: *const Module,
        context: anytype,
        comptime visit: fn (@TypeOf(context), usize, [*:0]const u8) void,
    ) void {
        const tables = [_]struct { ?[*]const Rela, usize }{
            .{ module.jmprel, module.jmprel_count },
            .{ module.rela, module.rela_count },
        };
        for (tables) |table| {
            const relocs = table[0] orelse continue;
            for (relocs[0..table[1]]) |reloc| {
                const kind: u32 = @truncate(reloc.r_info);
                if (kind != reloc_jump_slot and kind != reloc_glob_dat) continue;
                const symbol_index: usize = @intCast(reloc.r_info >> 32);
                if (symbol_index == 0) continue;
                const name = module.symbolName(symbol_index) orelse continue;
                visit(context, module.base + reloc.r_offset, name);
            }
        }
    }

    /// Address of a symbol this object defines, through its GNU hash table.
    pub fn lookup(module: *const Module, name: []const u8) ?usize {
        const table = module.gnu_hash orelse return null;
        const symtab = module.symtab orelse return null;
        const strtab = module.strtab orelse return null;
        const buckets_count = table[0];
        const symbol_offset = table[1];
        const bloom_words = table[2];
        if (buckets_count == 0) return null;
        const buckets = table + 4 + bloom_words * 2; // bloom words are 64-bit
        const chain = buckets + buckets_count;
        const hash = gnuHash(name);
        var index: u32 = buckets[hash % buckets_count];
        if (index < symbol_offset) return null;
        // Each chain ends with a value whose low bit is set; the bound
        // guards against a corrupt table.
        var steps: u32 = 0;
        while (steps < 1 << 20) : ({
            steps += 1;
            index += 1;
        }) {
            const chain_hash = chain[index - symbol_offset];
            if ((chain_hash | 1) == (hash | 1)) {
                const symbol = symtab[index];
                const symbol_name = std.mem.span(strtab + symbol.st_name);
                if (symbol.st_shndx != 0 and std.mem.eql(u8, symbol_name, name)) {
                    return module.base + symbol.st_value;
                }
            }
            if (chain_hash & 1 != 0) return null;
        }
        return null;
    }
};

fn gnuHash(name: []const u8) u32 {
    var hash: u32 = 5381;
    for (name) |c| hash = hash *% 33 +% c;
    return hash;
}

/// Calls `visit(context, module)` for every loaded object.
pub fn forEachModule(context: anytype, comptime visit: fn (@TypeOf(context), *const Module) void) void {
    const Context = @TypeOf(context);
    const Adapter = struct {
        fn callback(info: *const PhdrInfo, size: usize, raw: ?*anyopaque) callconv(.c) c_int {
            if (size < @sizeOf(PhdrInfo)) return 0;
            const ctx: *const Context = @ptrCast(@alignCast(raw.?));
            const module = Module.fromInfo(info);
            visit(ctx.*, &module);
            return 0;
        }
    };
    var ctx = context;
    _ = dl_iterate_phdr(Adapter.callback, @ptrCast(&ctx));
}

pub fn isLibc(name: [*:0]const u8) bool {
    const path = std.mem.span(name);
    const base = if (std.mem.lastIndexOfScalar(u8, path, '/')) |slash| path[slash + 1 ..] else path;
    return std.mem.startsWith(u8, base, "libc.so");
}

/// Address of `name` as glibc's libc.so defines it, or null.
pub fn findInLibc(name: []const u8) ?usize {
    const Search = struct {
        name: []const u8,
        found: *?usize,
        fn visit(search: @This(), module: *const Module) void {
            if (search.found.* != null or !isLibc(module.name)) return;
            search.found.* = module.lookup(search.name);
        }
    };
    var found: ?usize = null;
    forEachModule(Search{ .name = name, .found = &found }, Search.visit);
    return found;
}

test "findInLibc finds malloc_usable_size in the running libc" {
    const address = findInLibc("malloc_usable_size") orelse return error.TestUnexpectedResult;
    const Fn = *const fn (?*anyopaque) callconv(.c) usize;
    const usable: Fn = @ptrFromInt(address);
    const block = std.c.malloc(100) orelse return error.OutOfMemory;
    defer std.c.free(block);
    try std.testing.expect(usable(block) >= 100);
}

test "findInLibc returns null for a name libc does not define" {
    try std.testing.expectEqual(@as(?usize, null), findInLibc("mod_alloc_no_such_symbol"));
}

//! Is the process a Go program? Go's runtime leaves with a raw
//! `exit_group`: no atexit handler, destructor or `_exit` hook runs, so a
//! report cannot be written at exit and the user must be told so instead
//! of finding no file. Recognised by the sections Go's linker always emits
//! (`.go.buildinfo`, `.note.go.buildid`), read from /proc/self/exe with
//! bounded reads into static memory: no allocation, callable from the
//! library's constructor.

const std = @import("std");
const linux = std.os.linux;
const elf = std.elf;

/// Section headers read at most (Go binaries have ~25-40): a file with more
/// is judged on the first ones.
const sections_max = 128;
/// Bytes of section names read (Go's are well under 1 KiB).
const names_bytes_max = 4096;

var headers: [sections_max]elf.Elf64_Shdr = undefined;
var names: [names_bytes_max]u8 = undefined;

fn readAt(fd: i32, buffer: []u8, offset: u64) bool {
    var done: usize = 0;
    while (done < buffer.len) {
        const result = linux.pread(fd, buffer[done..].ptr, buffer.len - done, @intCast(offset + done));
        if (linux.errno(result) != .SUCCESS or result == 0) return false;
        done += result;
    }
    return true;
}

/// True when `path` is an ELF file with a Go build-info section.
pub fn isGoExecutable(path: [*:0]const u8) bool {
    const fd_raw = linux.open(path, .{ .ACCMODE = .RDONLY, .CLOEXEC = true }, 0);
    if (linux.errno(fd_raw) != .SUCCESS) return false;
    const fd: i32 = @intCast(fd_raw);
    defer _ = linux.close(fd);
    var header: elf.Elf64_Ehdr = undefined;
    if (!readAt(fd, std.mem.asBytes(&header), 0)) return false;
    if (!std.mem.eql(u8, header.e_ident[0..4], elf.MAGIC)) return false;
    if (header.e_ident[elf.EI.CLASS] != elf.ELFCLASS64 or header.e_shentsize != @sizeOf(elf.Elf64_Shdr)) return false;
    const count: usize = @min(header.e_shnum, sections_max);
    if (count == 0 or header.e_shstrndx >= count) return false;
    if (!readAt(fd, std.mem.sliceAsBytes(headers[0..count]), header.e_shoff)) return false;
    const strings = headers[header.e_shstrndx];
    const names_len: usize = @intCast(@min(strings.sh_size, names_bytes_max));
    if (!readAt(fd, names[0..names_len], strings.sh_offset)) return false;
    for (headers[0..count]) |section| {
        if (section.sh_name >= names_len) continue;
        const name = std.mem.sliceTo(names[section.sh_name..names_len], 0);
        if (std.mem.eql(u8, name, ".go.buildinfo") or std.mem.eql(u8, name, ".note.go.buildid")) return true;
    }
    return false;
}

test "this test binary, written in Zig, is not a Go program" {
    try std.testing.expect(!isGoExecutable("/proc/self/exe"));
}

test "a missing or non-ELF file is not a Go program" {
    try std.testing.expect(!isGoExecutable("/nonexistent/go-program"));
    try std.testing.expect(!isGoExecutable("/proc/self/maps"));
}

//! The one thread-local word the hooks read: the calling thread's record
//! (`ThreadRecord.zig`) or a small state value.
//!
//! Initial-exec TLS, written by hand: Zig has no TLS-model attribute, and a
//! `threadlocal` of a PIC library compiles to general-dynamic
//! (`__tls_get_addr`), which can call malloc on a thread's first touch and
//! recurse into the hook. The word is declared in assembly as a local
//! symbol in `.tbss` and reached through its GOT TP-offset, so the library
//! is marked STATIC_TLS and takes 8 bytes of glibc's static TLS surplus
//! (1,664 bytes shared by every library that does this; measured to work in
//! a `Deno.dlopen`-ed library for the main thread, pool threads and later
//! threads). A local symbol, so two copies of the library in one process
//! (the ABI-skew test build) never share the word.
//!
//! Every access goes through `get`/`set`: naming the symbol from Zig code
//! would bring general-dynamic access back.

const std = @import("std");
const builtin = @import("builtin");

comptime {
    asm (
        \\.section .tbss,"awT",%nobits
        \\.p2align 3
        \\.type mod_alloc_thread_word, %object
        \\.size mod_alloc_thread_word, 8
        \\mod_alloc_thread_word:
        \\.zero 8
        \\.previous
    );
}

/// Values below this are states, not record addresses (page 0 is never
/// mapped, so no record lives there).
pub const state_max: usize = 4096;
/// The thread has no record yet (every new thread starts here: glibc zeroes
/// `.tbss` for each thread, reused stacks included).
pub const no_record: usize = 0;
/// The thread is claiming or releasing its record: hooks it calls meanwhile
/// (pthread_setspecific's calloc, a signal handler) forward uncounted.
pub const busy: usize = 1;
/// The thread's record was released by the exit destructor; events after
/// that (later destructors, libc's own teardown) borrow a record per event.
pub const exited: usize = 2;

inline fn address() *usize {
    const offset = switch (builtin.cpu.arch) {
        .x86_64 => asm ("movq mod_alloc_thread_word@GOTTPOFF(%%rip), %[offset]"
            : [offset] "=r" (-> usize),
        ),
        .aarch64 => asm (
            \\adrp %[offset], :gottprel:mod_alloc_thread_word
            \\ldr %[offset], [%[offset], #:gottprel_lo12:mod_alloc_thread_word]
            : [offset] "=r" (-> usize),
        ),
        else => @compileError("unsupported architecture"),
    };
    return @ptrFromInt(threadPointer() +% offset);
}

/// The thread pointer (fs base / tpidr_el0): TLS offsets are relative to it.
pub inline fn threadPointer() usize {
    return switch (builtin.cpu.arch) {
        .x86_64 => asm volatile ("mov %%fs:0, %[ret]"
            : [ret] "=r" (-> usize),
        ),
        .aarch64 => asm volatile ("mrs %[ret], tpidr_el0"
            : [ret] "=r" (-> usize),
        ),
        else => @compileError("unsupported architecture"),
    };
}

/// The calling thread's word. A signal handler on the same thread may read
/// it between our instructions: a whole-word volatile access.
pub inline fn get() usize {
    if (builtin.cpu.arch == .x86_64) {
        // The load through %fs directly: one instruction fewer than
        // forming the address first.
        return asm volatile (
            \\movq mod_alloc_thread_word@GOTTPOFF(%%rip), %[word]
            \\movq %%fs:(%[word]), %[word]
            : [word] "=r" (-> usize),
        );
    }
    return @as(*volatile usize, address()).*;
}

pub inline fn set(value: usize) void {
    @as(*volatile usize, address()).* = value;
}

/// Sets the word to `new` if it still holds `expected`, in one atomic
/// step: a signal handler on this thread that ran a hook between the
/// caller's read and this write cannot be overwritten. False when the word
/// changed.
pub inline fn replace(expected: usize, new: usize) bool {
    return @cmpxchgStrong(usize, address(), expected, new, .monotonic, .monotonic) == null;
}

test "the word is per thread and starts at no_record" {
    try std.testing.expectEqual(no_record, get());
    set(0x5000);
    defer set(no_record);
    const Other = struct {
        fn run(seen: *usize) void {
            seen.* = get();
            set(0x7000);
        }
    };
    var seen: usize = 99;
    const thread = try std.Thread.spawn(.{}, Other.run, .{&seen});
    thread.join();
    try std.testing.expectEqual(no_record, seen);
    try std.testing.expectEqual(@as(usize, 0x5000), get());
}

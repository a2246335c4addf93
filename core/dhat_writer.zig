//! Writes the site table as a DHAT file (dhatFileVersion 2, heap mode), the
//! format valgrind's `dh_view.html` reads. Frames are written as raw
//! addresses with the process's /proc/self/maps embedded (`modAlloc.maps`),
//! so the TypeScript side (`report/dhat.ts`) can name them later, with ELF,
//! DWARF and V8's perf map, outside the profiled process if need be.
//!
//! Safe at exit and inside a hooked process: no allocation (memory comes
//! from mmap), raw system calls only, and the file is opened by
//! `safe_file.zig` (a private staging file renamed into place, devices
//! written in place, FIFOs and directories refused).

const std = @import("std");
const linux = std.os.linux;
const abi = @import("abi.zig");
const counters = @import("counters.zig");
const event_clock = @import("event_clock.zig");
const peak = @import("peak.zig");
const site_table = @import("site_table.zig");
const thread_names = @import("thread_names.zig");
const timeline = @import("timeline.zig");
const pages = @import("pages.zig");
const safe_file = @import("safe_file.zig");
const SpinLock = @import("SpinLock.zig");
const sampler = @import("sampler.zig");

/// A "short-lived" block lives at most this many allocation events (the
/// viewer's `tuth`); DHAT's own threshold is 500 instructions.
const short_lived_allocs = 100;

/// Bytes buffered before a write(2).
const output_buffer_bytes = 16384;

const Output = struct {
    fd: linux.fd_t,
    buffer: *[output_buffer_bytes]u8,
    used: usize = 0,
    failed: bool = false,

    fn flush(out: *Output) void {
        var done: usize = 0;
        while (done < out.used and !out.failed) {
            const result = linux.write(out.fd, out.buffer[done..out.used].ptr, out.used - done);
            if (linux.errno(result) != .SUCCESS) {
                if (linux.errno(result) == .INTR) continue;
                out.failed = true;
                break;
            }
            done += result;
        }
        out.used = 0;
    }

    pub fn text(out: *Output, bytes: []const u8) void {
        for (bytes) |byte| {
            if (out.used == out.buffer.len) out.flush();
            out.buffer[out.used] = byte;
            out.used += 1;
        }
    }

    pub fn print(out: *Output, comptime format: []const u8, args: anytype) void {
        var scratch: [96]u8 = undefined;
        const formatted = std.fmt.bufPrint(&scratch, format, args) catch {
            out.failed = true;
            return;
        };
        out.text(formatted);
    }

    /// A JSON string's contents: quotes, backslashes and control bytes
    /// escaped, valid UTF-8 as it is, and each byte of invalid UTF-8 as
    /// the text `\xHH` (argv and file names need not be UTF-8; JSON must
    /// be). Returns how many bytes were written out: with `more`, an
    /// incomplete sequence at the end is left for the next call.
    fn escaped(out: *Output, bytes: []const u8, more: bool) usize {
        var i: usize = 0;
        while (i < bytes.len) {
            const byte = bytes[i];
            if (byte >= 0x80) {
                const length = std.unicode.utf8ByteSequenceLength(byte) catch 0;
                if (length != 0 and i + length > bytes.len and more) return i;
                const valid = length != 0 and i + length <= bytes.len and
                    (if (std.unicode.utf8Decode(bytes[i..][0..length])) |_| true else |_| false);
                if (valid) {
                    out.text(bytes[i..][0..length]);
                    i += length;
                } else {
                    out.print("\\\\x{X:0>2}", .{byte});
                    i += 1;
                }
                continue;
            }
            switch (byte) {
                '"' => out.text("\\\""),
                '\\' => out.text("\\\\"),
                '\n' => out.text("\\n"),
                0...9, 11...0x1f, 0x7f => out.print("\\u{x:0>4}", .{byte}),
                else => out.text(&.{byte}),
            }
            i += 1;
        }
        return i;
    }
};

/// Streams a file into the output as JSON string contents (at most
/// `limit` bytes).
fn escapedFile(out: *Output, path: [*:0]const u8, limit: usize) void {
    const fd_raw = linux.open(path, .{ .ACCMODE = .RDONLY, .CLOEXEC = true }, 0);
    if (linux.errno(fd_raw) != .SUCCESS) return;
    const fd: linux.fd_t = @intCast(fd_raw);
    defer _ = linux.close(fd);
    const chunk = &writer_memory.chunk;
    // Bytes of a UTF-8 sequence cut by the end of the last read.
    var carried: usize = 0;
    var total: usize = 0;
    while (total < limit) {
        const got = linux.read(fd, chunk[carried..].ptr, chunk.len - carried);
        if (linux.errno(got) != .SUCCESS or got == 0) break;
        const take = @min(got, limit - total);
        total += take;
        // /proc/self/cmdline separates arguments with NUL bytes.
        for (chunk[carried..][0..take]) |*byte| if (byte.* == 0) {
            byte.* = ' ';
        };
        const filled = carried + take;
        const done = out.escaped(chunk[0..filled], total < limit);
        carried = filled - done;
        std.mem.copyForwards(u8, chunk[0..carried], chunk[done..filled]);
    }
    _ = out.escaped(chunk[0..carried], false);
}

/// Frame address -> index in `ftbl`, in an open-addressing table mapped
/// for one write.
const FrameIndex = struct {
    keys: [*]u64,
    values: [*]u32,
    /// Keys in index order, for writing the frame table.
    order: [*]u64,
    capacity: usize,
    count: u32 = 1, // ftbl[0] is "[root]"
    bytes: usize,

    fn init(frames_max: usize) ?FrameIndex {
        var capacity: usize = 1024;
        while (capacity < frames_max * 2) capacity *= 2;
        const bytes = capacity * (2 * @sizeOf(u64) + @sizeOf(u32));
        // Sized for a full table, touched only as far as used.
        const base = pages.map(bytes, .lazy) orelse return null;
        return .{
            .keys = @ptrCast(@alignCast(base)),
            .order = @ptrCast(@alignCast(base + capacity * 8)),
            .values = @ptrCast(@alignCast(base + capacity * 16)),
            .capacity = capacity,
            .bytes = bytes,
        };
    }

    fn deinit(index: *FrameIndex) void {
        pages.unmap(@ptrCast(index.keys), index.bytes);
    }

    /// The ftbl index of `address` (0 is never an address: it is taken by
    /// the overflow row's pseudo-frame, stored as key 1).
    fn get(index: *FrameIndex, address: u64) u32 {
        const key = if (address == 0) 1 else address;
        var slot = (key *% 0x9E3779B97F4A7C15) >> 40 & (index.capacity - 1);
        while (true) : (slot = (slot + 1) & (index.capacity - 1)) {
            if (index.keys[slot] == key) return index.values[slot];
            if (index.keys[slot] == 0) {
                std.debug.assert(index.count < index.capacity);
                index.keys[slot] = key;
                index.values[slot] = index.count;
                index.order[index.count] = key;
                index.count += 1;
                return index.values[slot];
            }
        }
    }
};

const Totals = struct {
    events: f64,
    bytes: f64,
    peak_bytes: f64,
    peak_blocks: f64,
    end_bytes: f64,
    end_blocks: f64,
    /// The all-threads counters' peak (`peak.zig`), which chose the peak
    /// moment; with call sites on, `peak_bytes` is the sites' bytes at that
    /// moment, what dh_view sums, and the two differ by less than the
    /// drift bound (`peak.flush_bytes` per live thread).
    counters_peak_bytes: f64,
};

fn writeHeader(out: *Output, totals: Totals, sites_on: bool) void {
    out.text("{\"dhatFileVersion\":2,\"mode\":\"heap\",\"verb\":\"Allocated\",\"bklt\":true,\"bkacc\":false,");
    out.print("\"tu\":\"allocs\",\"Mtu\":\"Mallocs\",\"tuth\":{d},\"cmd\":\"", .{short_lived_allocs});
    escapedFile(out, "/proc/self/cmdline", 4096);
    // Sampling mode runs no event clock: the end time is the exact count
    // of allocation events (what the clock would have reached).
    const end_time = if (sampler.enabled()) exactAllocCount() else event_clock.elapsed();
    out.print("\",\"pid\":{d},\"te\":{d},\"tg\":{d},", .{ linux.getpid(), end_time, peak.peakTime() });
    out.print("\"modAlloc\":{{\"format\":1,\"callSites\":{},", .{sites_on});
    out.print("\"totalBlocks\":{d},\"totalBytes\":{d},", .{ totals.events, totals.bytes });
    out.print("\"peakBytes\":{d},\"peakBlocks\":{d},", .{ totals.peak_bytes, totals.peak_blocks });
    out.print("\"countersPeakBytes\":{d},\"peakDriftBytes\":{d},", .{ totals.counters_peak_bytes, peak.flush_bytes });
    out.print("\"endBytes\":{d},\"endBlocks\":{d},", .{ totals.end_bytes, totals.end_blocks });
    out.text("\"timeline\":");
    timeline.writeJsonNow(out);
    out.text(",");
    writeSampling(out);
    writeThreadNames(out);
    out.text(",\"maps\":\"");
    escapedFile(out, "/proc/self/maps", 16 << 20);
    out.text("\"},\"pps\":[");
}

/// Sampling mode: the mean interval and the exact figures beside the
/// estimates the program points carry (each with "tbSe"/"tbkSe", one
/// standard error).
fn writeSampling(out: *Output) void {
    const interval = sampler.intervalBytes();
    if (interval == 0) return;
    const stats = countersNow();
    out.print("\"sampling\":{{\"meanIntervalBytes\":{d},", .{interval});
    out.print("\"exactBlocks\":{d},", .{stats[@backingInt(abi.StatsField.alloc_count)]});
    out.print("\"exactBytes\":{d},", .{stats[@backingInt(abi.StatsField.total_bytes)]});
    out.print("\"exactFrees\":{d}}},", .{stats[@backingInt(abi.StatsField.free_count)]});
}

/// The all-threads counters now.
fn countersNow() [abi.stats_fields_count]f64 {
    var stats: [abi.stats_fields_count]f64 = undefined;
    var scratch: counters.ThreadCounters = .{};
    counters.snapshot(.all, &scratch, &stats);
    return stats;
}

fn exactAllocCount() u64 {
    return @intFromFloat(countersNow()[@backingInt(abi.StatsField.alloc_count)]);
}

/// One standard error of a site's estimates (`sampler.Weights`): blocks,
/// then bytes.
fn standardErrors(stats: *const [site_table.stats_values]f64) [2]f64 {
    const interval: f64 = @floatFromInt(sampler.intervalBytes());
    return .{ @round(@sqrt(stats[12])), @round(@sqrt(interval * stats[13])) };
}

/// "threadNames": the kernel thread names that each program point's
/// "thread" id indexes (`thread_names.zig`; 0 is "unknown").
fn writeThreadNames(out: *Output) void {
    out.text("\"threadNames\":[");
    var name: [thread_names.name_bytes]u8 = undefined;
    var id: u32 = 0;
    while (id < thread_names.names_max) : (id += 1) {
        const length = thread_names.nameOf(id, &name);
        if (length < 0) break;
        out.text(if (id == 0) "\"" else ",\"");
        _ = out.escaped(name[0..@intCast(length)], false);
        out.text("\"");
    }
    out.text("]");
}

fn writeSites(out: *Output, frames: *FrameIndex) void {
    var stats: [site_table.stats_values]f64 = undefined;
    var addresses: [64]u64 = undefined;
    var first = true;
    for (0..site_table.bucketsCount()) |index| {
        const count = site_table.read(@intCast(index), null, &stats, &addresses);
        if (count < 0 or stats[0] == 0) continue;
        out.text(if (first) "{" else ",{");
        first = false;
        out.print("\"tb\":{d},\"tbk\":{d},\"tl\":{d},", .{ stats[1], stats[0], stats[8] });
        out.print("\"mb\":{d},\"mbk\":{d},\"gb\":{d},\"gbk\":{d},", .{ stats[4], stats[5], stats[9], stats[10] });
        // "site": the row that `modAlloc.timeline.sites` snapshots name.
        out.print("\"eb\":{d},\"ebk\":{d},\"thread\":{d},\"site\":{d},", .{ stats[2], stats[3], stats[11], index });
        if (sampler.enabled()) {
            const errors = standardErrors(&stats);
            out.print("\"tbkSe\":{d},\"tbSe\":{d},", .{ errors[0], errors[1] });
        }
        out.text("\"fs\":[");
        if (index == site_table.overflow_site) {
            out.print("{d}", .{frames.get(0)});
        } else for (addresses[0..@intCast(count)], 0..) |address, i| {
            out.print("{s}{d}", .{ if (i == 0) "" else ",", frames.get(address) });
        }
        out.text("]}");
    }
}

/// Without call sites: every allocation in one program point.
fn writeTotalsOnly(out: *Output, totals: Totals) void {
    out.print("{{\"tb\":{d},\"tbk\":{d},\"tl\":0,", .{ totals.bytes, totals.events });
    out.print("\"mb\":{d},\"mbk\":{d},\"gb\":{d},\"gbk\":{d},", .{ totals.peak_bytes, totals.peak_blocks, totals.peak_bytes, totals.peak_blocks });
    out.print("\"eb\":{d},\"ebk\":{d},\"fs\":[1]}}", .{ totals.end_bytes, totals.end_blocks });
}

/// ftbl: "[root]", then each frame as "0x<address>" in index order (the
/// overflow row's pseudo-frame as a sentence).
fn writeFrameTable(out: *Output, frames: *FrameIndex, sites_on: bool) void {
    out.text("],\"ftbl\":[\"[root]\"");
    if (!sites_on) {
        out.text(",\"[all allocations: call sites were off; set MOD_ALLOC_BACKTRACES=1]\"]}\n");
        return;
    }
    for (frames.order[1..frames.count]) |key| {
        if (key == 1) {
            out.text(",\"[mod-alloc overflow row: sites that did not fit the table; raise MOD_ALLOC_BUCKETS]\"");
        } else {
            out.print(",\"0x{x}\"", .{key});
        }
    }
    out.text("]}\n");
}

fn totalsNow() Totals {
    const stats = countersNow();
    const field = struct {
        fn get(values: *const [abi.stats_fields_count]f64, name: abi.StatsField) f64 {
            return values[@backingInt(name)];
        }
    }.get;
    var totals: Totals = .{
        .events = field(&stats, .alloc_count),
        .bytes = field(&stats, .total_bytes),
        .peak_bytes = field(&stats, .peak_bytes),
        .peak_blocks = field(&stats, .peak_live_count),
        .end_bytes = field(&stats, .current_bytes),
        .end_blocks = field(&stats, .live_count),
        .counters_peak_bytes = field(&stats, .peak_bytes),
    };
    if (site_table.enabled()) {
        // The header sums the program points, so it says what dh_view
        // shows for the same file.
        totals.events = 0;
        totals.bytes = 0;
        totals.peak_bytes = 0;
        totals.peak_blocks = 0;
        totals.end_bytes = 0;
        totals.end_blocks = 0;
        var site: [site_table.stats_values]f64 = undefined;
        var addresses: [1]u64 = undefined;
        for (0..site_table.bucketsCount()) |index| {
            if (site_table.read(@intCast(index), null, &site, &addresses) < 0) continue;
            totals.events += site[0];
            totals.bytes += site[1];
            totals.end_bytes += site[2];
            totals.end_blocks += site[3];
            totals.peak_bytes += site[9];
            totals.peak_blocks += site[10];
        }
    }
    return totals;
}

/// The writer's buffers (about 29 KiB) live here, not on the stack: the
/// report is written at exit by whichever thread exits, which may have a
/// 16 KiB stack or be on a small `sigaltstack`. One report at a time.
const WriterMemory = struct {
    path: [safe_file.path_bytes_max]u8,
    target: safe_file.Target,
    output: [output_buffer_bytes]u8,
    chunk: [4096]u8,
};
var writer_memory: WriterMemory = undefined;
var writer_lock: SpinLock = .{};

/// Writes the report to `path` ("%p" becomes the pid). 0 on success, else
/// a negative errno; nothing is left at `path` or beside it on failure.
/// -EBUSY when this thread is already writing one (a signal arrived
/// meanwhile): the report under way is the one that counts.
pub fn write(path_template: [*:0]const u8) i32 {
    if (writer_lock.heldByCaller()) return -@as(i32, @backingInt(linux.E.BUSY));
    writer_lock.lock();
    defer writer_lock.unlock();
    const final = expandPath(std.mem.span(path_template), &writer_memory.path) orelse return -@as(i32, @backingInt(linux.E.NAMETOOLONG));
    const target = &writer_memory.target;
    const opened = safe_file.open(final, target);
    if (opened != 0) return opened;
    var out: Output = .{ .fd = target.fd, .buffer = &writer_memory.output };
    const sites_on = site_table.enabled();
    var frames = FrameIndex.init(@as(usize, site_table.bucketsCount()) * site_table.framesMax() + 2) orelse {
        _ = safe_file.finish(target, final, false);
        return -@as(i32, @backingInt(linux.E.NOMEM));
    };
    defer frames.deinit();
    const totals = totalsNow();
    writeHeader(&out, totals, sites_on);
    if (sites_on) writeSites(&out, &frames) else writeTotalsOnly(&out, totals);
    writeFrameTable(&out, &frames, sites_on);
    out.flush();
    return safe_file.finish(target, final, !out.failed);
}

/// Replaces each "%p" with the pid; null when it does not fit.
fn expandPath(template: []const u8, out: *[safe_file.path_bytes_max]u8) ?[:0]const u8 {
    var used: usize = 0;
    var i: usize = 0;
    while (i < template.len) : (i += 1) {
        if (template[i] == '%' and i + 1 < template.len and template[i + 1] == 'p') {
            const pid = std.fmt.bufPrint(out[used..], "{d}", .{linux.getpid()}) catch return null;
            used += pid.len;
            i += 1;
        } else {
            if (used + 1 >= out.len) return null;
            out[used] = template[i];
            used += 1;
        }
    }
    if (used >= out.len) return null;
    out[used] = 0;
    return out[0..used :0];
}

test "expandPath replaces %p with the pid" {
    var buffer: [4096]u8 = undefined;
    const expanded = expandPath("out-%p.json", &buffer).?;
    var expected: [64]u8 = undefined;
    try std.testing.expectEqualStrings(try std.fmt.bufPrint(&expected, "out-{d}.json", .{linux.getpid()}), expanded);
}

test "invalid UTF-8 is escaped as text, valid UTF-8 and a sequence cut at the end are kept" {
    var buffer: [output_buffer_bytes]u8 = undefined;
    var out: Output = .{ .fd = -1, .buffer = &buffer };
    try std.testing.expectEqual(@as(usize, 5), out.escaped("a\xffb\xc3\xa9", false));
    try std.testing.expectEqualStrings("a\\\\xFFb\xc3\xa9", out.buffer[0..out.used]);
    out.used = 0;
    try std.testing.expectEqual(@as(usize, 1), out.escaped("a\xc3", true));
    try std.testing.expectEqualStrings("a", out.buffer[0..out.used]);
}

//! A sparse array with one entry per granule of the 48-bit address space
//! (16 or 32 bytes): a directory of tables mapped lazily per 64 MiB region
//! (a glibc arena heap is 64 MiB, so a thread's blocks fill its own
//! region), with NORESERVE so that only pages written to become resident.
//! Entries are atomics written by the thread that owns the block they
//! describe. Addresses must be 16-byte aligned (glibc's blocks are).

const std = @import("std");
const pages = @import("pages.zig");

/// Every address asked about is 16-byte aligned.
const address_alignment = 16;
const region_shift = 26;
const region_bytes: usize = 1 << region_shift;
/// 48-bit user address spaces (x86_64 4-level paging, aarch64 48-bit VA).
/// Higher addresses are not mapped: their blocks go to the hash table.
const address_bits = 48;
const regions_count: usize = 1 << (address_bits - region_shift);
const directory_bytes = regions_count * @sizeOf(usize);

/// `granule_shift`: log2 of the bytes of address space one entry covers.
pub fn RegionMap(comptime Entry: type, comptime granule_shift: u6) type {
    return struct {
        const Map = @This();
        pub const Slot = std.atomic.Value(Entry);
        const Table = [*]Slot;
        const entries_per_region = region_bytes >> granule_shift;
        const table_bytes = entries_per_region * @sizeOf(Entry);

        directory: std.atomic.Value(?[*]std.atomic.Value(?Table)) = .init(null),
        regions_mapped: std.atomic.Value(usize) = .init(0),

        /// Inline: every hooked malloc and free asks; only the first maps.
        inline fn getDirectory(map: *Map, create: bool) ?[*]std.atomic.Value(?Table) {
            if (map.directory.load(.acquire)) |existing| return existing;
            if (!create) return null;
            return map.createDirectory();
        }

        noinline fn createDirectory(map: *Map) ?[*]std.atomic.Value(?Table) {
            const fresh: [*]std.atomic.Value(?Table) = @ptrCast(@alignCast(pages.map(directory_bytes, .lazy) orelse return null));
            if (map.directory.cmpxchgStrong(null, fresh, .acq_rel, .acquire)) |winner| {
                pages.unmap(@ptrCast(fresh), directory_bytes);
                return winner;
            }
            return fresh;
        }

        inline fn regionTable(map: *Map, address: usize, create: bool) ?Table {
            const region_index = address >> region_shift;
            if (region_index >= regions_count) return null;
            const dir = map.getDirectory(create) orelse return null;
            if (dir[region_index].load(.acquire)) |table| return table;
            if (!create) return null;
            const fresh: Table = @ptrCast(@alignCast(pages.map(table_bytes, .lazy) orelse return null));
            if (dir[region_index].cmpxchgStrong(null, fresh, .acq_rel, .acquire)) |winner| {
                pages.unmap(@ptrCast(fresh), table_bytes);
                return winner;
            }
            _ = map.regions_mapped.fetchAdd(1, .monotonic);
            return fresh;
        }

        /// The entry of the granule holding `address` (16-byte aligned); null for
        /// an odd or out-of-range address, or when no table exists and
        /// `create` is false (or no memory is left to map one).
        pub inline fn slot(map: *Map, address: usize, create: bool) ?*Slot {
            if (address & (address_alignment - 1) != 0) return null;
            const table = map.regionTable(address, create) orelse return null;
            return &table[(address & (region_bytes - 1)) >> granule_shift];
        }

        /// Resident bytes of the directory and every mapped table.
        pub fn residentBytes(map: *Map) usize {
            const dir = map.getDirectory(false) orelse return 0;
            var resident: usize = pages.residentBytes(@ptrCast(dir), directory_bytes);
            if (map.regions_mapped.load(.monotonic) == 0) return resident;
            for (0..regions_count) |index| {
                const table = dir[index].load(.acquire) orelse continue;
                resident += pages.residentBytes(@ptrCast(table), table_bytes);
            }
            return resident;
        }
    };
}

test "an entry is found at its address and regions are mapped lazily" {
    var map: RegionMap(u32, 4) = .{};
    try std.testing.expectEqual(@as(?*RegionMap(u32, 4).Slot, null), map.slot(0x7100_0000_0000, false));
    const entry = map.slot(0x7100_0000_0010, true).?;
    entry.store(42, .monotonic);
    try std.testing.expectEqual(@as(u32, 42), map.slot(0x7100_0000_0010, false).?.load(.monotonic));
    try std.testing.expectEqual(@as(u32, 0), map.slot(0x7100_0000_0020, false).?.load(.monotonic));
    try std.testing.expectEqual(@as(?*RegionMap(u32, 4).Slot, null), map.slot(0x7100_0000_0018, true));
    try std.testing.expect(map.residentBytes() > 0);
}

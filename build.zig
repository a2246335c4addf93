//! Builds libmod_alloc.so (the profiler) and libmod_alloc_fixture.so (the
//! native test fixture), and runs the Zig unit tests.
const std = @import("std");

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    // The profiler is always built optimised: its cost is its product. A
    // debug build (`-Doptimize=debug`) keeps its safety checks for hunting.
    const optimize = b.option(std.lang.Optimize, "optimize", "optimize mode of the library") orelse .fast;

    const core = b.createModule(.{
        .root_source_file = b.path("core/root.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
        // Tier 2 walks frame pointers through this library too.
        .omit_frame_pointer = false,
        .pic = true,
    });
    const library = b.addLibrary(.{ .name = "mod_alloc", .linkage = .dynamic, .root_module = core });
    b.installArtifact(library);
    b.installFile("include/mod_alloc.h", "include/mod_alloc.h");

    const fixture = b.createModule(.{
        .target = target,
        .optimize = .debug,
        .link_libc = true,
        .omit_frame_pointer = false,
    });
    fixture.addCSourceFile(.{ .file = b.path("tests/fixture/fixture.c"), .flags = &.{ "-std=c11", "-O1", "-g", "-fno-omit-frame-pointer", "-Wall", "-Werror" } });
    fixture.addIncludePath(b.path("include"));
    fixture.linkSystemLibrary("pthread", .{});
    const fixture_library = b.addLibrary(.{ .name = "mod_alloc_fixture", .linkage = .dynamic, .root_module = fixture });
    b.installArtifact(fixture_library);

    const unit_module = b.createModule(.{
        .root_source_file = b.path("core/unit_tests.zig"),
        .target = target,
        .optimize = b.option(std.lang.Optimize, "test-optimize", "optimize mode of the unit tests") orelse .safe,
        .link_libc = true,
        .omit_frame_pointer = false,
    });
    const unit_tests = b.addTest(.{ .root_module = unit_module });
    const test_step = b.step("test", "Run the Zig unit tests");
    test_step.dependOn(&b.addRunArtifact(unit_tests).step);
}

//! Builds libmod_alloc.so (the profiler) and libmod_alloc_fixture.so (the
//! native test fixture), and runs the Zig unit tests.
const std = @import("std");

pub fn build(b: *std.Build) void {
    // Baseline CPU by default: the library is loaded into other people's
    // processes (and valgrind, which the cross-checks run, rejects AVX-512).
    const target = b.standardTargetOptions(.{ .default_target = .{ .cpu_model = .baseline } });
    // The profiler is always built optimised: its cost is its product. A
    // debug build (`-Doptimize=debug`) keeps its safety checks for hunting.
    const optimize = b.option(std.lang.Optimize, "optimize", "optimize mode of the library") orelse .fast;

    const library = addCore(b, "mod_alloc", target, optimize, .{});
    b.installArtifact(library);
    // A copy that claims another ABI version, for the loader's mismatch test.
    const skewed = addCore(b, "mod_alloc_abi_skew", target, optimize, .{ .abi_skew = 1000 });
    b.getInstallStep().dependOn(&b.addInstallArtifact(skewed, .{ .dest_dir = .{ .override = .{ .custom = "lib/test" } } }).step);
    // A copy whose patch table holds two slots: install fails part way (rollback test).
    const tiny_patch = addCore(b, "mod_alloc_tiny_patch_table", target, optimize, .{ .patch_records_max = 2 });
    b.getInstallStep().dependOn(&b.addInstallArtifact(tiny_patch, .{ .dest_dir = .{ .override = .{ .custom = "lib/test" } } }).step);
    // The test build: reads the MOD_ALLOC_TEST_* switches (settings.zig).
    const test_build = addCore(b, "mod_alloc_test", target, optimize, .{ .test_build = true });
    b.getInstallStep().dependOn(&b.addInstallArtifact(test_build, .{ .dest_dir = .{ .override = .{ .custom = "lib/test" } } }).step);
    addInstallRaceFixtures(b, target);
    addHostFixtures(b, target);
    b.installFile("include/mod_alloc.h", "include/mod_alloc.h");

    const fixture = b.createModule(.{
        .target = target,
        .optimize = .debug,
        .link_libc = true,
        .omit_frame_pointer = false,
    });
    fixture.addCSourceFile(.{ .file = b.path("tests/fixture/fixture.c"), .flags = &.{ "-std=gnu11", "-O1", "-g", "-fno-omit-frame-pointer", "-Wall", "-Werror" } });
    fixture.addIncludePath(b.path("include"));
    fixture.linkSystemLibrary("pthread", .{});
    // The sized-API calls bind to the library already loaded in the process
    // (same soname); $ORIGIN finds it when the fixture is loaded first.
    fixture.linkLibrary(library);
    fixture.addRPathSpecial("$ORIGIN");
    const fixture_library = b.addLibrary(.{ .name = "mod_alloc_fixture", .linkage = .dynamic, .root_module = fixture });
    b.installArtifact(fixture_library);

    const bench_module = b.createModule(.{ .target = target, .optimize = .fast, .link_libc = true });
    bench_module.addCSourceFile(.{ .file = b.path("bench/malloc_bench.c"), .flags = &.{ "-std=gnu11", "-O2", "-fno-omit-frame-pointer" } });
    bench_module.linkSystemLibrary("pthread", .{});
    bench_module.linkSystemLibrary("dl", .{});
    b.installArtifact(b.addExecutable(.{ .name = "malloc_bench", .root_module = bench_module }));

    // A plain program for the site-table tests under LD_PRELOAD.
    const sites_module = b.createModule(.{ .target = target, .optimize = .debug, .link_libc = true, .omit_frame_pointer = false });
    sites_module.addCSourceFile(.{ .file = b.path("tests/fixture/sites_main.c"), .flags = &.{ "-std=gnu11", "-O1", "-g", "-fno-omit-frame-pointer", "-fno-optimize-sibling-calls" } });
    sites_module.addIncludePath(b.path("include"));
    sites_module.linkLibrary(library);
    const sites_exe = b.addExecutable(.{ .name = "sites_main", .root_module = sites_module });
    b.getInstallStep().dependOn(&b.addInstallArtifact(sites_exe, .{ .dest_dir = .{ .override = .{ .custom = "bin/test" } } }).step);

    // The DHAT cross-check workload: a plain program, no link to the library.
    const workload_module = b.createModule(.{ .target = target, .optimize = .debug, .link_libc = true, .omit_frame_pointer = false });
    workload_module.addCSourceFile(.{ .file = b.path("tests/fixture/dhat_workload.c"), .flags = &.{ "-std=gnu11", "-O1", "-g", "-fno-omit-frame-pointer", "-fno-optimize-sibling-calls", "-fno-builtin" } });
    const workload = b.addExecutable(.{ .name = "dhat_workload", .root_module = workload_module });
    b.getInstallStep().dependOn(&b.addInstallArtifact(workload, .{ .dest_dir = .{ .override = .{ .custom = "bin/test" } } }).step);

    // The sampling-mode accuracy workload (tests/sampling_test.ts).
    const sample_module = b.createModule(.{ .target = target, .optimize = .debug, .link_libc = true, .omit_frame_pointer = false });
    sample_module.addCSourceFile(.{ .file = b.path("tests/fixture/sample_workload.c"), .flags = &.{ "-std=gnu11", "-O1", "-g", "-fno-omit-frame-pointer", "-fno-optimize-sibling-calls", "-fno-builtin", "-Wall", "-Werror" } });
    const sample_workload = b.addExecutable(.{ .name = "sample_workload", .root_module = sample_module });
    b.getInstallStep().dependOn(&b.addInstallArtifact(sample_workload, .{ .dest_dir = .{ .override = .{ .custom = "bin/test" } } }).step);

    // Phases of known sites for the timeline's site snapshots: a plain program too.
    const phases_module = b.createModule(.{ .target = target, .optimize = .debug, .link_libc = true, .omit_frame_pointer = false });
    phases_module.addCSourceFile(.{ .file = b.path("tests/fixture/timeline_phases.c"), .flags = &.{ "-std=gnu11", "-O1", "-g", "-fno-omit-frame-pointer", "-fno-optimize-sibling-calls", "-fno-builtin", "-Wall", "-Werror" } });
    const phases = b.addExecutable(.{ .name = "timeline_phases", .root_module = phases_module });
    b.getInstallStep().dependOn(&b.addInstallArtifact(phases, .{ .dest_dir = .{ .override = .{ .custom = "bin/test" } } }).step);

    // Thread-record reproductions (tests/thread_records_test.ts): a plain
    // program that finds the library's functions with dlsym.
    // No UBSan runtime: its 256 KiB of static TLS would not fit the small
    // thread stacks this program asks for.
    const records_module = b.createModule(.{ .target = target, .optimize = .debug, .link_libc = true, .omit_frame_pointer = false, .sanitize_c = .off });
    records_module.addCSourceFile(.{ .file = b.path("tests/fixture/thread_records.c"), .flags = &.{ "-std=gnu11", "-O1", "-g", "-fno-omit-frame-pointer", "-fno-builtin", "-Wall", "-Werror" } });
    records_module.linkSystemLibrary("pthread", .{});
    records_module.linkSystemLibrary("dl", .{});
    const records_exe = b.addExecutable(.{ .name = "thread_records", .root_module = records_module });
    b.getInstallStep().dependOn(&b.addInstallArtifact(records_exe, .{ .dest_dir = .{ .override = .{ .custom = "bin/test" } } }).step);

    // Call-site walks from fiber and signal stacks (tests/sites_test.ts).
    b.getInstallStep().dependOn(&b.addInstallArtifact(fiberStacks(b, target, "fiber_stacks"), .{ .dest_dir = .{ .override = .{ .custom = "bin/test" } } }).step);

    // The reliability stress program (tests/stress/run.ts).
    const stress_module = b.createModule(.{ .target = target, .optimize = .debug, .link_libc = true, .omit_frame_pointer = false });
    stress_module.addCSourceFile(.{ .file = b.path("tests/fixture/stress.c"), .flags = &.{ "-std=gnu11", "-O1", "-g", "-fno-omit-frame-pointer", "-Wall" } });
    stress_module.linkSystemLibrary("pthread", .{});
    stress_module.linkSystemLibrary("dl", .{});
    const stress = b.addExecutable(.{ .name = "stress", .root_module = stress_module });
    b.getInstallStep().dependOn(&b.addInstallArtifact(stress, .{ .dest_dir = .{ .override = .{ .custom = "bin/test" } } }).step);

    const unit_module = b.createModule(.{
        .imports = &.{.{ .name = "build_options", .module = coreOptions(b, .{}) }},
        .root_source_file = b.path("core/unit_tests.zig"),
        .target = target,
        .optimize = b.option(std.lang.Optimize, "test-optimize", "optimize mode of the unit tests") orelse .safe,
        .link_libc = true,
        .omit_frame_pointer = false,
    });
    const unit_tests = b.addTest(.{ .root_module = unit_module });
    const test_step = b.step("test", "Run the Zig unit tests");
    test_step.dependOn(&b.addRunArtifact(unit_tests).step);

    addAarch64Steps(b);
    addReleaseStep(b);
}

/// The platforms a release ships a prebuilt library for (`zig build release`).
const release_targets = [_]struct { name: []const u8, arch: std.Target.Cpu.Arch }{
    .{ .name = "x86_64-linux-gnu", .arch = .x86_64 },
    .{ .name = "aarch64-linux-gnu", .arch = .aarch64 },
};

/// `zig build release`: the library for each release target, into
/// `zig-out/release/<target>/libmod_alloc.so`. Baseline CPU (it is loaded
/// into other people's processes), frame pointers kept (Tier 2 walks through
/// it), debug info stripped and the build id derived from the contents, so
/// the bytes depend on the sources and the compiler only: not on the
/// checkout's path, the machine or the time (`tools/release.ts` checks it).
fn addReleaseStep(b: *std.Build) void {
    const step = b.step("release", "Build the release libraries for every supported platform");
    for (release_targets) |release| {
        const target = b.resolveTargetQuery(.{ .cpu_arch = release.arch, .os_tag = .linux, .abi = .gnu, .cpu_model = .baseline });
        const library = addCore(b, "mod_alloc", target, .fast, .{});
        library.root_module.strip = true;
        library.build_id = .sha1;
        const install = b.addInstallArtifact(library, .{
            .dest_dir = .{ .override = .{ .custom = b.fmt("release/{s}", .{release.name}) } },
            .dylib_symlinks = false,
        });
        step.dependOn(&install.step);
    }
}

/// `zig build test-aarch64`: the unit tests (walker included) and the
/// site-table program built for aarch64-linux-gnu and run under
/// qemu-aarch64 with Debian's aarch64 glibc (`-Daarch64-sysroot`).
fn addAarch64Steps(b: *std.Build) void {
    const sysroot = b.option([]const u8, "aarch64-sysroot", "aarch64 glibc root for qemu") orelse "/usr/aarch64-linux-gnu";
    const target = b.resolveTargetQuery(.{ .cpu_arch = .aarch64, .os_tag = .linux, .abi = .gnu });
    const step = b.step("test-aarch64", "Cross-compile for aarch64 and run the unit tests and a preload run under qemu-aarch64");

    const unit_module = b.createModule(.{
        .root_source_file = b.path("core/unit_tests.zig"),
        .target = target,
        .optimize = .safe,
        .link_libc = true,
        .omit_frame_pointer = false,
        .imports = &.{.{ .name = "build_options", .module = coreOptions(b, .{ .under_emulator = true }) }},
    });
    const unit_tests = b.addTest(.{ .name = "unit-aarch64", .root_module = unit_module });
    const run_units = b.addSystemCommand(&.{ "qemu-aarch64", "-L", sysroot });
    run_units.addArtifactArg(unit_tests);
    step.dependOn(&run_units.step);

    // The library itself, preloaded into a C program that allocates from
    // many call sites with backtraces on: hooks and walker on aarch64.
    const library = addCore(b, "mod_alloc", target, .fast, .{});
    const sites_module = b.createModule(.{ .target = target, .optimize = .debug, .link_libc = true, .omit_frame_pointer = false });
    sites_module.addCSourceFile(.{ .file = b.path("tests/fixture/sites_main.c"), .flags = &.{ "-std=gnu11", "-O1", "-fno-omit-frame-pointer", "-fno-optimize-sibling-calls" } });
    sites_module.addIncludePath(b.path("include"));
    sites_module.linkLibrary(library);
    const sites_exe = b.addExecutable(.{ .name = "sites_main_aarch64", .root_module = sites_module });
    const run_sites = b.addSystemCommand(&.{ "qemu-aarch64", "-L", sysroot, "-E", "MOD_ALLOC_BACKTRACES=1", "-E", "MOD_ALLOC_BUCKETS=16" });
    run_sites.addArtifactArg(sites_exe);
    run_sites.addArg("40");
    // The same figures as on x86_64 (tests/sites_test.ts): 40 blocks,
    // 1420 bytes, 15 sites in a 16-entry table, the rest in the overflow row.
    run_sites.expectStdOutEqual("{\"tier1\":{\"allocCount\":40,\"totalBytes\":1420},\"sites\":{\"allocCount\":40,\"totalBytes\":1420},\"sitesUsed\":15,\"overflowEvents\":25,\"overflowSites\":1,\"buckets\":16}\n");
    step.dependOn(&run_sites.step);

    // Issue 16's host programs: an executable with its own malloc (its
    // output as in a plain run, exit 0), and a signal handler that
    // allocates at every lock the test build takes (a deadlock hangs).
    const own_allocator = hostFixture(b, target, "own_allocator");
    const run_own = b.addSystemCommand(&.{ "qemu-aarch64", "-L", sysroot, "-E" });
    run_own.addPrefixedArtifactArg("LD_PRELOAD=", library);
    run_own.addArtifactArg(own_allocator);
    run_own.addArg("200");
    run_own.expectStdOutEqual("{\"reallocarrayOk\":true,\"overflowRefused\":true,\"pvallocOk\":true,\"strdupInArena\":true,\"blocksMade\":402}\n");
    step.dependOn(&run_own.step);
    const test_library = addCore(b, "mod_alloc_test", target, .fast, .{ .test_build = true });
    const signal_in_locks = hostFixture(b, target, "signal_in_locks");
    for ([_][]const u8{ "0", "1" }) |backtraces| {
        const run_signals = b.addSystemCommand(&.{ "qemu-aarch64", "-L", sysroot, "-E", b.fmt("MOD_ALLOC_BACKTRACES={s}", .{backtraces}), "-E" });
        run_signals.addPrefixedArtifactArg("LD_PRELOAD=", test_library);
        run_signals.addArtifactArg(signal_in_locks);
        run_signals.addArg("preload");
        run_signals.expectExitCode(0);
        step.dependOn(&run_signals.step);
    }
    // Walks from a partly unmapped fiber stack and a sigaltstack, through a
    // data frame pointer (tests/sites_test.ts has the x86_64 runs).
    const fibers = fiberStacks(b, target, "fiber_stacks_aarch64");
    const expected = [_][2][]const u8{
        .{ "stale", "{\"bytesMade\":4850,\"threadAllocCount\":100,\"threadTotalBytes\":4850,\"siteAllocCount\":100}\n" },
        .{ "altstack", "{\"bytesMade\":9700,\"threadAllocCount\":200,\"threadTotalBytes\":9700,\"siteAllocCount\":200}\n" },
    };
    for (expected) |case| {
        const run_fibers = b.addSystemCommand(&.{ "qemu-aarch64", "-L", sysroot, "-E", "MOD_ALLOC_BACKTRACES=1", "-E" });
        run_fibers.addPrefixedArtifactArg("LD_PRELOAD=", library);
        run_fibers.addArtifactArg(fibers);
        run_fibers.addArg(case[0]);
        run_fibers.expectStdOutEqual(case[1]);
        step.dependOn(&run_fibers.step);
    }
}

/// The fiber and sigaltstack program: a plain program (no link to the
/// library), frame pointers kept; no red zone, as its inline assembly
/// pushes below the stack pointer of a leaf function.
fn fiberStacks(b: *std.Build, target: std.Build.ResolvedTarget, name: []const u8) *std.Build.Step.Compile {
    const module = b.createModule(.{ .target = target, .optimize = .debug, .link_libc = true, .omit_frame_pointer = false, .red_zone = false, .sanitize_c = .off });
    module.addCSourceFile(.{ .file = b.path("tests/fixture/fiber_stacks.c"), .flags = &.{ "-std=gnu11", "-O1", "-fno-omit-frame-pointer", "-fno-builtin", "-Wall", "-Werror" } });
    module.linkSystemLibrary("pthread", .{});
    module.linkSystemLibrary("dl", .{});
    return b.addExecutable(.{ .name = name, .root_module = module });
}

/// Compile-time options of the core. `under_emulator`: the code runs under
/// qemu-user, which accepts madvise but drops the advice, so tests of what
/// the kernel does with it cannot hold. `patch_records_max`: the GOT patch
/// table's size, made tiny only in a test build. `test_build`: the
/// MOD_ALLOC_TEST_* switches are read (never in a release library).
const CoreOptions = struct {
    abi_skew: u32 = 0,
    under_emulator: bool = false,
    patch_records_max: u32 = 4096,
    test_build: bool = false,
};

fn coreOptions(b: *std.Build, core_options: CoreOptions) *std.Build.Module {
    const options = b.addOptions();
    options.addOption(u32, "abi_skew", core_options.abi_skew);
    options.addOption(bool, "under_emulator", core_options.under_emulator);
    options.addOption(u32, "patch_records_max", core_options.patch_records_max);
    options.addOption(bool, "test_build", core_options.test_build);
    return options.createModule();
}

/// The install/dlopen race and rollback program, and the library it loads
/// (full RELRO, BIND_NOW: ld.so protects its GOT only after relocating it).
fn addInstallRaceFixtures(b: *std.Build, target: std.Build.ResolvedTarget) void {
    const target_module = b.createModule(.{ .target = target, .optimize = .debug, .link_libc = true });
    target_module.addCSourceFile(.{ .file = b.path("tests/fixture/dlopen_target.c"), .flags = &.{ "-std=gnu11", "-O1", "-fno-builtin" } });
    const target_library = b.addLibrary(.{ .name = "dlopen_target", .linkage = .dynamic, .root_module = target_module });
    target_library.link_z_relro = true;
    target_library.link_z_lazy = false;
    b.getInstallStep().dependOn(&b.addInstallArtifact(target_library, .{ .dest_dir = .{ .override = .{ .custom = "lib/test" } } }).step);

    const race_module = b.createModule(.{ .target = target, .optimize = .debug, .link_libc = true });
    race_module.addCSourceFile(.{ .file = b.path("tests/fixture/install_race.c"), .flags = &.{ "-std=gnu11", "-O1", "-fno-builtin", "-Wall", "-Werror" } });
    race_module.linkSystemLibrary("pthread", .{});
    race_module.linkSystemLibrary("dl", .{});
    const race = b.addExecutable(.{ .name = "install_race", .root_module = race_module });
    b.getInstallStep().dependOn(&b.addInstallArtifact(race, .{ .dest_dir = .{ .override = .{ .custom = "bin/test" } } }).step);

    // Fork with allocating fork handlers registered before a run-time install.
    const fork_module = b.createModule(.{ .target = target, .optimize = .debug, .link_libc = true });
    fork_module.addCSourceFile(.{ .file = b.path("tests/fixture/fork_handlers.c"), .flags = &.{ "-std=gnu11", "-O1", "-fno-builtin", "-Wall", "-Werror" } });
    fork_module.linkSystemLibrary("pthread", .{});
    fork_module.linkSystemLibrary("dl", .{});
    const fork_handlers = b.addExecutable(.{ .name = "fork_handlers", .root_module = fork_module });
    b.getInstallStep().dependOn(&b.addInstallArtifact(fork_handlers, .{ .dest_dir = .{ .override = .{ .custom = "bin/test" } } }).step);

    // Leaving the process from a 16 KiB stack with a report to write.
    // Not a debug build: the C sanitizer runtime's thread-local storage alone
    // exceeds a 16 KiB thread stack (pthread_create then fails with EINVAL).
    const exit_module = b.createModule(.{ .target = target, .optimize = .fast, .link_libc = true, .omit_frame_pointer = false });
    exit_module.addCSourceFile(.{ .file = b.path("tests/fixture/small_stack_exit.c"), .flags = &.{ "-std=gnu11", "-O1", "-fno-builtin", "-Wall", "-Werror" } });
    exit_module.linkSystemLibrary("pthread", .{});
    const small_stack_exit = b.addExecutable(.{ .name = "small_stack_exit", .root_module = exit_module });
    b.getInstallStep().dependOn(&b.addInstallArtifact(small_stack_exit, .{ .dest_dir = .{ .override = .{ .custom = "bin/test" } } }).step);
}

/// Programs that do what hosts do to an allocator hook (issue 16): bring
/// their own allocator, allocate in a signal handler while a hook holds a
/// lock. Into `zig-out/bin/test`.
fn addHostFixtures(b: *std.Build, target: std.Build.ResolvedTarget) void {
    for ([_][]const u8{ "own_allocator", "signal_in_locks" }) |name| {
        const exe = hostFixture(b, target, name);
        b.getInstallStep().dependOn(&b.addInstallArtifact(exe, .{ .dest_dir = .{ .override = .{ .custom = "bin/test" } } }).step);
    }
}

/// `tests/fixture/<name>.c` as a program for `target`.
fn hostFixture(b: *std.Build, target: std.Build.ResolvedTarget, name: []const u8) *std.Build.Step.Compile {
    const module = b.createModule(.{ .target = target, .optimize = .debug, .link_libc = true, .omit_frame_pointer = false, .sanitize_c = .off });
    module.addCSourceFile(.{ .file = b.path(b.fmt("tests/fixture/{s}.c", .{name})), .flags = &.{ "-std=gnu11", "-O1", "-g", "-fno-builtin", "-Wall", "-Werror" } });
    module.linkSystemLibrary("pthread", .{});
    module.linkSystemLibrary("dl", .{});
    return b.addExecutable(.{ .name = name, .root_module = module });
}

fn addCore(
    b: *std.Build,
    name: []const u8,
    target: std.Build.ResolvedTarget,
    optimize: std.lang.Optimize,
    core_options: CoreOptions,
) *std.Build.Step.Compile {
    const core = b.createModule(.{
        .root_source_file = b.path("core/root.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
        // Tier 2 walks frame pointers through this library too.
        .omit_frame_pointer = false,
        .pic = true,
        .imports = &.{.{ .name = "build_options", .module = coreOptions(b, core_options) }},
    });
    return b.addLibrary(.{ .name = name, .linkage = .dynamic, .root_module = core });
}

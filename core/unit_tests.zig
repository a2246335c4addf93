//! Root of the Zig unit tests. It imports the files that hold logic but not
//! `hooks.zig`: the test binary must not export a malloc of its own.
test {
    _ = @import("elf_dynamic.zig");
    _ = @import("page_protection.zig");
    _ = @import("go_program.zig");
    _ = @import("SpinLock.zig");
    _ = @import("counters.zig");
    _ = @import("live_table.zig");
    _ = @import("large_table.zig");
    _ = @import("small_map.zig");
    _ = @import("region_map.zig");
    _ = @import("site_table.zig");
    _ = @import("stack_walk.zig");
    _ = @import("options.zig");
    _ = @import("event_clock.zig");
    _ = @import("dhat_writer.zig");
    _ = @import("pages.zig");
    _ = @import("safe_file.zig");
    _ = @import("environment.zig");
    _ = @import("peak.zig");
    _ = @import("timeline.zig");
    _ = @import("site_history.zig");
    _ = @import("wall_clock.zig");
    _ = @import("thread_tls.zig");
    _ = @import("thread_registry.zig");
    _ = @import("thread_lifecycle.zig");
    _ = @import("thread_names.zig");
    _ = @import("ThreadRecord.zig");
    _ = @import("sampler.zig");
}

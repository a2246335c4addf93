/* mod-alloc: C ABI of libmod_alloc.so.
 *
 * The sized API lets native code (C, Zig, Rust's GlobalAlloc) route its
 * allocations through the profiler's counters without a live-table lookup.
 * A block from mod_alloc_alloc* must be released with mod_alloc_dealloc or
 * resized with mod_alloc_realloc, passing back the size and alignment it
 * was allocated with; never with free(). */
#ifndef MOD_ALLOC_H
#define MOD_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MOD_ALLOC_ABI_VERSION 6u

uint32_t mod_alloc_abi_version(void);

/* alignment: a power of two; up to 16 costs nothing extra. */
void *mod_alloc_alloc(size_t size, size_t alignment);
void *mod_alloc_alloc_zeroed(size_t size, size_t alignment);
void mod_alloc_dealloc(void *ptr, size_t size, size_t alignment);
void *mod_alloc_realloc(void *ptr, size_t old_size, size_t alignment, size_t new_size);

/* Scope: 0 = all threads, 1 = calling thread. */
uint32_t mod_alloc_stats_fields_count(void);
const char *mod_alloc_stats_field_name(uint32_t index);
void mod_alloc_snapshot(uint32_t scope, double *out /* [fields_count] */);
void mod_alloc_reset(void);

/* Tier 2: allocation events and bytes summed over all call sites. */
void mod_alloc_sites_totals(double *out /* [2] */);
/* used sites, overflow events, estimated overflowed sites, peak bytes,
 * peak blocks, live bytes, live blocks, buckets, frames */
void mod_alloc_sites_summary(double *out /* [9] */);

/* Threads: records claimed now, most claimed at once, claims ever made,
 * record chunks mapped, events not counted for want of a record, distinct
 * thread names, stack mappings looked up in /proc/self/maps. */
uint32_t mod_alloc_thread_figures_count(void); /* 7 */
void mod_alloc_thread_figures(double *out /* [mod_alloc_thread_figures_count()] */);
/* The kernel name (comm) behind a site's thread-name id, NUL-terminated;
 * returns its length, or -1 for an id not in the table. */
int32_t mod_alloc_thread_name(uint32_t id, char *out /* [16] */);
/* Memory over time (core/timeline.zig): a header (the fields of its
 * `Header`, the first being points_max), then two series (by allocation
 * events, by wall time) of points_max points of [events, wall ns, bytes,
 * blocks]; bytes -1 marks an empty interval; then snapshot_slots site
 * snapshots (core/site_history.zig) of [kind, events, wall ns, live bytes,
 * sites' bytes, sites' blocks, count, then snapshot_top_max x (row, bytes,
 * blocks)], the first snapshots_used of them written. */
uint32_t mod_alloc_timeline_values_count(void);
void mod_alloc_timeline(double *out /* [mod_alloc_timeline_values_count()] */);
/* Bytes the profiler holds resident. */
double mod_alloc_memory_bytes(void);

int32_t mod_alloc_install(void);
int32_t mod_alloc_uninstall(void);

#ifdef __cplusplus
}
#endif

#endif

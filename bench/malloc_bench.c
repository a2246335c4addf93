/* C allocator microbenchmark: each thread keeps a window of live blocks
 * and replaces a random one per step (free + malloc of 16..512 bytes).
 * Usage: malloc_bench <threads> <steps per thread> <window>
 * Prints one JSON line: elapsed ns, peak RSS, and, when libmod_alloc is
 * preloaded, the profiler's own memory. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

struct job {
  uint64_t steps;
  uint32_t window;
  uint64_t seed;
  uint64_t checksum;
};

static uint64_t next_random(uint64_t *state) {
  /* xorshift64*: cheap, so the loop measures the allocator. */
  uint64_t x = *state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *state = x;
  return x * 0x2545F4914F6CDD1DULL;
}

static void *run(void *raw) {
  struct job *job = raw;
  void **blocks = calloc(job->window, sizeof(void *));
  uint64_t state = job->seed;
  for (uint64_t step = 0; step < job->steps; step++) {
    uint64_t r = next_random(&state);
    uint32_t slot = (uint32_t)(r % job->window);
    free(blocks[slot]);
    size_t size = 16 + (size_t)((r >> 32) % 497);
    unsigned char *block = malloc(size);
    block[0] = (unsigned char)step;
    job->checksum += block[0];
    blocks[slot] = block;
  }
  for (uint32_t i = 0; i < job->window; i++) free(blocks[i]);
  free(blocks);
  return NULL;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s <threads> <steps per thread> <window>\n", argv[0]);
    return 2;
  }
  uint32_t threads = (uint32_t)strtoul(argv[1], NULL, 10);
  uint64_t steps = strtoull(argv[2], NULL, 10);
  uint32_t window = (uint32_t)strtoul(argv[3], NULL, 10);
  if (threads < 1 || threads > 64 || window < 1) {
    fprintf(stderr, "threads must be 1..64 and window at least 1\n");
    return 2;
  }
  pthread_t ids[64];
  struct job jobs[64];
  uint64_t start = now_ns();
  for (uint32_t i = 0; i < threads; i++) {
    jobs[i] = (struct job){steps, window, 0x9E3779B97F4A7C15ULL * (i + 1), 0};
    pthread_create(&ids[i], NULL, run, &jobs[i]);
  }
  for (uint32_t i = 0; i < threads; i++) pthread_join(ids[i], NULL);
  uint64_t elapsed = now_ns() - start;
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  double (*memory_bytes)(void) = (double (*)(void))dlsym(RTLD_DEFAULT, "mod_alloc_memory_bytes");
  printf("{\"elapsed_ns\":%llu,\"max_rss_kib\":%ld,\"profiler_bytes\":%.0f,\"checksum\":%llu}\n",
         (unsigned long long)elapsed, usage.ru_maxrss, memory_bytes ? memory_bytes() : 0.0,
         (unsigned long long)jobs[0].checksum);
  return 0;
}

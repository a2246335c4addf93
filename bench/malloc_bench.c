/* C allocator microbenchmark: each thread keeps a window of live blocks
 * and replaces a random one per step (free + malloc of 16..512 bytes).
 * Usage: malloc_bench <threads> <steps per thread> <window> [options]
 *   --deep        the loop runs 20 frames down and allocates from 8 call
 *                 sites (a 16-frame walk with call sites on)
 *   --alive N     N idle threads (each allocated once) stay alive meanwhile
 *   --exited N    N short-lived threads, each on a stack at a new address,
 *                 came and went before the measured threads start
 * Prints one JSON line: elapsed ns (of the measured threads only), peak
 * RSS, and, when libmod_alloc is preloaded, the profiler's own memory. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

struct job {
  uint64_t steps;
  uint32_t window;
  uint64_t seed;
  uint64_t checksum;
  int deep;
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

/* Eight call sites, each its own function, for the deep variant. */
#define SITE(k) \
  static __attribute__((noinline)) void *alloc_site_##k(size_t size) { \
    void *block = malloc(size); \
    __asm__ volatile("" ::"r"(block) : "memory"); \
    return block; \
  }
SITE(0) SITE(1) SITE(2) SITE(3) SITE(4) SITE(5) SITE(6) SITE(7)
static void *(*const sites[8])(size_t) = {alloc_site_0, alloc_site_1, alloc_site_2, alloc_site_3,
                                          alloc_site_4, alloc_site_5, alloc_site_6, alloc_site_7};

static void loop(struct job *job) {
  void **blocks = calloc(job->window, sizeof(void *));
  uint64_t state = job->seed;
  for (uint64_t step = 0; step < job->steps; step++) {
    uint64_t r = next_random(&state);
    uint32_t slot = (uint32_t)(r % job->window);
    free(blocks[slot]);
    size_t size = 16 + (size_t)((r >> 32) % 497);
    unsigned char *block = job->deep ? sites[(r >> 24) & 7](size) : malloc(size);
    block[0] = (unsigned char)step;
    job->checksum += block[0];
    blocks[slot] = block;
  }
  for (uint32_t i = 0; i < job->window; i++) free(blocks[i]);
  free(blocks);
}

/* 20 frames of plain calls above the loop. */
static __attribute__((noinline)) void descend(struct job *job, int depth) {
  if (depth == 0) {
    loop(job);
  } else {
    descend(job, depth - 1);
  }
  __asm__ volatile("" ::: "memory"); /* not a tail call */
}

static void *run(void *raw) {
  struct job *job = raw;
  if (job->deep) {
    descend(job, 20);
  } else {
    loop(job);
  }
  return NULL;
}

/* Idle threads for --alive: each allocates once (so the profiler knows
 * it), then waits until the measurement is over. */
static pthread_mutex_t idle_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_release = PTHREAD_COND_INITIALIZER;
static pthread_cond_t idle_started = PTHREAD_COND_INITIALIZER;
static int idle_open, idle_count;

static void *idle(void *unused) {
  (void)unused;
  void *block = malloc(32);
  __asm__ volatile("" ::"r"(block) : "memory");
  free(block);
  pthread_mutex_lock(&idle_lock);
  idle_count++;
  pthread_cond_signal(&idle_started);
  while (!idle_open) pthread_cond_wait(&idle_release, &idle_lock);
  pthread_mutex_unlock(&idle_lock);
  return NULL;
}

static void *short_lived(void *unused) {
  (void)unused;
  void *block = malloc(64);
  __asm__ volatile("" ::"r"(block) : "memory");
  free(block);
  return NULL;
}

/* Short-lived threads on stacks at new addresses (as thread pools with no
 * stack-cache reuse), in batches of 16. */
static void exit_threads(uint32_t count) {
  if (count == 0) return;
  const size_t stride = 128 * 1024;
  unsigned char *region = mmap(NULL, (size_t)count * stride, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (region == MAP_FAILED) {
    perror("mmap");
    exit(1);
  }
  for (uint32_t done = 0; done < count; done += 16) {
    pthread_t ids[16];
    uint32_t made = 0;
    for (uint32_t i = 0; i < 16 && done + i < count; i++, made++) {
      pthread_attr_t attr;
      pthread_attr_init(&attr);
      pthread_attr_setstack(&attr, region + (size_t)(done + i) * stride, 64 * 1024 + (size_t)(i % 8) * 4096);
      if (pthread_create(&ids[i], &attr, short_lived, NULL) != 0) {
        fprintf(stderr, "pthread_create failed\n");
        exit(1);
      }
      pthread_attr_destroy(&attr);
    }
    for (uint32_t i = 0; i < made; i++) pthread_join(ids[i], NULL);
    madvise(region + (size_t)done * stride, (size_t)made * stride, MADV_DONTNEED);
  }
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s <threads> <steps per thread> <window> [--deep] [--alive N] [--exited N]\n", argv[0]);
    return 2;
  }
  int deep = 0;
  uint32_t alive = 0, exited = 0;
  for (int i = 4; i < argc; i++) {
    if (strcmp(argv[i], "--deep") == 0) {
      deep = 1;
    } else if (strcmp(argv[i], "--alive") == 0 && i + 1 < argc) {
      alive = (uint32_t)strtoul(argv[++i], NULL, 10);
    } else if (strcmp(argv[i], "--exited") == 0 && i + 1 < argc) {
      exited = (uint32_t)strtoul(argv[++i], NULL, 10);
    } else {
      fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  uint32_t threads = (uint32_t)strtoul(argv[1], NULL, 10);
  uint64_t steps = strtoull(argv[2], NULL, 10);
  uint32_t window = (uint32_t)strtoul(argv[3], NULL, 10);
  if (threads < 1 || threads > 64 || window < 1) {
    fprintf(stderr, "threads must be 1..64 and window at least 1\n");
    return 2;
  }
  exit_threads(exited);
  pthread_t *idle_ids = calloc(alive + 1, sizeof(pthread_t));
  for (uint32_t i = 0; i < alive; i++) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    if (pthread_create(&idle_ids[i], &attr, idle, NULL) != 0) {
      fprintf(stderr, "pthread_create failed\n");
      return 1;
    }
    pthread_attr_destroy(&attr);
  }
  pthread_mutex_lock(&idle_lock);
  while ((uint32_t)idle_count < alive) pthread_cond_wait(&idle_started, &idle_lock);
  pthread_mutex_unlock(&idle_lock);
  pthread_t ids[64];
  struct job jobs[64];
  uint64_t start = now_ns();
  for (uint32_t i = 0; i < threads; i++) {
    jobs[i] = (struct job){steps, window, 0x9E3779B97F4A7C15ULL * (i + 1), 0, deep};
    pthread_create(&ids[i], NULL, run, &jobs[i]);
  }
  for (uint32_t i = 0; i < threads; i++) pthread_join(ids[i], NULL);
  uint64_t elapsed = now_ns() - start;
  pthread_mutex_lock(&idle_lock);
  idle_open = 1;
  pthread_cond_broadcast(&idle_release);
  pthread_mutex_unlock(&idle_lock);
  for (uint32_t i = 0; i < alive; i++) pthread_join(idle_ids[i], NULL);
  free(idle_ids);
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  double (*memory_bytes)(void) = (double (*)(void))dlsym(RTLD_DEFAULT, "mod_alloc_memory_bytes");
  printf("{\"elapsed_ns\":%llu,\"max_rss_kib\":%ld,\"profiler_bytes\":%.0f,\"checksum\":%llu}\n",
         (unsigned long long)elapsed, usage.ru_maxrss, memory_bytes ? memory_bytes() : 0.0,
         (unsigned long long)jobs[0].checksum);
  return 0;
}

// Logs every heap allocation of at least 4 MiB and its free, for a process run under LD_PRELOAD, so that the memory a
// program really holds (onnxruntime's buffers and Node's ArrayBuffers alike) can be followed allocation by allocation.
// onnxruntime's own view of what is alive (`bench sae --memory`) counts values, not the buffers its planner places them
// in; this counts the buffers.
//
//   gcc -O2 -shared -fPIC -o /tmp/large-allocations.so bench/scripts/large-allocations.c -ldl
//   LARGE_ALLOCATIONS_LOG=/tmp/alloc LD_PRELOAD=/tmp/large-allocations.so pnpm --silent bench sae ... --json
//   python3 bench/scripts/large-allocations.py /tmp/alloc.*
//
// Each process writes LOG.<pid>: one line per event, "<kind> <address> <bytes>", kind M (malloc), C (calloc),
// R (realloc), A (posix_memalign), L (aligned_alloc), G (memalign) or F (free). Diagnostic only: every free takes a
// lock and a scan of the live large blocks, so the traced run is several times slower.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LARGE (4u << 20)
#define SLOTS 8192

static void *(*real_malloc)(size_t);
static void (*real_free)(void *);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);

static int log_fd = -1;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static void *blocks[SLOTS];
static size_t sizes[SLOTS];

// dlsym allocates while the real functions are being looked up: serve those few calls from a static buffer.
static char bootstrap[65536];
static size_t bootstrap_used;
static int initialising;

static void initialise(void) {
  if (real_malloc || initialising) return;
  initialising = 1;
  real_malloc = dlsym(RTLD_NEXT, "malloc");
  real_free = dlsym(RTLD_NEXT, "free");
  real_calloc = dlsym(RTLD_NEXT, "calloc");
  real_realloc = dlsym(RTLD_NEXT, "realloc");
  real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
  real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
  real_memalign = dlsym(RTLD_NEXT, "memalign");
  const char *prefix = getenv("LARGE_ALLOCATIONS_LOG");
  if (prefix) {
    char path[4096];
    snprintf(path, sizeof path, "%s.%d", prefix, getpid());
    log_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  initialising = 0;
}

static void *from_bootstrap(size_t bytes) {
  void *block = bootstrap + bootstrap_used;
  bootstrap_used += (bytes + 15) & ~(size_t)15;
  return block;
}

static void record(char kind, void *block, size_t bytes) {
  char line[96];
  int length = snprintf(line, sizeof line, "%c %p %zu\n", kind, block, bytes);
  if (write(log_fd, line, length) < 0) return;
}

static void allocated(char kind, void *block, size_t bytes) {
  if (!block || bytes < LARGE || log_fd < 0) return;
  pthread_mutex_lock(&lock);
  for (int i = 0; i < SLOTS; i++) {
    if (!blocks[i]) {
      blocks[i] = block;
      sizes[i] = bytes;
      break;
    }
  }
  record(kind, block, bytes);
  pthread_mutex_unlock(&lock);
}

static void freed(void *block) {
  if (!block || log_fd < 0) return;
  pthread_mutex_lock(&lock);
  for (int i = 0; i < SLOTS; i++) {
    if (blocks[i] == block) {
      record('F', block, sizes[i]);
      blocks[i] = NULL;
      break;
    }
  }
  pthread_mutex_unlock(&lock);
}

void *malloc(size_t bytes) {
  if (!real_malloc) {
    if (initialising) return from_bootstrap(bytes);
    initialise();
  }
  void *block = real_malloc(bytes);
  allocated('M', block, bytes);
  return block;
}

void *calloc(size_t count, size_t size) {
  if (!real_calloc) {
    if (initialising) return memset(from_bootstrap(count * size), 0, count * size);
    initialise();
  }
  void *block = real_calloc(count, size);
  allocated('C', block, count * size);
  return block;
}

void free(void *block) {
  if ((char *)block >= bootstrap && (char *)block < bootstrap + sizeof bootstrap) return;
  if (!real_free) initialise();
  freed(block);
  real_free(block);
}

void *realloc(void *block, size_t bytes) {
  if (!real_realloc) initialise();
  freed(block);
  void *moved = real_realloc(block, bytes);
  allocated('R', moved, bytes);
  return moved;
}

int posix_memalign(void **out, size_t alignment, size_t bytes) {
  if (!real_posix_memalign) initialise();
  int status = real_posix_memalign(out, alignment, bytes);
  if (status == 0) allocated('A', *out, bytes);
  return status;
}

void *aligned_alloc(size_t alignment, size_t bytes) {
  if (!real_aligned_alloc) initialise();
  void *block = real_aligned_alloc(alignment, bytes);
  allocated('L', block, bytes);
  return block;
}

void *memalign(size_t alignment, size_t bytes) {
  if (!real_memalign) initialise();
  void *block = real_memalign(alignment, bytes);
  allocated('G', block, bytes);
  return block;
}

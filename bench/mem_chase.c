// Memory latency with and without transparent huge pages: a pointer chase over MB megabytes of
// anonymous memory, one 64-byte line per step, in a random cycle; prints ns per dependent load.
//   gcc -O2 -o /tmp/mem_chase bench/mem_chase.c && /tmp/mem_chase 16 0 && /tmp/mem_chase 16 1
// (the second argument: 1 = MADV_HUGEPAGE, 0 = MADV_NOHUGEPAGE). docs/benchmarks.md, session 11.
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: mem_chase MB HUGE(0|1)\n");
    return 2;
  }
  const size_t len = (size_t)atoi(argv[1]) << 20, align = (size_t)2 << 20;
  const int huge = atoi(argv[2]);
  const size_t n = len / 64;
  if (n < 2) return 2;
  char* raw = mmap(NULL, len + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return 1;
  char* p = (char*)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
  madvise(p, len, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  size_t* perm = malloc(n * sizeof *perm);
  if (!perm) return 1;
  for (size_t i = 0; i < n; i++)
    perm[i] = i;
  uint64_t x = 88172645463325252ULL; // xorshift: a fixed, portable shuffle
  for (size_t i = n - 1; i > 0; i--) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    const size_t j = (size_t)(x % (i + 1)), t = perm[i];
    perm[i] = perm[j], perm[j] = t;
  }
  for (size_t i = 0; i < n; i++)
    *(size_t*)(p + perm[i] * 64) = perm[(i + 1) % n] * 64;
  size_t cur = perm[0] * 64;
  const size_t steps = 4000000;
  const double t0 = now_ns();
  for (size_t i = 0; i < steps; i++)
    cur = *(volatile size_t*)(p + cur);
  const double t1 = now_ns();
  long huge_kb = 0;
  FILE* f = fopen("/proc/self/smaps_rollup", "r");
  char line[256];
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "AnonHugePages: %ld", &huge_kb) == 1) break;
  if (f) fclose(f);
  printf("%s MB, huge pages %s: %.1f ns per load (AnonHugePages %ld kB)\n", argv[1],
         huge ? "asked" : "refused", (t1 - t0) / (double)steps, huge_kb);
  return cur == 1; // keeps the chase live
}

// Latency of stat(2) as a program sees it, with or without the shim preloaded: reads a list of
// paths (one per line), stats each ROUNDS times in a loop, and prints the median over rounds of
// the mean time per call (ns), plus p10/p90 of the rounds. The same binary runs on the physical
// tree (the kernel answers) and under `vrift run` on a projection (the shim answers), in one run
// of bench/shim_bench.sh.
//   shim_stat_bench LISTFILE ROUNDS [stat|lstat|statx|open]
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: shim_stat_bench LISTFILE ROUNDS [stat|lstat|statx|open]\n");
    return 2;
  }
  const char* op = argc > 3 ? argv[3] : "stat";
  FILE* f = fopen(argv[1], "r");
  if (!f) {
    perror(argv[1]);
    return 1;
  }
  size_t cap = 1024, n = 0;
  char** paths = malloc(cap * sizeof *paths);
  char line[4096];
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    if (!line[0]) continue;
    if (n == cap) paths = realloc(paths, (cap *= 2) * sizeof *paths);
    paths[n++] = strdup(line);
  }
  fclose(f);
  int rounds = atoi(argv[2]);
  if (n == 0 || rounds < 1) {
    fprintf(stderr, "no paths or rounds\n");
    return 1;
  }
  double* per = malloc((size_t)rounds * sizeof *per);
  long failures = 0;
  struct stat st;
  struct statx sx;
  for (int r = 0; r < rounds; ++r) {
    double t0 = now_ns();
    for (size_t i = 0; i < n; ++i) {
      int rc;
      if (op[0] == 'l')
        rc = lstat(paths[i], &st);
      else if (op[0] == 'o') {
        rc = open(paths[i], O_RDONLY | O_CLOEXEC);
        if (rc >= 0) rc = close(rc);
      } else if (strcmp(op, "statx") == 0)
        rc = statx(AT_FDCWD, paths[i], 0, STATX_BASIC_STATS, &sx);
      else
        rc = stat(paths[i], &st);
      failures += rc != 0;
    }
    per[r] = (now_ns() - t0) / (double)n;
  }
  qsort(per, (size_t)rounds, sizeof *per, cmp);
  printf("%s paths=%zu rounds=%d median_ns=%.1f p10_ns=%.1f p90_ns=%.1f failures=%ld\n", op, n,
         rounds, per[rounds / 2], per[rounds / 10], per[rounds * 9 / 10], failures);
  return failures ? 1 : 0;
}

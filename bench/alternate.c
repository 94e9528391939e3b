// alternate ROUNDS DIR -- CMD1 [ARG]... ::: CMD2 [ARG]... ::: ...
// Runs the commands alternately in DIR (fork, execv of an absolute path, waitpid; stdout to
// /dev/null), one run of each per round in a rotated order, after one warm-up round; prints each
// command's median wall time and the median of its time divided by the first command's in the
// same round (the paired ratio, immune to the machine's drift). bench/alternate.py does the same
// from Python, whose own fork and exec add ~1 ms to every run; this one adds ~0.1 ms.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static double median(const double* v, int n) {
  double* c = malloc((size_t)n * sizeof *c);
  memcpy(c, v, (size_t)n * sizeof *c);
  qsort(c, (size_t)n, sizeof *c, cmp);
  double m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
  free(c);
  return m;
}

int main(int argc, char** argv) {
  if (argc < 5 || strcmp(argv[3], "--") != 0) {
    fprintf(stderr, "usage: alternate ROUNDS DIR -- CMD1 [ARG]... ::: CMD2 [ARG]... ...\n");
    return 2;
  }
  int rounds = atoi(argv[1]);
  const char* dir = argv[2];
  char** cmds[32];
  int nc = 0;
  cmds[nc++] = &argv[4];
  for (int i = 4; i < argc; ++i) {
    if (strcmp(argv[i], ":::") == 0 && nc < 32) {
      argv[i] = NULL;
      cmds[nc++] = &argv[i + 1];
    }
  }
  if (rounds < 1) return 2;
  double* t[32];
  for (int c = 0; c < nc; ++c)
    t[c] = malloc((size_t)rounds * sizeof(double));
  int devnull = open("/dev/null", O_WRONLY);
  for (int r = -1; r < rounds; ++r) {
    for (int k = 0; k < nc; ++k) {
      int c = (k + (r < 0 ? 0 : r)) % nc;
      double t0 = now_ms();
      pid_t p = fork();
      if (p == 0) {
        dup2(devnull, 1);
        if (chdir(dir) != 0) _exit(126);
        execv(cmds[c][0], cmds[c]);
        _exit(127);
      }
      int st = 0;
      waitpid(p, &st, 0);
      double t1 = now_ms();
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "alternate: command %d (%s) failed: status %d\n", c + 1, cmds[c][0], st);
        return 1;
      }
      if (r >= 0) t[c][r] = t1 - t0;
    }
  }
  double* ratio = malloc((size_t)rounds * sizeof(double));
  for (int c = 0; c < nc; ++c) {
    for (int r = 0; r < rounds; ++r)
      ratio[r] = t[c][r] / t[0][r];
    printf("%d %.3f %.4f\n", c + 1, median(t[c], rounds), median(ratio, rounds));
  }
  return 0;
}

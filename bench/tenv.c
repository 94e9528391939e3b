// tenv [NAME=VALUE]... -- CMD [ARG]...: execs CMD with the variables added in front of the
// environment, and nothing else: no C library (no start-up of its own to measure), ~40 us on the
// benchmark machine. With no variables it is a bare exec trampoline. Used by
// bench/launch_parts.sh so that every command compared pays the same one extra exec.
// Build: gcc -O2 -static -nostdlib -fno-stack-protector -fno-builtin -o tenv tenv.c (x86-64).
#include <sys/syscall.h>

static long sys3(long n, long a, long b, long c) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
}

static void say(const char* s) {
  long n = 0;
  while (s[n])
    ++n;
  sys3(SYS_write, 2, (long)s, n);
}

__attribute__((used, noreturn)) void tenv_main(long* sp) {
  int argc = (int)sp[0];
  char** argv = (char**)(sp + 1);
  char** envp = argv + argc + 1;
  char* env[1024];
  int n = 0, i = 1;
  for (; i < argc; ++i) {
    const char* a = argv[i];
    if (a[0] == '-' && a[1] == '-' && a[2] == 0) {
      ++i;
      break;
    }
    if (n < 1000) env[n++] = argv[i];
  }
  for (char** e = envp; *e && n < 1023; ++e)
    env[n++] = *e;
  env[n] = 0;
  if (i >= argc) {
    say("usage: tenv [NAME=VALUE]... -- CMD [ARG]...\n");
    sys3(SYS_exit_group, 2, 0, 0);
  }
  sys3(SYS_execve, (long)argv[i], (long)(argv + i), (long)env);
  say("tenv: cannot execute ");
  say(argv[i]);
  say("\n");
  sys3(SYS_exit_group, 127, 0, 0);
  __builtin_unreachable();
}

__asm__(".globl _start\n_start:\n  mov %rsp, %rdi\n  and $-16, %rsp\n  call tenv_main\n");

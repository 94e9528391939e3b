// Raw Linux system calls: no libc wrapper (which the shim may interpose), no errno, nothing to
// link. Freestanding: the shim and the VDir reader use it. Every call returns the kernel's
// result: a value, or -errno in [-4095, -1].
#pragma once

#include <cstddef>
#include <cstdint>

namespace vrift::sys {

inline long call6(long nr, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0) {
#if defined(__x86_64__)
  long ret;
  register long r10 asm("r10") = d;
  register long r8 asm("r8") = e;
  register long r9 asm("r9") = f;
  asm volatile("syscall"
               : "=a"(ret)
               : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
               : "rcx", "r11", "memory");
  return ret;
#elif defined(__aarch64__)
  register long x8 asm("x8") = nr;
  register long x0 asm("x0") = a;
  register long x1 asm("x1") = b;
  register long x2 asm("x2") = c;
  register long x3 asm("x3") = d;
  register long x4 asm("x4") = e;
  register long x5 asm("x5") = f;
  asm volatile("svc 0"
               : "+r"(x0)
               : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
               : "memory");
  return x0;
#else
#error "vrift needs inline system calls (x86-64 or aarch64)"
#endif
}

inline bool failed(long r) { return r < 0 && r > -4096; }

template <typename T> inline long arg(T* p) { return reinterpret_cast<long>(p); }

} // namespace vrift::sys

// Read-only mapping of a VDir file with raw system calls (no libc wrapper, so nothing the shim
// interposes, no errno, no allocation). x86-64 and aarch64 have inline system calls; other
// architectures fall back to libc's syscall(), which a shim there must not interpose.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <cerrno>

#include "vrift/vdir/vdir_reader.h"

#if !defined(__x86_64__) && !defined(__aarch64__)
#include <unistd.h>
#endif

namespace vrift::vdir {
namespace {

long raw_syscall(long nr, long a, long b, long c, long d = 0, long e = 0, long f = 0) {
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
  long r = ::syscall(nr, a, b, c, d, e, f);
  return r == -1 ? -errno : r;
#endif
}

// Kernel convention: a return value in [-4095, -1] is -errno.
bool failed(long r) { return r < 0 && r > -4096; }

} // namespace

int vdir_map_readonly(const char* path, VdirMapping* out) {
  *out = VdirMapping{};
  const long fd =
      raw_syscall(SYS_openat, AT_FDCWD, reinterpret_cast<long>(path), O_RDONLY | O_CLOEXEC);
  if (failed(fd)) return static_cast<int>(fd);
  const long size = raw_syscall(SYS_lseek, fd, 0, SEEK_END);
  int err = 0;
  if (failed(size)) {
    err = static_cast<int>(size);
  } else if (size == 0) {
    err = -EINVAL;
  } else {
    const long addr = raw_syscall(SYS_mmap, 0, size, PROT_READ, MAP_SHARED, fd, 0);
    if (failed(addr)) {
      err = static_cast<int>(addr);
    } else {
      out->base = reinterpret_cast<const void*>(addr);
      out->len = static_cast<size_t>(size);
      // Best effort, as in the writer: huge pages where tmpfs allows them (fewer TLB misses).
      raw_syscall(SYS_madvise, addr, size, MADV_HUGEPAGE);
    }
  }
  raw_syscall(SYS_close, fd, 0, 0);
  return err;
}

void vdir_unmap(VdirMapping* m) {
  if (m->base != nullptr)
    raw_syscall(SYS_munmap, reinterpret_cast<long>(m->base), static_cast<long>(m->len), 0);
  *m = VdirMapping{};
}

} // namespace vrift::vdir

// Read-only mapping of a VDir file with raw system calls (no libc wrapper, so nothing the shim
// interposes, no errno, no allocation; util/raw_syscall.h).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <cerrno>

#include "vrift/util/raw_syscall.h"
#include "vrift/vdir/vdir_reader.h"

namespace vrift::vdir {
namespace {

long raw_syscall(long nr, long a, long b, long c, long d = 0, long e = 0, long f = 0) {
  return sys::call6(nr, a, b, c, d, e, f);
}
bool failed(long r) { return sys::failed(r); }

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

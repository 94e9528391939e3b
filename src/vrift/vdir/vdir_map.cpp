// Mappings of a VDir file (read-only) and of its stale map (read-write) with raw system calls (no
// libc wrapper, so nothing the shim interposes, no errno, no allocation; util/raw_syscall.h).
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

// Opens PATH with FLAGS and maps the whole file with PROT, MAP_SHARED.
int map_whole(const char* path, long flags, long prot, VdirMapping* out) {
  *out = VdirMapping{};
  const long fd = raw_syscall(SYS_openat, AT_FDCWD, reinterpret_cast<long>(path), flags);
  if (failed(fd)) return static_cast<int>(fd);
  const long size = raw_syscall(SYS_lseek, fd, 0, SEEK_END);
  int err = 0;
  if (failed(size)) {
    err = static_cast<int>(size);
  } else if (size == 0) {
    err = -EINVAL;
  } else {
    const long addr = raw_syscall(SYS_mmap, 0, size, prot, MAP_SHARED, fd, 0);
    if (failed(addr)) {
      err = static_cast<int>(addr);
    } else {
      out->base = reinterpret_cast<const void*>(addr);
      out->len = static_cast<size_t>(size);
    }
  }
  raw_syscall(SYS_close, fd, 0, 0);
  return err;
}

} // namespace

int vdir_map_readonly(const char* path, VdirMapping* out) {
  const int err = map_whole(path, O_RDONLY | O_CLOEXEC, PROT_READ, out);
  // Best effort, as in the writer: huge pages where tmpfs allows them (fewer TLB misses).
  if (err == 0)
    raw_syscall(SYS_madvise, reinterpret_cast<long>(out->base), static_cast<long>(out->len),
                MADV_HUGEPAGE);
  return err;
}

int vdir_map_stale(const char* path, VdirMapping* out) {
  return map_whole(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW, PROT_READ | PROT_WRITE, out);
}

void vdir_unmap(VdirMapping* m) {
  if (m->base != nullptr)
    raw_syscall(SYS_munmap, reinterpret_cast<long>(m->base), static_cast<long>(m->len), 0);
  *m = VdirMapping{};
}

} // namespace vrift::vdir

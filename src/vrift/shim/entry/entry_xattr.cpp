// Extended attributes: `ls -l`, `cp -a` and ACL checks ask for them on every file. A projected
// entry has none (the manifest records none), so the answer comes from the VDir: ENODATA for a
// named attribute, an empty list. Paths outside projections and untracked fds go to libc.
#include <sys/syscall.h>
#include <sys/xattr.h>

#include "vrift/shim/core/fdtab.h"
#include "vrift/shim/core/lookup.h"
#include "vrift/shim/entry/ops.h"
#include "vrift/util/raw_syscall.h"

#define VRIFT_EXPORT extern "C" __attribute__((visibility("default")))

namespace vrift::shim {
namespace {

// The projected answer for PATH, or -2 when the real call must answer (*RP is the path to give
// it). LIST: listxattr (0 attributes) rather than getxattr (ENODATA).
__attribute__((noinline)) long xattr_slow(const char* path, bool follow, bool list, long nr,
                                          long a2, long a3, long a4) {
  const int saved = errno;
  Scratch s;
  const Lookup l = lookup(AT_FDCWD, path, follow, &s);
  if (l.res == Res::kReal) return from_sys(sys::call6(nr, sys::arg(l.real_path), a2, a3, a4));
  if (l.res == Res::kError) return fail(l.err);
  if (!list) return fail(ENODATA);
  errno = saved;
  return 0;
}

long xattr(const char* path, bool follow, bool list, long nr, long a2, long a3, long a4) {
  if (!path || !active() || surely_outside(AT_FDCWD, path))
    return from_sys(sys::call6(nr, sys::arg(path), a2, a3, a4));
  return xattr_slow(path, follow, list, nr, a2, a3, a4);
}

bool tracked_fd(int fd) {
  const FdKind k = fd_kind(fd);
  return active() && (k == kFdFile || k == kFdDir);
}

} // namespace
} // namespace vrift::shim

using namespace vrift::shim;
namespace sys = vrift::sys;

VRIFT_EXPORT ssize_t getxattr(const char* path, const char* name, void* value, size_t size) {
  return xattr(path, true, false, SYS_getxattr, sys::arg(name), sys::arg(value),
               static_cast<long>(size));
}
VRIFT_EXPORT ssize_t lgetxattr(const char* path, const char* name, void* value, size_t size) {
  return xattr(path, false, false, SYS_lgetxattr, sys::arg(name), sys::arg(value),
               static_cast<long>(size));
}
VRIFT_EXPORT ssize_t listxattr(const char* path, char* list, size_t size) {
  return xattr(path, true, true, SYS_listxattr, sys::arg(list), static_cast<long>(size), 0);
}
VRIFT_EXPORT ssize_t llistxattr(const char* path, char* list, size_t size) {
  return xattr(path, false, true, SYS_llistxattr, sys::arg(list), static_cast<long>(size), 0);
}
// A tracked fd is a blob (whose fingerprint attribute is the store's business) or a skeleton.
VRIFT_EXPORT ssize_t fgetxattr(int fd, const char* name, void* value, size_t size) {
  if (tracked_fd(fd)) return fail(ENODATA);
  return from_sys(
      sys::call6(SYS_fgetxattr, fd, sys::arg(name), sys::arg(value), static_cast<long>(size)));
}
VRIFT_EXPORT ssize_t flistxattr(int fd, char* list, size_t size) {
  if (tracked_fd(fd)) return 0;
  return from_sys(sys::call6(SYS_flistxattr, fd, sys::arg(list), static_cast<long>(size)));
}

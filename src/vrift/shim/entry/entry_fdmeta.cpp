// Metadata changes through a descriptor (fchmod, fchown, futimens, futimes, utimensat on an fd,
// fsetxattr, fremovexattr). A projected regular file opened for reading is the blob's own
// descriptor, and the blob is shared by every file with the same content in every projection:
// letting these reach it would change the store (a root process can even change a 0444 blob,
// or overwrite its fingerprint xattr). Until the write path turns them into daemon mutations
// (docs/shim.md, "Not yet"), they fail with EROFS on such a descriptor; every other descriptor
// goes to the kernel unchanged.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/xattr.h>

#include "vrift/shim/core/fdtab.h"
#include "vrift/shim/core/state.h"
#include "vrift/shim/entry/ops.h"
#include "vrift/util/raw_syscall.h"

#define VRIFT_EXPORT extern "C" __attribute__((visibility("default")))

namespace vrift::shim {

// The entry counts only while FD still is that inode (it may have been closed behind the
// shim's back and reused).
bool is_blob_fd(int fd) { return active() && fd_checked(fd, kFdFile) != nullptr; }

long op_fd_meta(int fd, long nr, long a1, long a2, long a3, long a4, long a5) {
  if (is_blob_fd(fd)) return fail(EROFS);
  return from_sys(sys::call6(nr, fd, a1, a2, a3, a4, a5));
}

} // namespace vrift::shim

using namespace vrift::shim;
namespace sys = vrift::sys;

VRIFT_EXPORT int fchmod(int fd, mode_t mode) {
  return static_cast<int>(op_fd_meta(fd, SYS_fchmod, static_cast<long>(mode), 0, 0, 0, 0));
}
VRIFT_EXPORT int fchown(int fd, uid_t uid, gid_t gid) {
  return static_cast<int>(
      op_fd_meta(fd, SYS_fchown, static_cast<long>(uid), static_cast<long>(gid), 0, 0, 0));
}
VRIFT_EXPORT int futimens(int fd, const struct timespec times[2]) {
  return static_cast<int>(op_fd_meta(fd, SYS_utimensat, 0, sys::arg(times), 0, 0, 0));
}
VRIFT_EXPORT int futimes(int fd, const struct timeval tv[2]) {
  struct timespec ts[2];
  if (tv) {
    for (int i = 0; i < 2; ++i) {
      if (tv[i].tv_usec < 0 || tv[i].tv_usec >= 1000000) return fail(EINVAL);
      ts[i].tv_sec = tv[i].tv_sec;
      ts[i].tv_nsec = tv[i].tv_usec * 1000;
    }
  }
  return static_cast<int>(op_fd_meta(fd, SYS_utimensat, 0, tv ? sys::arg(ts) : 0, 0, 0, 0));
}
// An empty path with AT_EMPTY_PATH is futimens; a null one is EINVAL, as glibc has it (the
// kernel's futimens spelling is reached through syscall()). A path that names a phantom file is
// refused like the other changes by path (entry_mutate.cpp); any other goes to the kernel.
VRIFT_EXPORT int utimensat(int dirfd, const char* path, const struct timespec times[2], int flags) {
  path = opaque(path); // glibc declares it nonnull: keep the compiler from dropping the test
  if (path == nullptr) return fail(EINVAL);
  if (path[0] == '\0' && (flags & AT_EMPTY_PATH))
    return static_cast<int>(
        op_fd_meta(dirfd, SYS_utimensat, sys::arg(path), sys::arg(times), flags, 0, 0));
  if (phantom(dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW))) return fail(EROFS);
  return static_cast<int>(
      from_sys(sys::call6(SYS_utimensat, dirfd, sys::arg(path), sys::arg(times), flags)));
}
VRIFT_EXPORT int fchownat(int dirfd, const char* path, uid_t uid, gid_t gid, int flags) {
  path = opaque(path);
  if (path && path[0] == '\0' && (flags & AT_EMPTY_PATH))
    return static_cast<int>(op_fd_meta(dirfd, SYS_fchownat, sys::arg(path), static_cast<long>(uid),
                                       static_cast<long>(gid), flags, 0));
  if (phantom(dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW))) return fail(EROFS);
  return static_cast<int>(from_sys(sys::call6(
      SYS_fchownat, dirfd, sys::arg(path), static_cast<long>(uid), static_cast<long>(gid), flags)));
}
VRIFT_EXPORT int fsetxattr(int fd, const char* name, const void* value, size_t size, int flags) {
  return static_cast<int>(op_fd_meta(fd, SYS_fsetxattr, sys::arg(name), sys::arg(value),
                                     static_cast<long>(size), flags, 0));
}
VRIFT_EXPORT int fremovexattr(int fd, const char* name) {
  return static_cast<int>(op_fd_meta(fd, SYS_fremovexattr, sys::arg(name), 0, 0, 0, 0));
}

// Calls that ask about the file system a path lies on, or watch it: statfs, statvfs, pathconf
// and inotify_add_watch. A projected regular file has no physical file (phantom), so the kernel
// would say ENOENT: they get its blob's path instead (the store's file system; a watch on it
// never fires, as nothing writes a blob). A projected directory is its physical skeleton.
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vrift/shim/core/lookup.h"
#include "vrift/shim/core/path.h"
#include "vrift/shim/core/state.h"
#include "vrift/shim/entry/ops.h"
#include "vrift/shim/entry/real.h"
#include "vrift/util/raw_syscall.h"

#define VRIFT_EXPORT extern "C" __attribute__((visibility("default")))

namespace vrift::shim {
namespace {

using StatvfsFn = int(const char*, struct statvfs*);
using PathconfFn = long(const char*, int);
VRIFT_REAL(statvfs, StatvfsFn);
VRIFT_REAL(pathconf, PathconfFn);

// The path the kernel should be asked about for PATH (followed): PATH itself when it is not
// projected, a projected file's blob, a projected directory's skeleton. nullptr with errno set
// when PATH is projected and missing.
// BLOB: a projected file is asked about through its blob (statfs: the store's file system);
// otherwise through its physical path (inotify: a blob is shared by every file with the same
// content, so a watch on it would be shared too; a phantom file has no physical path: ENOENT).
__attribute__((noinline)) const char* physical_path(const char* path, Scratch* s, bool follow,
                                                    bool blob) {
  const Lookup l = lookup(AT_FDCWD, path, follow, s);
  if (l.res == Res::kReal) return l.real_path;
  if (l.res == Res::kError) {
    errno = l.err;
    return nullptr;
  }
  if (blob && (l.st.mode & vdir::kModeTypeMask) == vdir::kModeReg) {
    if (!blob_path(l.st.blob_hash, l.st.size, &s->b)) {
      errno = ENAMETOOLONG;
      return nullptr;
    }
    return s->b.s;
  }
  return s->a.s;
}

// REAL(path) on the path the kernel should be asked about instead of PATH.
template <typename F>
auto on_physical(const char* path, bool follow, bool blob, F real) -> decltype(real(path)) {
  path = opaque(path); // glibc declares it nonnull: keep the compiler from dropping the test
  if (!path || !active() || surely_outside(AT_FDCWD, path)) return real(path);
  const int saved = errno;
  Scratch s;
  const char* p = physical_path(path, &s, follow, blob);
  if (!p) return -1;
  errno = saved;
  return real(p);
}

} // namespace
} // namespace vrift::shim

using namespace vrift::shim;
namespace sys = vrift::sys;

VRIFT_EXPORT int statfs(const char* path, struct statfs* buf) {
  return on_physical(path, true, true, [buf](const char* p) {
    return static_cast<int>(from_sys(sys::call6(SYS_statfs, sys::arg(p), sys::arg(buf))));
  });
}
VRIFT_EXPORT int statfs64(const char* path, struct statfs64* buf) {
  return statfs(path, reinterpret_cast<struct statfs*>(buf)); // one layout on 64-bit Linux
}
VRIFT_EXPORT int statvfs(const char* path, struct statvfs* buf) {
  return on_physical(path, true, true, [buf](const char* p) { return real_statvfs.get()(p, buf); });
}
VRIFT_EXPORT int statvfs64(const char* path, struct statvfs64* buf) {
  return statvfs(path, reinterpret_cast<struct statvfs*>(buf));
}
VRIFT_EXPORT long pathconf(const char* path, int name) {
  return on_physical(path, true, true,
                     [name](const char* p) { return real_pathconf.get()(p, name); });
}
VRIFT_EXPORT int inotify_add_watch(int fd, const char* path, uint32_t mask) {
  return on_physical(path, !(mask & IN_DONT_FOLLOW), false, [fd, mask](const char* p) {
    return static_cast<int>(
        from_sys(sys::call6(SYS_inotify_add_watch, fd, sys::arg(p), static_cast<long>(mask))));
  });
}

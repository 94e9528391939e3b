// The stat family (LESSONS 5): stat, lstat, fstat, fstatat, statx and their 64 and __xstat
// forms. A path inside a projection is answered from the VDir with no system call; anything
// else goes to the real call.
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include <cstring>

#include "vrift/shim/core/fdtab.h"
#include "vrift/shim/core/lookup.h"
#include "vrift/shim/core/statfill.h"
#include "vrift/shim/entry/ops.h"
#include "vrift/shim/entry/real.h"
#include "vrift/util/raw_syscall.h"

#define VRIFT_EXPORT extern "C" __attribute__((visibility("default")))

namespace vrift::shim {
namespace {

// Is FD a projected directory of ours still referring to the skeleton we opened (the real fstat
// just described DEV and INO)? Then its entry. (A projected file's descriptor is answered from
// its entry before any real call: fd_blob.)
const FdEntry* tracked_dir(int fd, uint64_t dev, uint64_t ino) {
  FdEntry* e = fd_entry(fd);
  if (!e || __atomic_load_n(&e->kind, __ATOMIC_ACQUIRE) != kFdDir ||
      !fd_same_file(e, dev, ino, false, false, 0))
    return nullptr;
  return e;
}

// A path that is in a projected directory but not projected is asked of the kernel without
// following a final symlink, which for anything but a symlink is the same answer in the same one
// system call. A symlink there is one the program made; its target may be projected, which the
// kernel cannot see, so the shim follows it (link_in_projection) and resolves the target.
__attribute__((noinline)) int fstatat_general(int dirfd, const char* path, struct stat* buf,
                                              int flags, const Quick& q, int saved) {
  Scratch s;
  PathBuf hop;
  const bool follow = !(flags & AT_SYMLINK_NOFOLLOW);
  for (int hops = 0;; ++hops) {
    const Lookup l = lookup(dirfd, path, follow, &s, nullptr, 0, hops == 0 ? &q : nullptr);
    if (l.res == Res::kHit) {
      fill_stat(g_state.proj[l.proj], l.st, buf);
      errno = saved;
      return 0;
    }
    if (l.res == Res::kError) return fail(l.err);
    if (follow && l.inside_miss && hops < kMaxPhysicalHops) {
      const long r = sys::call6(SYS_newfstatat, l.real_dirfd, sys::arg(l.real_path), sys::arg(buf),
                                flags | AT_SYMLINK_NOFOLLOW);
      if (sys::failed(r) || !S_ISLNK(buf->st_mode)) return static_cast<int>(from_sys(r));
      if (link_in_projection(&s, &hop)) {
        dirfd = AT_FDCWD;
        path = hop.s;
        continue;
      }
      // unreadable: the kernel follows it as it can
    }
    return static_cast<int>(from_sys(
        sys::call6(SYS_newfstatat, l.real_dirfd, sys::arg(l.real_path), sys::arg(buf), flags)));
  }
}

__attribute__((noinline)) int statx_general(int dirfd, const char* path, int flags, unsigned mask,
                                            struct statx* buf, const Quick& q, int saved) {
  Scratch s;
  PathBuf hop;
  const bool follow = !(flags & AT_SYMLINK_NOFOLLOW);
  for (int hops = 0;; ++hops) { // as fstatat_general
    const Lookup l = lookup(dirfd, path, follow, &s, nullptr, 0, hops == 0 ? &q : nullptr);
    if (l.res == Res::kHit) {
      fill_statx(g_state.proj[l.proj], l.st, buf);
      errno = saved;
      return 0;
    }
    if (l.res == Res::kError) return fail(l.err);
    if (follow && l.inside_miss && hops < kMaxPhysicalHops) {
      const long r = sys::call6(SYS_statx, l.real_dirfd, sys::arg(l.real_path),
                                flags | AT_SYMLINK_NOFOLLOW, mask | STATX_TYPE, sys::arg(buf));
      if (sys::failed(r) || (buf->stx_mode & S_IFMT) != S_IFLNK)
        return static_cast<int>(from_sys(r));
      if (link_in_projection(&s, &hop)) {
        dirfd = AT_FDCWD;
        path = hop.s;
        continue;
      }
      // unreadable: the kernel follows it as it can
    }
    return static_cast<int>(from_sys(
        sys::call6(SYS_statx, l.real_dirfd, sys::arg(l.real_path), flags, mask, sys::arg(buf))));
  }
}

// Flags and mask the kernel accepts (what it refuses is its to say: EINVAL).
bool plain_statx(int flags, unsigned mask) {
  constexpr int kKnown = AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE;
  return !(flags & ~kKnown) && (flags & AT_STATX_SYNC_TYPE) != AT_STATX_SYNC_TYPE &&
         !(mask & STATX__RESERVED);
}

} // namespace

int op_fstat(int fd, struct stat* buf) {
  if (active() && buf) { // (a null BUF is the kernel's EFAULT)
    if (const FdEntry* e = fd_blob(fd)) {
      fill_stat(g_state.proj[e->proj], e->st, buf);
      return 0;
    }
  }
  const long r = sys::call6(SYS_fstat, fd, sys::arg(buf));
  if (sys::failed(r)) return fail(static_cast<int>(-r));
  if (active()) {
    if (const FdEntry* e = tracked_dir(fd, buf->st_dev, buf->st_ino))
      fill_stat(g_state.proj[e->proj], e->st, buf);
  }
  return 0;
}

int op_fstatat(int dirfd, const char* path, struct stat* buf, int flags) {
  if (path && path[0] == '\0' && (flags & AT_EMPTY_PATH)) {
    // The current directory: answered like "." (it may be a projected directory).
    if (dirfd == AT_FDCWD) return op_fstatat(AT_FDCWD, ".", buf, flags & ~AT_EMPTY_PATH);
    return op_fstat(dirfd, buf);
  }
  if (path && active()) {
    const Quick q = quick_classify(dirfd, path);
    if (q.where == Where::kInside) { // the common road: one probe, no errno to keep
      Lookup d;
      if (lookup_direct(path, q, !(flags & AT_SYMLINK_NOFOLLOW), &d)) {
        if (d.res == Res::kError) return fail(d.err);
        fill_stat(g_state.proj[d.proj], d.st, buf);
        return 0;
      }
    }
    if (q.where != Where::kOutside) return fstatat_general(dirfd, path, buf, flags, q, errno);
  }
  return static_cast<int>(
      from_sys(sys::call6(SYS_newfstatat, dirfd, sys::arg(path), sys::arg(buf), flags)));
}

int op_statx(int dirfd, const char* path, int flags, unsigned mask, struct statx* buf) {
  if (path && path[0] == '\0' && (flags & AT_EMPTY_PATH)) {
    // The current directory: answered like "." (it may be a projected directory).
    if (dirfd == AT_FDCWD) return op_statx(AT_FDCWD, ".", flags & ~AT_EMPTY_PATH, mask, buf);
    if (active() && buf && plain_statx(flags, mask)) {
      if (const FdEntry* e = fd_blob(dirfd)) {
        fill_statx(g_state.proj[e->proj], e->st, buf);
        return 0;
      }
    }
    const long r = sys::call6(SYS_statx, dirfd, sys::arg(path), flags, mask, sys::arg(buf));
    if (sys::failed(r)) return fail(static_cast<int>(-r));
    if (active()) {
      const uint64_t dev = makedev(buf->stx_dev_major, buf->stx_dev_minor);
      if (const FdEntry* e = tracked_dir(dirfd, dev, buf->stx_ino))
        fill_statx(g_state.proj[e->proj], e->st, buf);
    }
    return 0;
  }
  if (path && active()) {
    const Quick q = quick_classify(dirfd, path);
    if (q.where == Where::kInside) { // as op_fstatat
      Lookup d;
      if (lookup_direct(path, q, !(flags & AT_SYMLINK_NOFOLLOW), &d)) {
        if (d.res == Res::kError) return fail(d.err);
        fill_statx(g_state.proj[d.proj], d.st, buf);
        return 0;
      }
    }
    if (q.where != Where::kOutside) return statx_general(dirfd, path, flags, mask, buf, q, errno);
  }
  return static_cast<int>(
      from_sys(sys::call6(SYS_statx, dirfd, sys::arg(path), flags, mask, sys::arg(buf))));
}

} // namespace vrift::shim

using namespace vrift::shim;

// struct stat and struct stat64 are the same on 64-bit Linux; every form maps to op_fstatat.
VRIFT_EXPORT int stat(const char* path, struct stat* buf) {
  return op_fstatat(AT_FDCWD, path, buf, 0);
}
VRIFT_EXPORT int stat64(const char* path, struct stat64* buf) {
  return op_fstatat(AT_FDCWD, path, reinterpret_cast<struct stat*>(buf), 0);
}
VRIFT_EXPORT int lstat(const char* path, struct stat* buf) {
  return op_fstatat(AT_FDCWD, path, buf, AT_SYMLINK_NOFOLLOW);
}
VRIFT_EXPORT int lstat64(const char* path, struct stat64* buf) {
  return op_fstatat(AT_FDCWD, path, reinterpret_cast<struct stat*>(buf), AT_SYMLINK_NOFOLLOW);
}
VRIFT_EXPORT int fstat(int fd, struct stat* buf) { return op_fstat(fd, buf); }
VRIFT_EXPORT int fstat64(int fd, struct stat64* buf) {
  return op_fstat(fd, reinterpret_cast<struct stat*>(buf));
}
VRIFT_EXPORT int fstatat(int dirfd, const char* path, struct stat* buf, int flags) {
  return op_fstatat(dirfd, path, buf, flags);
}
VRIFT_EXPORT int fstatat64(int dirfd, const char* path, struct stat64* buf, int flags) {
  return op_fstatat(dirfd, path, reinterpret_cast<struct stat*>(buf), flags);
}
VRIFT_EXPORT int statx(int dirfd, const char* path, int flags, unsigned mask, struct statx* buf) {
  return op_statx(dirfd, path, flags, mask, buf);
}
// Old binaries (glibc < 2.33) call the versioned __xstat forms; on x86-64 every version of
// struct stat is the kernel's, so VER is not consulted.
VRIFT_EXPORT int __xstat(int, const char* path, struct stat* buf) {
  return op_fstatat(AT_FDCWD, path, buf, 0);
}
VRIFT_EXPORT int __xstat64(int, const char* path, struct stat64* buf) {
  return op_fstatat(AT_FDCWD, path, reinterpret_cast<struct stat*>(buf), 0);
}
VRIFT_EXPORT int __lxstat(int, const char* path, struct stat* buf) {
  return op_fstatat(AT_FDCWD, path, buf, AT_SYMLINK_NOFOLLOW);
}
VRIFT_EXPORT int __lxstat64(int, const char* path, struct stat64* buf) {
  return op_fstatat(AT_FDCWD, path, reinterpret_cast<struct stat*>(buf), AT_SYMLINK_NOFOLLOW);
}
VRIFT_EXPORT int __fxstat(int, int fd, struct stat* buf) { return op_fstat(fd, buf); }
VRIFT_EXPORT int __fxstat64(int, int fd, struct stat64* buf) {
  return op_fstat(fd, reinterpret_cast<struct stat*>(buf));
}
VRIFT_EXPORT int __fxstatat(int, int dirfd, const char* path, struct stat* buf, int flags) {
  return op_fstatat(dirfd, path, buf, flags);
}
VRIFT_EXPORT int __fxstatat64(int, int dirfd, const char* path, struct stat64* buf, int flags) {
  return op_fstatat(dirfd, path, reinterpret_cast<struct stat*>(buf), flags);
}

// access, readlink, realpath, the cwd (chdir/fchdir), descriptor lifetime (close, close_range,
// dup*, fcntl's F_DUPFD*), isatty and syscall() itself (LESSONS 5: Node calls syscall(SYS_statx)
// and syscall(SYS_close)).
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "vrift/shim/core/fdtab.h"
#include "vrift/shim/core/lookup.h"
#include "vrift/shim/core/realpath.h"
#include "vrift/shim/core/statfill.h"
#include "vrift/shim/core/str.h"
#include "vrift/shim/entry/ops.h"
#include "vrift/shim/entry/real.h"
#include "vrift/util/raw_syscall.h"

#define VRIFT_EXPORT extern "C" __attribute__((visibility("default")))

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace vrift::shim {
namespace {

using ChdirFn = int(const char*);
using FchdirFn = int(int);
using CloseFn = int(int);
using IsattyFn = int(int);
using CloseRangeFn = int(unsigned, unsigned, int);
using ClosefromFn = void(int);
using DupFn = int(int);
using Dup2Fn = int(int, int);
using Dup3Fn = int(int, int, int);
using FcntlFn = int(int, int, ...);
using SyscallFn = long(long, ...);
VRIFT_REAL(chdir, ChdirFn);
VRIFT_REAL(fchdir, FchdirFn);
VRIFT_REAL(close, CloseFn);
VRIFT_REAL(isatty, IsattyFn);
VRIFT_REAL(close_range, CloseRangeFn);
VRIFT_REAL(closefrom, ClosefromFn);
VRIFT_REAL(dup, DupFn);
VRIFT_REAL(dup2, Dup2Fn);
VRIFT_REAL(dup3, Dup3Fn);
VRIFT_REAL(fcntl, FcntlFn);
VRIFT_REAL(fcntl64, FcntlFn); // what _FILE_OFFSET_BITS=64 programs call (glibc >= 2.28)
VRIFT_REAL(syscall, SyscallFn);

// libc's faccessat: it falls back from faccessat2 where the kernel (or seccomp) lacks it.
using FaccessatFn = int(int, const char*, int, int);
VRIFT_REAL(faccessat, FaccessatFn);
long faccessat_real(int dirfd, const char* path, int mode, int flags) {
  if (flags == 0) return from_sys(sys::call6(SYS_faccessat, dirfd, sys::arg(path), mode));
  return real_faccessat.get()(dirfd, path, mode, flags);
}

__attribute__((noinline)) int faccessat_slow(int dirfd, const char* path, int mode, int flags) {
  const int saved = errno;
  Scratch s;
  const Lookup l = lookup(dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), &s);
  if (l.res == Res::kReal)
    return static_cast<int>(faccessat_real(l.real_dirfd, l.real_path, mode, flags));
  if (l.res == Res::kError) return fail(l.err);
  if (const int e = check_access(l.st, mode, flags & AT_EACCESS)) return fail(e);
  errno = saved;
  return 0;
}

__attribute__((noinline)) ssize_t readlinkat_slow(int dirfd, const char* path, char* buf,
                                                  size_t n) {
  const int saved = errno;
  Scratch s;
  const uint32_t cap = n < kPathMax ? static_cast<uint32_t>(n) : kPathMax;
  const Lookup l = lookup(dirfd, path, false, &s, buf, cap);
  if (l.res == Res::kReal)
    return from_sys(sys::call6(SYS_readlinkat, l.real_dirfd, sys::arg(l.real_path), sys::arg(buf),
                               static_cast<long>(n)));
  if (l.res == Res::kError) return fail(l.err);
  if ((l.st.mode & vdir::kModeTypeMask) != vdir::kModeLink) return fail(EINVAL);
  errno = saved;
  return l.st.target_len < cap ? l.st.target_len : cap;
}

__attribute__((noinline)) char* realpath_slow(const char* path, char* resolved) {
  const int saved = errno;
  Scratch s;
  PathBuf out;
  if (const int e = resolve_realpath(path, &out, &s)) {
    errno = e;
    return nullptr;
  }
  if (resolved) {
    std::memcpy(resolved, out.s, out.len + 1);
    errno = saved;
    return resolved;
  }
  char* r = static_cast<char*>(malloc(out.len + 1));
  if (!r) {
    errno = ENOMEM;
    return nullptr;
  }
  std::memcpy(r, out.s, out.len + 1);
  errno = saved;
  return r;
}

// NEWFD became a copy of OLDFD (dup, dup2, dup3).
void copied(int oldfd, int newfd) {
  if (fd_kind(oldfd) != kFdNone || fd_kind(newfd) != kFdNone) fd_copy(oldfd, newfd);
}

void forget_range(unsigned first, unsigned last) {
  if (!fd_table_ours()) return;
  const unsigned high = fd_high_water();
  for (unsigned fd = first; fd <= last && fd <= high; ++fd)
    if (fd_kind(static_cast<int>(fd)) != kFdNone) fd_clear(static_cast<int>(fd));
}

// close_range(FIRST, LAST, FLAGS), about to be made: what it will close is forgotten first (a
// number another thread gets in between must not be answered from the old entry), when the
// arguments are ones the kernel accepts (a call that fails forgets nothing) and it closes.
void forget_close_range(unsigned first, unsigned last, unsigned flags) {
  if (first <= last && !(flags & ~(CLOSE_RANGE_CLOEXEC | CLOSE_RANGE_UNSHARE)) &&
      !(flags & CLOSE_RANGE_CLOEXEC))
    forget_range(first, last);
}

} // namespace

int op_faccessat(int dirfd, const char* path, int mode, int flags) {
  if (!path || !active() || surely_outside(dirfd, path))
    return static_cast<int>(faccessat_real(dirfd, path, mode, flags));
  return faccessat_slow(dirfd, path, mode, flags);
}

ssize_t op_readlinkat(int dirfd, const char* path, char* buf, size_t n) {
  if (!path || n == 0 || !active() || surely_outside(dirfd, path))
    return from_sys(
        sys::call6(SYS_readlinkat, dirfd, sys::arg(path), sys::arg(buf), static_cast<long>(n)));
  return readlinkat_slow(dirfd, path, buf, n);
}

} // namespace vrift::shim

using namespace vrift::shim;

VRIFT_EXPORT int access(const char* path, int mode) {
  return op_faccessat(AT_FDCWD, path, mode, 0);
}
VRIFT_EXPORT int faccessat(int dirfd, const char* path, int mode, int flags) {
  return op_faccessat(dirfd, path, mode, flags);
}
VRIFT_EXPORT int euidaccess(const char* path, int mode) {
  return op_faccessat(AT_FDCWD, path, mode, AT_EACCESS);
}
VRIFT_EXPORT int eaccess(const char* path, int mode) {
  return op_faccessat(AT_FDCWD, path, mode, AT_EACCESS);
}
VRIFT_EXPORT ssize_t readlink(const char* path, char* buf, size_t n) {
  return op_readlinkat(AT_FDCWD, path, buf, n);
}
VRIFT_EXPORT ssize_t readlinkat(int dirfd, const char* path, char* buf, size_t n) {
  return op_readlinkat(dirfd, path, buf, n);
}

// realpath: projections are reachable through symlinks from anywhere, so while any projection is
// active every call resolves component by component (raw calls outside, the VDir inside).
VRIFT_EXPORT char* realpath(const char* path, char* resolved) {
  if (!active()) {
    using RealpathFn = char*(const char*, char*);
    static RealFn<RealpathFn> real{"realpath", nullptr};
    return real.get()(path, resolved);
  }
  if (!path) {
    errno = EINVAL;
    return nullptr;
  }
  return realpath_slow(path, resolved);
}
VRIFT_EXPORT char* __realpath_chk(const char* path, char* resolved, size_t resolvedlen) {
  if (resolved && resolvedlen < PATH_MAX) abort(); // what glibc's checked form does
  return realpath(path, resolved);
}
VRIFT_EXPORT char* canonicalize_file_name(const char* path) { return realpath(path, nullptr); }

// chdir: the skeleton directories exist physically, but a projected symlink to a directory
// may not (phantom ingest removes symlinks), so the path is resolved in the projection first.
namespace vrift::shim {
__attribute__((noinline)) static int chdir_slow(const char* path) {
  const int saved = errno;
  Scratch s;
  const Lookup l = lookup(AT_FDCWD, path, true, &s);
  if (l.res == Res::kError) return fail(l.err);
  if (l.res == Res::kReal) return real_chdir.get()(l.real_path);
  if ((l.st.mode & vdir::kModeTypeMask) != vdir::kModeDir) return fail(ENOTDIR);
  const Projection& p = g_state.proj[l.proj];
  PathBuf& d = s.b;
  d.len = 0;
  if (!append(d.s, &d.len, kPathMax, p.root, p.root_len) ||
      (l.rel_len && (!append(d.s, &d.len, kPathMax, "/", 1) ||
                     !append(d.s, &d.len, kPathMax, l.rel, l.rel_len))))
    return fail(ENAMETOOLONG);
  errno = saved;
  return real_chdir.get()(d.s);
}
} // namespace vrift::shim

VRIFT_EXPORT int chdir(const char* path) {
  const int r = path && active() && !surely_outside(AT_FDCWD, path) ? chdir_slow(path)
                                                                    : real_chdir.get()(path);
  if (r == 0) cwd_invalidate();
  return r;
}
VRIFT_EXPORT int fchdir(int fd) {
  const int r = real_fchdir.get()(fd);
  if (r == 0) cwd_invalidate();
  return r;
}

namespace vrift::shim {
void forget_fd(int fd) {
  if (fd_kind(fd) != kFdNone) fd_clear(fd);
}
} // namespace vrift::shim

VRIFT_EXPORT int close(int fd) {
  forget_fd(fd);
  return real_close.get()(fd);
}
// isatty: a projected file's blob is a regular file, never a terminal (Python asks of every
// file it opens, modules included).
VRIFT_EXPORT int isatty(int fd) {
  if (active()) {
    if (const FdEntry* e = fd_blob(fd)) {
      errno = e->path_only ? EBADF : ENOTTY; // an O_PATH descriptor allows no ioctl
      return 0;
    }
  }
  return real_isatty.get()(fd);
}
VRIFT_EXPORT int close_range(unsigned first, unsigned last, int flags) {
  forget_close_range(first, last, static_cast<unsigned>(flags));
  return real_close_range.get()(first, last, flags);
}
// closefrom closes inside libc, past the close hook; it cannot fail (glibc aborts rather).
VRIFT_EXPORT void closefrom(int lowfd) {
  if (lowfd >= 0) forget_range(static_cast<unsigned>(lowfd), ~0u);
  real_closefrom.get()(lowfd);
}
VRIFT_EXPORT int dup(int fd) {
  const int r = real_dup.get()(fd);
  if (r >= 0) copied(fd, r);
  return r;
}
VRIFT_EXPORT int dup2(int fd, int to) {
  const int r = real_dup2.get()(fd, to);
  if (r >= 0) copied(fd, r);
  return r;
}
VRIFT_EXPORT int dup3(int fd, int to, int flags) {
  const int r = real_dup3.get()(fd, to, flags);
  if (r >= 0) copied(fd, r);
  return r;
}

// fcntl's F_DUPFD and F_DUPFD_CLOEXEC copy a descriptor like dup (bash moves redirections to
// high descriptors with it, Python's os.dup uses it); every other command passes through. The
// third argument is read by command type (LESSONS 4): none, an int, or a pointer (locks, owners,
// hints, and any command this list does not know, as libc itself reads them).
int fcntl_with(FcntlFn* real, int fd, int cmd, va_list ap) {
  int r;
  switch (cmd) {
  case F_GETFD:
  case F_GETFL:
  case F_GETOWN:
  case F_GETSIG:
  case F_GETLEASE:
  case F_GETPIPE_SZ:
  case F_GET_SEALS:
    return real(fd, cmd);
  case F_DUPFD:
  case F_DUPFD_CLOEXEC:
    r = real(fd, cmd, va_arg(ap, int));
    if (r >= 0) copied(fd, r);
    return r;
  case F_SETFD:
  case F_SETFL:
  case F_SETOWN:
  case F_SETSIG:
  case F_SETLEASE:
  case F_NOTIFY:
  case F_SETPIPE_SZ:
  case F_ADD_SEALS:
    return real(fd, cmd, va_arg(ap, int));
  default:
    return real(fd, cmd, va_arg(ap, void*));
  }
}
VRIFT_EXPORT int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  const int r = fcntl_with(real_fcntl.get(), fd, cmd, ap);
  va_end(ap);
  return r;
}
VRIFT_EXPORT int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  const int r = fcntl_with(real_fcntl64.get(), fd, cmd, ap);
  va_end(ap);
  return r;
}
// fcntl is async-signal-safe, so its first call may come from a signal handler or a vfork child:
// resolve both before main instead of on that call (a libc without fcntl64 gets fcntl for it,
// and no dlsym is ever repeated).
__attribute__((constructor(102))) static void resolve_fcntl() {
  FcntlFn* plain = real_fcntl.get();
  if (!real_fcntl64.get()) __atomic_store_n(&real_fcntl64.fn, plain, __ATOMIC_RELEASE);
}

// syscall(): the numbers that name a path or a tracked descriptor get the same treatment as their
// libc functions; every other number goes to libc's syscall() untouched.
VRIFT_EXPORT long syscall(long nr, ...) {
  va_list ap;
  va_start(ap, nr);
  long a[6];
  for (long& x : a)
    x = va_arg(ap, long);
  va_end(ap);
  auto p = [&](int i) { return reinterpret_cast<const char*>(a[i]); };
  auto i32 = [&](int i) { return static_cast<int>(a[i]); };
  switch (nr) {
  case SYS_statx:
    return op_statx(i32(0), p(1), i32(2), static_cast<unsigned>(a[3]),
                    reinterpret_cast<struct statx*>(a[4]));
  case SYS_newfstatat:
    return op_fstatat(i32(0), p(1), reinterpret_cast<struct stat*>(a[2]), i32(3));
  case SYS_stat:
    return op_fstatat(AT_FDCWD, p(0), reinterpret_cast<struct stat*>(a[1]), 0);
  case SYS_lstat:
    return op_fstatat(AT_FDCWD, p(0), reinterpret_cast<struct stat*>(a[1]), AT_SYMLINK_NOFOLLOW);
  case SYS_fstat:
    return op_fstat(i32(0), reinterpret_cast<struct stat*>(a[1]));
  case SYS_access:
    return op_faccessat(AT_FDCWD, p(0), i32(1), 0);
  case SYS_faccessat:
    return op_faccessat(i32(0), p(1), i32(2), 0);
  case SYS_faccessat2:
    return op_faccessat(i32(0), p(1), i32(2), i32(3));
  case SYS_readlink:
    return op_readlinkat(AT_FDCWD, p(0), reinterpret_cast<char*>(a[1]), static_cast<size_t>(a[2]));
  case SYS_readlinkat:
    return op_readlinkat(i32(0), p(1), reinterpret_cast<char*>(a[2]), static_cast<size_t>(a[3]));
  case SYS_open:
    return op_openat(AT_FDCWD, p(0), i32(1), static_cast<mode_t>(a[2]));
  case SYS_openat:
    return op_openat(i32(0), p(1), i32(2), static_cast<mode_t>(a[3]));
  case SYS_getdents64:
    return op_getdents64(i32(0), reinterpret_cast<void*>(a[1]), static_cast<size_t>(a[2]));
  case SYS_fchmod:
  case SYS_fchown:
  case SYS_fsetxattr:
  case SYS_fremovexattr:
    return op_fd_meta(i32(0), nr, a[1], a[2], a[3], a[4], a[5]);
  case SYS_utimensat:
    if (a[1] == 0 || (p(1)[0] == '\0' && (i32(3) & AT_EMPTY_PATH)))
      return op_fd_meta(i32(0), nr, a[1], a[2], a[3], a[4], a[5]);
    break;
  case SYS_close:
    forget_fd(i32(0));
    break;
  case SYS_close_range:
    forget_close_range(static_cast<unsigned>(a[0]), static_cast<unsigned>(a[1]),
                       static_cast<unsigned>(a[2]));
    break;
  default:
    break;
  }
  const long r = real_syscall.get()(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  if (r >= 0) {
    switch (nr) {
    case SYS_dup:
    case SYS_dup2:
    case SYS_dup3:
      copied(i32(0), static_cast<int>(r));
      break;
    case SYS_fcntl:
      if (i32(1) == F_DUPFD || i32(1) == F_DUPFD_CLOEXEC) copied(i32(0), static_cast<int>(r));
      break;
    case SYS_chdir:
    case SYS_fchdir:
      cwd_invalidate();
      break;
    default:
      break;
    }
  }
  return r;
}

// Directory streams (LESSONS 14): opendir/fdopendir on a projected directory return one of the
// shim's own streams (dirstream.h); every other dir function checks for those first and hands
// anything else to libc untouched, so a synthetic DIR* never reaches libc.
#include <dirent.h>
#include <glob.h>
#include <stdlib.h>
#include <sys/syscall.h>

#include <cstring>

#include "vrift/shim/core/dirstream.h"
#include "vrift/shim/core/fdtab.h"
#include "vrift/shim/core/lookup.h"
#include "vrift/shim/entry/ops.h"
#include "vrift/shim/entry/real.h"
#include "vrift/util/raw_syscall.h"

#define VRIFT_EXPORT extern "C" __attribute__((visibility("default")))

namespace vrift::shim {
namespace {

using OpendirFn = DIR*(const char*);
using FdopendirFn = DIR*(int);
using ReaddirFn = struct dirent*(DIR*);
using Readdir64Fn = struct dirent64*(DIR*);
using ReaddirRFn = int(DIR*, struct dirent*, struct dirent**);
using Readdir64RFn = int(DIR*, struct dirent64*, struct dirent64**);
using ClosedirFn = int(DIR*);
using RewinddirFn = void(DIR*);
using TelldirFn = long(DIR*);
using SeekdirFn = void(DIR*, long);
using DirfdFn = int(DIR*);
using Filter = int (*)(const struct dirent*);
using Compar = int (*)(const struct dirent**, const struct dirent**);
using ScandirFn = int(const char*, struct dirent***, Filter, Compar);
using Filter64 = int (*)(const struct dirent64*);
using Compar64 = int (*)(const struct dirent64**, const struct dirent64**);
using Scandir64Fn = int(const char*, struct dirent64***, Filter64, Compar64);
VRIFT_REAL(opendir, OpendirFn);
VRIFT_REAL(fdopendir, FdopendirFn);
VRIFT_REAL(readdir, ReaddirFn);
VRIFT_REAL(readdir64, Readdir64Fn);
VRIFT_REAL(readdir_r, ReaddirRFn);
VRIFT_REAL(readdir64_r, Readdir64RFn);
VRIFT_REAL(closedir, ClosedirFn);
VRIFT_REAL(rewinddir, RewinddirFn);
VRIFT_REAL(telldir, TelldirFn);
VRIFT_REAL(seekdir, SeekdirFn);
VRIFT_REAL(dirfd, DirfdFn);
VRIFT_REAL(scandir, ScandirFn);
VRIFT_REAL(scandir64, Scandir64Fn);
using ScandiratFn = int(int, const char*, struct dirent***, int (*)(const struct dirent*),
                        int (*)(const struct dirent**, const struct dirent**));
using Scandirat64Fn = int(int, const char*, struct dirent64***, int (*)(const struct dirent64*),
                          int (*)(const struct dirent64**, const struct dirent64**));
using GlobErr = int (*)(const char*, int);
using GlobFn = int(const char*, int, GlobErr, glob_t*);
using Glob64Fn = int(const char*, int, GlobErr, glob64_t*);
VRIFT_REAL(scandirat, ScandiratFn);
VRIFT_REAL(scandirat64, Scandirat64Fn);
VRIFT_REAL(glob, GlobFn);
VRIFT_REAL(glob64, Glob64Fn);

// A synthetic stream over the projected directory found by L (a hit), whose path is S->a.
DIR* open_projected(const Lookup& l, Scratch* s) {
  if ((l.st.mode & vdir::kModeTypeMask) != vdir::kModeDir) {
    errno = ENOTDIR;
    return nullptr;
  }
  const long fd = sys::call6(SYS_openat, AT_FDCWD, sys::arg(s->a.s),
                             O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK);
  if (sys::failed(fd)) {
    errno = static_cast<int>(-fd);
    return nullptr;
  }
  const int ifd = static_cast<int>(fd);
  struct stat rs {};
  sys::call6(SYS_fstat, ifd, sys::arg(&rs));
  fd_set_dir(ifd, l.proj, l.rel, l.rel_len, l.st, rs.st_dev, rs.st_ino);
  const int idx = dirstream_open(ifd, l.proj, l.rel, l.rel_len, l.st);
  if (idx < 0) {
    fd_clear(ifd);
    sys::call6(SYS_close, ifd);
    errno = -idx;
    return nullptr;
  }
  return dirstream_as_dir(idx);
}

// Rewinds stream IDX of projected directory FD, rebuilt from the directory's current state; when
// that is impossible, replays the listing it has.
void rewind_stream(int idx, int fd) {
  if (FdEntry* e = fd_projected_dir(fd)) {
    PathBuf pb;
    const char* rel;
    uint32_t rel_len;
    if (fd_dir_rel(fd, e, &pb, &rel, &rel_len) &&
        dirstream_refill(idx, e->proj, rel, rel_len, e->st) == 0)
      return;
  }
  dirstream_seek(idx, 0);
}

// libc's own stream: its descriptor may reuse the number of one the shim remembered.
DIR* forget_fd_of(DIR* d) {
  if (d && active()) {
    const int fd = real_dirfd.get()(d);
    if (fd_kind(fd) != kFdNone) fd_clear(fd);
  }
  return d;
}

__attribute__((noinline)) DIR* opendir_slow(const char* path) {
  const int saved = errno;
  Scratch s;
  const Lookup l = lookup(AT_FDCWD, path, true, &s);
  if (l.res == Res::kReal) return forget_fd_of(real_opendir.get()(l.real_path));
  if (l.res == Res::kError) {
    errno = l.err;
    return nullptr;
  }
  DIR* d = open_projected(l, &s);
  if (d) errno = saved;
  return d;
}

// Scans stream D (ours) the way scandir does, with libc's malloc for the result it returns.
template <typename Ent, typename F, typename C>
int scan_stream(int idx, Ent*** out, F filter, C compar) {
  Ent** list = nullptr;
  size_t n = 0, cap = 0;
  while (struct dirent64* d = dirstream_next(idx)) {
    Ent* e = reinterpret_cast<Ent*>(d);
    if (filter && !filter(e)) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 16;
      Ent** grown = static_cast<Ent**>(realloc(list, cap * sizeof(Ent*)));
      if (!grown) goto fail;
      list = grown;
    }
    {
      Ent* copy = static_cast<Ent*>(malloc(d->d_reclen));
      if (!copy) goto fail;
      std::memcpy(copy, d, d->d_reclen);
      list[n++] = copy;
    }
  }
  if (compar && n > 1)
    qsort(list, n, sizeof(Ent*), reinterpret_cast<int (*)(const void*, const void*)>(compar));
  *out = list;
  return static_cast<int>(n);
fail:
  for (size_t i = 0; i < n; ++i)
    free(list[i]);
  free(list);
  errno = ENOMEM;
  return -1;
}

void close_stream(int idx) {
  const int fd = dirstream_fd(idx);
  dirstream_release_index(idx);
  fd_clear(fd);
  sys::call6(SYS_close, fd);
}

// REAL(dirfd, path, out, filter, compar) is libc's scandirat (or scandir, for AT_FDCWD).
template <typename Ent, typename F, typename C, typename Real>
int scandir_common(int dirfd, const char* path, Ent*** out, F filter, C compar, Real real) {
  if (!path || !active() || surely_outside(dirfd, path))
    return real(dirfd, path, out, filter, compar);
  const int saved = errno;
  Scratch s;
  const Lookup l = lookup(dirfd, path, true, &s);
  if (l.res == Res::kReal) return real(l.real_dirfd, l.real_path, out, filter, compar);
  if (l.res == Res::kError) return fail(l.err);
  DIR* d = open_projected(l, &s);
  if (!d) return -1;
  const int idx = dirstream_index(d);
  const int n = scan_stream<Ent>(idx, out, filter, compar);
  close_stream(idx);
  if (n >= 0) errno = saved;
  return n;
}

} // namespace

long op_getdents64(int fd, void* buf, size_t n) {
  FdEntry* e = active() ? fd_projected_dir(fd) : nullptr;
  if (!e) return from_sys(sys::call6(SYS_getdents64, fd, sys::arg(buf), static_cast<long>(n)));
  int32_t s = __atomic_load_n(&e->stream, __ATOMIC_ACQUIRE);
  // The program may rewind the directory (lseek(fd, 0, SEEK_SET)): the fd's real offset then
  // differs from where building the stream left it.
  if (s != 0) {
    const long off = sys::call6(SYS_lseek, fd, 0, SEEK_CUR);
    if (off != e->seen_off) {
      if (off == 0) rewind_stream(s - 1, fd); // rebuilding reads the directory: it moves the fd
      e->seen_off = off == 0 ? sys::call6(SYS_lseek, fd, 0, SEEK_CUR) : off;
    }
  }
  if (s == 0) {
    PathBuf pb;
    const char* rel;
    uint32_t rel_len;
    if (!fd_dir_rel(fd, e, &pb, &rel, &rel_len))
      return from_sys(sys::call6(SYS_getdents64, fd, sys::arg(buf), static_cast<long>(n)));
    const int idx = dirstream_open(fd, e->proj, rel, rel_len, e->st);
    if (idx < 0) return fail(-idx);
    e->seen_off = sys::call6(SYS_lseek, fd, 0, SEEK_CUR);
    int32_t expected = 0;
    if (!__atomic_compare_exchange_n(&e->stream, &expected, idx + 1, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
      dirstream_release_index(idx);
      s = expected;
    } else {
      s = idx + 1;
    }
  }
  const long r = dirstream_getdents(s - 1, buf, n);
  return r < 0 ? fail(static_cast<int>(-r)) : r;
}

} // namespace vrift::shim

using namespace vrift::shim;

VRIFT_EXPORT DIR* opendir(const char* path) {
  if (!path || !active() || surely_outside(AT_FDCWD, path))
    return forget_fd_of(real_opendir.get()(path));
  return opendir_slow(path);
}

VRIFT_EXPORT DIR* fdopendir(int fd) {
  const FdEntry* e = active() ? fd_projected_dir(fd) : nullptr;
  PathBuf pb;
  const char* rel;
  uint32_t rel_len;
  if (e && fd_dir_rel(fd, e, &pb, &rel, &rel_len)) {
    const int idx = dirstream_open(fd, e->proj, rel, rel_len, e->st);
    if (idx < 0) {
      errno = -idx;
      return nullptr;
    }
    return dirstream_as_dir(idx);
  }
  return real_fdopendir.get()(fd);
}

VRIFT_EXPORT struct dirent* readdir(DIR* d) {
  const int idx = dirstream_index(d);
  if (idx < 0) return real_readdir.get()(d);
  return reinterpret_cast<struct dirent*>(dirstream_next(idx));
}
VRIFT_EXPORT struct dirent64* readdir64(DIR* d) {
  const int idx = dirstream_index(d);
  if (idx < 0) return real_readdir64.get()(d);
  return dirstream_next(idx);
}
VRIFT_EXPORT int readdir_r(DIR* d, struct dirent* entry, struct dirent** result) {
  const int idx = dirstream_index(d);
  if (idx < 0) return real_readdir_r.get()(d, entry, result);
  struct dirent64* r = dirstream_next(idx);
  if (!r) {
    *result = nullptr;
    return 0;
  }
  std::memcpy(entry, r, r->d_reclen < sizeof *entry ? r->d_reclen : sizeof *entry);
  *result = entry;
  return 0;
}
VRIFT_EXPORT int readdir64_r(DIR* d, struct dirent64* entry, struct dirent64** result) {
  const int idx = dirstream_index(d);
  if (idx < 0) return real_readdir64_r.get()(d, entry, result);
  struct dirent64* r = dirstream_next(idx);
  if (!r) {
    *result = nullptr;
    return 0;
  }
  std::memcpy(entry, r, r->d_reclen < sizeof *entry ? r->d_reclen : sizeof *entry);
  *result = entry;
  return 0;
}
VRIFT_EXPORT int closedir(DIR* d) {
  const int idx = dirstream_index(d);
  if (idx < 0) {
    if (d && active()) fd_clear(real_dirfd.get()(d));
    return real_closedir.get()(d);
  }
  close_stream(idx);
  return 0;
}
VRIFT_EXPORT void rewinddir(DIR* d) {
  const int idx = dirstream_index(d);
  if (idx < 0) return real_rewinddir.get()(d);
  const int saved = errno;
  rewind_stream(idx, dirstream_fd(idx));
  errno = saved; // rewinddir sets no errno
}
VRIFT_EXPORT long telldir(DIR* d) {
  const int idx = dirstream_index(d);
  if (idx < 0) return real_telldir.get()(d);
  return dirstream_tell(idx);
}
VRIFT_EXPORT void seekdir(DIR* d, long pos) {
  const int idx = dirstream_index(d);
  if (idx < 0) return real_seekdir.get()(d, pos);
  dirstream_seek(idx, pos);
}
VRIFT_EXPORT int dirfd(DIR* d) {
  const int idx = dirstream_index(d);
  if (idx < 0) return real_dirfd.get()(d);
  return dirstream_fd(idx);
}
VRIFT_EXPORT int scandir(const char* path, struct dirent*** out, Filter filter, Compar compar) {
  return scandir_common<struct dirent>(
      AT_FDCWD, path, out, filter, compar, [](int dfd, const char* p, auto o, auto f, auto c) {
        return dfd == AT_FDCWD ? real_scandir.get()(p, o, f, c)
                               : real_scandirat.get()(dfd, p, o, f, c);
      });
}
VRIFT_EXPORT int scandir64(const char* path, struct dirent64*** out, Filter64 filter,
                           Compar64 compar) {
  return scandir_common<struct dirent64>(
      AT_FDCWD, path, out, filter, compar, [](int dfd, const char* p, auto o, auto f, auto c) {
        return dfd == AT_FDCWD ? real_scandir64.get()(p, o, f, c)
                               : real_scandirat64.get()(dfd, p, o, f, c);
      });
}
VRIFT_EXPORT int scandirat(int dirfd, const char* path, struct dirent*** out, Filter filter,
                           Compar compar) {
  return scandir_common<struct dirent>(dirfd, path, out, filter, compar,
                                       [](int dfd, const char* p, auto o, auto f, auto c) {
                                         return real_scandirat.get()(dfd, p, o, f, c);
                                       });
}
VRIFT_EXPORT int scandirat64(int dirfd, const char* path, struct dirent64*** out, Filter64 filter,
                             Compar64 compar) {
  return scandir_common<struct dirent64>(dirfd, path, out, filter, compar,
                                         [](int dfd, const char* p, auto o, auto f, auto c) {
                                           return real_scandirat64.get()(dfd, p, o, f, c);
                                         });
}
// glob(3) lists directories with glibc's internal opendir, past the shim: unless the program
// brought its own (GLOB_ALTDIRFUNC), it gets the shim's, which pass everything outside the
// projections through to libc.
namespace {
void* glob_opendir(const char* p) { return opendir(p); }
void glob_closedir(void* d) { closedir(static_cast<DIR*>(d)); }
struct dirent* glob_readdir(void* d) {
  return readdir(static_cast<DIR*>(d));
}
struct dirent64* glob_readdir64(void* d) {
  return readdir64(static_cast<DIR*>(d));
}
template <typename G, typename R> void use_shim_dirs(G* g, R rd) {
  g->gl_opendir = glob_opendir;
  g->gl_closedir = glob_closedir;
  g->gl_readdir = rd;
}
} // namespace
VRIFT_EXPORT int glob(const char* pattern, int flags, GlobErr errfunc, glob_t* pglob) {
  if (active() && pglob && !(flags & GLOB_ALTDIRFUNC)) {
    use_shim_dirs(pglob, glob_readdir);
    pglob->gl_lstat = lstat;
    pglob->gl_stat = stat;
    flags |= GLOB_ALTDIRFUNC;
  }
  return real_glob.get()(pattern, flags, errfunc, pglob);
}
VRIFT_EXPORT int glob64(const char* pattern, int flags, GlobErr errfunc, glob64_t* pglob) {
  if (active() && pglob && !(flags & GLOB_ALTDIRFUNC)) {
    use_shim_dirs(pglob, glob_readdir64);
    pglob->gl_lstat = lstat64;
    pglob->gl_stat = stat64;
    flags |= GLOB_ALTDIRFUNC;
  }
  return real_glob64.get()(pattern, flags, errfunc, pglob);
}
VRIFT_EXPORT ssize_t getdents64(int fd, void* buf, size_t n) { return op_getdents64(fd, buf, n); }

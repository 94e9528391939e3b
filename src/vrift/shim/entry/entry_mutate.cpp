// Changes to the tree by path, before the write path exists (docs/shim.md, "Changes to projected
// entries"). The kernel sees only a projection's physical side: a phantom projection keeps just
// its directories there, a solid one also the user's files. Left to the kernel, some changes go
// wrong without a word: a rename or a new file onto a phantom file's path makes a physical file
// that its VDir entry shadows, so what was written is never read; an rmdir of a skeleton
// directory whose projected children remain succeeds, and leaves a directory that stat shows
// and opendir cannot open; an unlink of a phantom file fails with ENOENT, which `rm -f` takes
// as done. Until staging and commit turn changes into daemon mutations:
//   - a phantom file or symlink (none on disk) cannot be removed, renamed, replaced, truncated
//     or have its mode, owner or times changed: EROFS, as the descriptor forms on a projected
//     file (entry_fdmeta.cpp); a hard link of one is EXDEV, on which copying tools fall back to
//     reading and writing, which works;
//   - a projected directory cannot be removed (ENOTEMPTY while its listing has entries, what
//     the program sees; else EROFS), renamed or replaced (EROFS): its VDir entries would stay;
//   - creating at a projected path (mkdir, mknod, mkfifo, symlink, link) is EEXIST;
//   - a solid projection's file is the user's own: those calls reach it (the VDir keeps the
//     manifest's view until the next run, as for writes through open).
// A path outside every projection, or one the VDir does not know (what the program made), goes
// to the real libc function unchanged.
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>
#include <utime.h>

#include "vrift/shim/core/dirstream.h"
#include "vrift/shim/core/lookup.h"
#include "vrift/shim/core/state.h"
#include "vrift/shim/entry/ops.h"
#include "vrift/shim/entry/real.h"
#include "vrift/util/raw_syscall.h"

#define VRIFT_EXPORT extern "C" __attribute__((visibility("default")))

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

namespace vrift::shim {
namespace {

VRIFT_REAL(unlink, int(const char*));
VRIFT_REAL(unlinkat, int(int, const char*, int));
VRIFT_REAL(rmdir, int(const char*));
VRIFT_REAL(remove, int(const char*));
VRIFT_REAL(rename, int(const char*, const char*));
VRIFT_REAL(renameat, int(int, const char*, int, const char*));
VRIFT_REAL(renameat2, int(int, const char*, int, const char*, unsigned));
VRIFT_REAL(link, int(const char*, const char*));
VRIFT_REAL(linkat, int(int, const char*, int, const char*, int));
VRIFT_REAL(symlink, int(const char*, const char*));
VRIFT_REAL(symlinkat, int(const char*, int, const char*));
VRIFT_REAL(mkdir, int(const char*, mode_t));
VRIFT_REAL(mkdirat, int(int, const char*, mode_t));
VRIFT_REAL(mknod, int(const char*, mode_t, dev_t));
VRIFT_REAL(mknodat, int(int, const char*, mode_t, dev_t));
VRIFT_REAL(mkfifo, int(const char*, mode_t));
VRIFT_REAL(mkfifoat, int(int, const char*, mode_t));
VRIFT_REAL(truncate, int(const char*, off_t));
VRIFT_REAL(truncate64, int(const char*, off64_t));
VRIFT_REAL(chmod, int(const char*, mode_t));
VRIFT_REAL(fchmodat, int(int, const char*, mode_t, int));
VRIFT_REAL(chown, int(const char*, uid_t, gid_t));
VRIFT_REAL(lchown, int(const char*, uid_t, gid_t));
VRIFT_REAL(utime, int(const char*, const struct utimbuf*));
VRIFT_REAL(utimes, int(const char*, const struct timeval[2]));
VRIFT_REAL(lutimes, int(const char*, const struct timeval[2]));

// What a changing call meets at (DIRFD, PATH) (FOLLOW: through a final symlink).
enum class Meets {
  kKernel,  ///< not projected, or a solid projection's file: the real function decides
  kPhantom, ///< a projected file or symlink that is not on disk
  kDir,     ///< a projected directory (its skeleton is on disk)
};

// The quick test every entry point makes first (the ~20 ns promise for paths outside): the
// lookups below, with their large scratch buffers, run only when it passes, out of line.
inline bool may_be_projected(int dirfd, const char* path) {
  return path && active() && !surely_outside(dirfd, path);
}

Meets meets(int dirfd, const char* path, bool follow, Scratch* s, Lookup* l) {
  if (!may_be_projected(dirfd, path)) return Meets::kKernel;
  const int saved = errno;
  *l = lookup(dirfd, path, follow, s);
  Meets m = Meets::kKernel;
  if (l->res == Res::kHit) {
    struct stat st;
    if (is_dir(l->st))
      m = Meets::kDir;
    else if (sys::call6(SYS_newfstatat, AT_FDCWD, sys::arg(s->a.s), sys::arg(&st),
                        AT_SYMLINK_NOFOLLOW) == -ENOENT)
      m = Meets::kPhantom;
  }
  errno = saved;
  return m;
}

__attribute__((noinline)) Meets meets_slow(int dirfd, const char* path, bool follow) {
  Scratch s;
  Lookup l;
  return meets(dirfd, path, follow, &s, &l);
}
inline Meets meets(int dirfd, const char* path, bool follow) {
  return may_be_projected(dirfd, path) ? meets_slow(dirfd, path, follow) : Meets::kKernel;
}

// Whether the projected directory L (S->a its absolute path) lists anything but "." and "..",
// as the program would see it: the manifest's children still live, and what is on disk.
bool lists_entries(const Lookup& l, const Scratch& s) {
  const int fd = static_cast<int>(
      sys::call6(SYS_openat, AT_FDCWD, sys::arg(s.a.s), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd < 0) return false; // the kernel will say why
  bool any = false;
  const int idx = dirstream_open(fd, l.proj, l.rel, l.rel_len, l.st);
  if (idx >= 0) {
    while (const struct dirent64* d = dirstream_next(idx)) {
      const char* n = d->d_name;
      if (!(n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0')))) {
        any = true;
        break;
      }
    }
    dirstream_release_index(idx);
  }
  sys::call6(SYS_close, fd);
  return any;
}

// rmdir's rule for (DIRFD, PATH): 0 to let the kernel remove it, else the errno to fail with:
// a projected directory stays (ENOTEMPTY while it lists entries, else EROFS).
__attribute__((noinline)) int rmdir_refusal_slow(int dirfd, const char* path) {
  Scratch s;
  Lookup l;
  switch (meets(dirfd, path, false, &s, &l)) {
  case Meets::kKernel:
    return 0;
  case Meets::kPhantom:
    return ENOTDIR;
  case Meets::kDir:
    break;
  }
  // Even an empty one keeps its VDir entry, which removing the skeleton would leave behind.
  const int saved = errno;
  const bool busy = lists_entries(l, s);
  errno = saved;
  return busy ? ENOTEMPTY : EROFS;
}
inline int rmdir_refusal(int dirfd, const char* path) {
  return may_be_projected(dirfd, path) ? rmdir_refusal_slow(dirfd, path) : 0;
}

} // namespace

__attribute__((noinline)) bool projected(int dirfd, const char* path, bool follow) {
  if (!may_be_projected(dirfd, path)) return false;
  const int saved = errno;
  Scratch s;
  const Lookup l = lookup(dirfd, path, follow, &s);
  errno = saved;
  return l.res == Res::kHit;
}

bool phantom(int dirfd, const char* path, bool follow) {
  return meets(dirfd, path, follow) == Meets::kPhantom;
}

} // namespace vrift::shim

using namespace vrift::shim;
namespace sys = vrift::sys;

// --- removing and renaming ------------------------------------------------------------------
VRIFT_EXPORT int unlink(const char* path) {
  if (meets(AT_FDCWD, path, false) == Meets::kPhantom) return fail(EROFS);
  return real_unlink.get()(path);
}
VRIFT_EXPORT int rmdir(const char* path) {
  if (const int e = rmdir_refusal(AT_FDCWD, path)) return fail(e);
  return real_rmdir.get()(path);
}
VRIFT_EXPORT int unlinkat(int dirfd, const char* path, int flags) {
  if (flags & AT_REMOVEDIR) {
    if (const int e = rmdir_refusal(dirfd, path)) return fail(e);
  } else if (meets(dirfd, path, false) == Meets::kPhantom) {
    return fail(EROFS);
  }
  return real_unlinkat.get()(dirfd, path, flags);
}
VRIFT_EXPORT int remove(const char* path) {
  const Meets m = meets(AT_FDCWD, path, false);
  if (m == Meets::kPhantom) return fail(EROFS);
  if (m == Meets::kDir) {
    if (const int e = rmdir_refusal(AT_FDCWD, path)) return fail(e);
  }
  return real_remove.get()(path);
}
// The source and the target both count: a phantom or directory source would leave its VDir
// entries behind; a phantom or directory target would be shadowed or hide its entries.
static int rename_refusal(int fromfd, const char* from, int tofd, const char* to, unsigned flags) {
  if (meets(fromfd, from, false) != Meets::kKernel) return EROFS;
  if (meets(tofd, to, false) != Meets::kKernel) return (flags & RENAME_NOREPLACE) ? EEXIST : EROFS;
  return 0;
}
VRIFT_EXPORT int rename(const char* from, const char* to) {
  if (const int e = rename_refusal(AT_FDCWD, from, AT_FDCWD, to, 0)) return fail(e);
  return real_rename.get()(from, to);
}
VRIFT_EXPORT int renameat(int fromfd, const char* from, int tofd, const char* to) {
  if (const int e = rename_refusal(fromfd, from, tofd, to, 0)) return fail(e);
  return real_renameat.get()(fromfd, from, tofd, to);
}
VRIFT_EXPORT int renameat2(int fromfd, const char* from, int tofd, const char* to, unsigned flags) {
  if (const int e = rename_refusal(fromfd, from, tofd, to, flags)) return fail(e);
  return real_renameat2.get()(fromfd, from, tofd, to, flags);
}

// --- creating at a path -----------------------------------------------------------------------
VRIFT_EXPORT int link(const char* from, const char* to) {
  if (projected(AT_FDCWD, to, false)) return fail(EEXIST);
  if (meets(AT_FDCWD, from, false) == Meets::kPhantom) return fail(EXDEV);
  return real_link.get()(from, to);
}
VRIFT_EXPORT int linkat(int fromfd, const char* from, int tofd, const char* to, int flags) {
  if (projected(tofd, to, false)) return fail(EEXIST);
  if (meets(fromfd, from, (flags & AT_SYMLINK_FOLLOW) != 0) == Meets::kPhantom) return fail(EXDEV);
  return real_linkat.get()(fromfd, from, tofd, to, flags);
}
VRIFT_EXPORT int symlink(const char* target, const char* path) {
  if (projected(AT_FDCWD, path, false)) return fail(EEXIST);
  return real_symlink.get()(target, path);
}
VRIFT_EXPORT int symlinkat(const char* target, int dirfd, const char* path) {
  if (projected(dirfd, path, false)) return fail(EEXIST);
  return real_symlinkat.get()(target, dirfd, path);
}
VRIFT_EXPORT int mkdir(const char* path, mode_t mode) {
  if (projected(AT_FDCWD, path, false)) return fail(EEXIST);
  return real_mkdir.get()(path, mode);
}
VRIFT_EXPORT int mkdirat(int dirfd, const char* path, mode_t mode) {
  if (projected(dirfd, path, false)) return fail(EEXIST);
  return real_mkdirat.get()(dirfd, path, mode);
}
VRIFT_EXPORT int mknod(const char* path, mode_t mode, dev_t dev) {
  if (projected(AT_FDCWD, path, false)) return fail(EEXIST);
  return real_mknod.get()(path, mode, dev);
}
VRIFT_EXPORT int mknodat(int dirfd, const char* path, mode_t mode, dev_t dev) {
  if (projected(dirfd, path, false)) return fail(EEXIST);
  return real_mknodat.get()(dirfd, path, mode, dev);
}
VRIFT_EXPORT int mkfifo(const char* path, mode_t mode) {
  if (projected(AT_FDCWD, path, false)) return fail(EEXIST);
  return real_mkfifo.get()(path, mode);
}
VRIFT_EXPORT int mkfifoat(int dirfd, const char* path, mode_t mode) {
  if (projected(dirfd, path, false)) return fail(EEXIST);
  return real_mkfifoat.get()(dirfd, path, mode);
}

// --- size, mode, owner and times by path --------------------------------------------------------
VRIFT_EXPORT int truncate(const char* path, off_t len) {
  if (meets(AT_FDCWD, path, true) == Meets::kPhantom) return fail(EROFS);
  return real_truncate.get()(path, len);
}
VRIFT_EXPORT int truncate64(const char* path, off64_t len) {
  if (meets(AT_FDCWD, path, true) == Meets::kPhantom) return fail(EROFS);
  return real_truncate64.get()(path, len);
}
VRIFT_EXPORT int chmod(const char* path, mode_t mode) {
  if (meets(AT_FDCWD, path, true) == Meets::kPhantom) return fail(EROFS);
  return real_chmod.get()(path, mode);
}
VRIFT_EXPORT int fchmodat(int dirfd, const char* path, mode_t mode, int flags) {
  if (meets(dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW)) == Meets::kPhantom) return fail(EROFS);
  return real_fchmodat.get()(dirfd, path, mode, flags);
}
VRIFT_EXPORT int chown(const char* path, uid_t uid, gid_t gid) {
  if (meets(AT_FDCWD, path, true) == Meets::kPhantom) return fail(EROFS);
  return real_chown.get()(path, uid, gid);
}
VRIFT_EXPORT int lchown(const char* path, uid_t uid, gid_t gid) {
  if (meets(AT_FDCWD, path, false) == Meets::kPhantom) return fail(EROFS);
  return real_lchown.get()(path, uid, gid);
}
VRIFT_EXPORT int utime(const char* path, const struct utimbuf* times) {
  if (meets(AT_FDCWD, path, true) == Meets::kPhantom) return fail(EROFS);
  return real_utime.get()(path, times);
}
VRIFT_EXPORT int utimes(const char* path, const struct timeval times[2]) {
  if (meets(AT_FDCWD, path, true) == Meets::kPhantom) return fail(EROFS);
  return real_utimes.get()(path, times);
}
VRIFT_EXPORT int lutimes(const char* path, const struct timeval times[2]) {
  if (meets(AT_FDCWD, path, false) == Meets::kPhantom) return fail(EROFS);
  return real_lutimes.get()(path, times);
}

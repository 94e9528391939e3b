// Opening files (LESSONS 4 and 5): the open family, creat and stdio's fopen/freopen (which open
// inside libc, past any open hook). A projected regular file opened for reading becomes the
// blob's own descriptor, remembered so that fstat answers with the projected metadata; read,
// pread, mmap and lseek then need nothing from the shim. A projected directory opens its
// physical skeleton, remembered so that *at calls relative to it resolve in the projection.
// Until the write path (staging, commit: docs/shim.md, "Not yet"), opening a projected file for
// writing reaches the physical file only where one exists (a solid projection's, the user's
// own), which is marked stale first, so that the session reads it from the disk from then on; a
// phantom file has none, and one created there would be shadowed by its VDir entry, so that
// what is written would never be read: that open fails with EROFS instead.
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <cstring>

#include "vrift/shim/core/fdtab.h"
#include "vrift/shim/core/lookup.h"
#include "vrift/shim/entry/ops.h"
#include "vrift/shim/entry/real.h"
#include "vrift/util/raw_syscall.h"

#define VRIFT_EXPORT extern "C" __attribute__((visibility("default")))

namespace vrift::shim {
namespace {

using OpenAtFn = int(int, const char*, int, ...);
using FopenFn = FILE*(const char*, const char*);
using FreopenFn = FILE*(const char*, const char*, FILE*);
using FcloseFn = int(FILE*);
VRIFT_REAL(openat, OpenAtFn);
VRIFT_REAL(fopen, FopenFn);
VRIFT_REAL(freopen, FreopenFn);
VRIFT_REAL(fclose, FcloseFn);

bool is_type(const vdir::VdirStat& st, uint32_t t) { return (st.mode & vdir::kModeTypeMask) == t; }

// A projected directory's skeleton, or a file read from somewhere other than its blob (the
// physical file of a solid projection whose blob is gone): remembered with the inode it is.
void remember(int fd, const Lookup& l, bool dir) {
  struct stat rs;
  if (sys::failed(sys::call6(SYS_fstat, fd, sys::arg(&rs)))) return;
  if (dir)
    fd_set_dir(fd, l.proj, l.rel, l.rel_len, l.st, rs.st_dev, rs.st_ino);
  else
    fd_set_file(fd, l.proj, l.st, rs.st_dev, rs.st_ino);
}

// fopen's MODE as open flags ("r", "w", "a", then '+' and 'x' among the letters before a ',').
int fopen_flags(const char* mode) {
  int acc = mode[0] == 'r' ? O_RDONLY : O_WRONLY;
  int f = mode[0] == 'w' ? O_CREAT | O_TRUNC : mode[0] == 'a' ? O_CREAT | O_APPEND : 0;
  for (const char* p = mode; *p && *p != ','; ++p) {
    if (*p == '+') acc = O_RDWR;
    if (*p == 'x') f |= O_EXCL;
  }
  return acc | f;
}

// A blob just opened (PATH_ONLY: with O_PATH): its inode is learnt when a change through the
// descriptor first asks the kernel whether it is the blob (fdtab.h).
void remember_blob(int fd, const Lookup& l, bool path_only = false) {
  fd_set_file(fd, l.proj, l.st, 0, 0, path_only);
}

// A stream libc opened for something not projected: an entry its number still has (closed
// where the shim did not see) is forgotten, as op_openat forgets it.
FILE* untracked(FILE* f) {
  if (f && fd_kind(fileno_unlocked(f)) != kFdNone) fd_clear(fileno_unlocked(f));
  return f;
}

// What an open of a projected path does, decided from the lookup.
enum class Plan { kReal, kFail, kBlob, kDir, kPhysical, kWrite };

Plan plan_open(const Lookup& l, int flags, int* err) {
  if (l.res == Res::kReal) return Plan::kReal;
  if (l.res == Res::kError) {
    *err = l.err;
    return Plan::kFail;
  }
  const int acc = flags & O_ACCMODE;
  if ((flags & O_CREAT) && (flags & O_EXCL)) {
    *err = EEXIST;
    return Plan::kFail;
  }
  if (is_type(l.st, vdir::kModeLink)) { // only met with O_NOFOLLOW
    if (flags & O_PATH) return Plan::kPhysical;
    *err = (flags & O_DIRECTORY) ? ENOTDIR : ELOOP; // the kernel's order
    return Plan::kFail;
  }
  if (is_type(l.st, vdir::kModeDir)) {
    // An unnamed temp file in the directory: the kernel makes it in the physical skeleton.
    if ((flags & O_TMPFILE) == O_TMPFILE) return Plan::kPhysical;
    if (acc != O_RDONLY || (flags & (O_TRUNC | O_CREAT)) == O_TRUNC) {
      *err = EISDIR;
      return Plan::kFail;
    }
    return Plan::kDir;
  }
  if (flags & O_DIRECTORY) {
    *err = ENOTDIR;
    return Plan::kFail;
  }
  if (acc != O_RDONLY || (flags & O_TRUNC)) return Plan::kWrite; // the write path: not yet
  return Plan::kBlob;
}

// A path in a projected directory that is not projected is opened without following a final
// symlink (the same answer for anything else, in the same one system call): a symlink there is
// one the program made, and its target may be projected, which the kernel cannot see; the shim
// follows it (link_in_projection) and opens the target through the projection.
__attribute__((noinline)) int open_slow(int dirfd, const char* path, int flags, mode_t mode) {
  const int saved = errno;
  Scratch s;
  PathBuf hop;
  // O_CREAT|O_EXCL never follows a final symlink: an existing (even dangling) one is EEXIST.
  const bool excl = (flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL);
  const bool follow = !(flags & O_NOFOLLOW) && !excl;
  const bool writing = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
  Lookup l = lookup(dirfd, path, follow, &s);
  for (int hops = 0; l.res == Res::kReal && l.inside_miss && follow && !(flags & O_PATH) &&
                     hops < kMaxPhysicalHops;
       ++hops) {
    if (writing)
      if (const int e = unshare_stale(flags, &s)) return fail(e);
    const int fd = real_openat.get()(l.real_dirfd, l.real_path, flags | O_NOFOLLOW, mode);
    if (fd >= 0) {
      errno = saved;
      return fd;
    }
    if (errno != ELOOP) return -1;
    if (!link_in_projection(&s, &hop)) {
      // Not a final symlink (the ELOOP came from a link on the way): the kernel's own answer.
      errno = saved;
      return real_openat.get()(l.real_dirfd, l.real_path, flags, mode);
    }
    errno = saved;
    l = lookup(AT_FDCWD, hop.s, follow, &s);
  }
  int err = 0;
  switch (plan_open(l, flags, &err)) {
  case Plan::kReal:
    // (O_EXCL: an existing file is EEXIST, and must not be copied over first.)
    if (writing && l.inside_miss && !(flags & (O_PATH | O_EXCL)))
      if (const int e = unshare_stale(flags, &s)) return fail(e);
    return real_openat.get()(l.real_dirfd, l.real_path, flags, mode);
  case Plan::kFail:
    return fail(err);
  case Plan::kPhysical:
    return real_openat.get()(AT_FDCWD, s.a.s, flags, mode);
  case Plan::kWrite: {
    // A solid projection's file is claimed and written; none on disk (phantom): EROFS. Claimed,
    // the disk answers for the path, so it may be created again if it went meanwhile; without a
    // stale map (an older daemon) it never is: the VDir entry would shadow it.
    int e = 0;
    const Claim c = claim_on_disk(l, &s, flags, &e);
    if (c == Claim::kPhantom) return fail(EROFS);
    if (e) return fail(e);
    const int fd =
        real_openat.get()(AT_FDCWD, s.a.s, c == Claim::kClaimed ? flags : flags & ~O_CREAT, mode);
    if (fd >= 0 || errno != ENOENT) return fd;
    return fail(EROFS);
  }
  case Plan::kDir: {
    const int fd = real_openat.get()(AT_FDCWD, s.a.s, flags, mode);
    if (fd >= 0) remember(fd, l, true);
    return fd;
  }
  case Plan::kBlob:
    break;
  }
  if (!blob_path(l.st.blob_hash, l.st.size, &s.b)) return fail(ENAMETOOLONG);
  const int bflags = flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOFOLLOW | O_DIRECTORY | O_NOCTTY);
  int fd = real_openat.get()(AT_FDCWD, s.b.s, bflags, 0);
  if (fd < 0) {
    // The blob is gone (a damaged store): a solid projection still has the physical file.
    log3("cannot open the blob for ", s.a.s, "; trying the physical file");
    errno = saved;
    fd = real_openat.get()(AT_FDCWD, s.a.s, flags, mode);
    if (fd < 0) return fail(EIO);
    remember(fd, l, false);
    errno = saved;
    return fd;
  }
  remember_blob(fd, l, (flags & O_PATH) != 0);
  errno = saved;
  return fd;
}

bool read_only_mode(const char* mode) {
  if (!mode || mode[0] != 'r') return false;
  for (const char* m = mode; *m && *m != ','; ++m)
    if (*m == '+') return false;
  return true;
}

// fopen/freopen of PATH for reading: *OUT_PATH is what the real function should open (the
// blob, the physical path, or PATH itself); returns false (errno set) when it must fail.
// *LOOKUP_OUT says whether the result is a projected file to remember.
bool plan_fopen(const char* path, Scratch* s, Lookup* lk, const char** out_path, bool* blob) {
  *blob = false;
  *out_path = path;
  *lk = lookup(AT_FDCWD, path, true, s);
  if (lk->res == Res::kReal) {
    *out_path = lk->real_path;
    return true;
  }
  if (lk->res == Res::kError) {
    errno = lk->err;
    return false;
  }
  if (!is_type(lk->st, vdir::kModeReg)) {
    *out_path = s->a.s;
    return true;
  }
  if (!blob_path(lk->st.blob_hash, lk->st.size, &s->b)) {
    errno = ENAMETOOLONG;
    return false;
  }
  *out_path = s->b.s;
  *blob = true;
  return true;
}

// fopen (STREAM null) or freopen of PATH for reading.
__attribute__((noinline)) FILE* fopen_read_slow(const char* path, const char* mode, FILE* stream) {
  const int saved = errno;
  Scratch s;
  Lookup l;
  const char* p;
  bool blob;
  if (!plan_fopen(path, &s, &l, &p, &blob)) return nullptr;
  FILE* f = stream ? real_freopen.get()(p, mode, stream) : real_fopen.get()(p, mode);
  if (f && blob) {
    remember_blob(fileno(f), l);
    errno = saved;
    return f;
  }
  return untracked(f);
}

// fopen/freopen for writing (any mode but "r" without "+"): open's rules, with libc opening the
// path they settle on. A symlink the program made is followed through the projection as open
// follows it; a projected directory is EISDIR, a path the projection says is wrong fails with
// its error, and a projected regular file without a physical one (phantom) with EROFS. (A
// projected file's descriptor named through /proc/self/fd is refused by fopen and freopen
// before they come here: it is the shared blob.)
bool plan_fopen_write(const char* path, int flags, Scratch* s, PathBuf* hop,
                      const char** out_path) {
  *out_path = path;
  Lookup l = lookup(AT_FDCWD, path, true, s);
  for (int hops = 0; l.res == Res::kReal && l.inside_miss && hops < kMaxPhysicalHops; ++hops) {
    if (!link_in_projection(s, hop)) break; // not a link the program made: the kernel's
    l = lookup(AT_FDCWD, hop->s, true, s);
  }
  if (l.res == Res::kReal) {
    *out_path = l.real_path;
    if (const int e = l.inside_miss && !(flags & O_EXCL) ? unshare_stale(flags, s) : 0) {
      errno = e;
      return false;
    }
    return true;
  }
  if (l.res == Res::kError || is_type(l.st, vdir::kModeDir)) {
    errno = l.res == Res::kError ? l.err : EISDIR;
    return false;
  }
  if (!is_type(l.st, vdir::kModeReg)) return true; // libc's own answer
  // "x": it exists (what libc would find): nothing to claim or copy.
  int e = (flags & O_EXCL) ? EEXIST : 0;
  if (!e && claim_on_disk(l, s, flags, &e) == Claim::kPhantom) e = EROFS;
  if (e) {
    errno = e;
    return false;
  }
  *out_path = s->a.s;
  return true;
}

// fopen (STREAM null) or freopen of PATH with a writing MODE.
__attribute__((noinline)) FILE* fopen_write_slow(const char* path, const char* mode, FILE* stream) {
  const int saved = errno;
  Scratch s;
  PathBuf hop;
  const char* p;
  if (!plan_fopen_write(path, fopen_flags(mode), &s, &hop, &p)) return nullptr;
  errno = saved;
  return untracked(stream ? real_freopen.get()(p, mode, stream) : real_fopen.get()(p, mode));
}

FILE* fail_null(int e) {
  errno = e;
  return nullptr;
}

mode_t mode_arg(int flags, va_list ap) {
  // LESSONS 4: the mode exists only with O_CREAT or O_TMPFILE.
  return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, mode_t) : 0;
}

} // namespace

int op_openat(int dirfd, const char* path, int flags, mode_t mode) {
  // A projected file's descriptor reopened for writing through /proc/self/fd or /dev/fd would
  // write the shared blob (root ignores its 0444).
  if (__builtin_expect((flags & (O_ACCMODE | O_TRUNC)) != 0, 0) && blob_fd_path(path))
    return fail(EROFS);
  if (!path || !active() || surely_outside(dirfd, path)) {
    const int fd = real_openat.get()(dirfd, path, flags, mode);
    if (fd >= 0 && active()) {
      if ((flags & O_DIRECTORY) && outside_with_nothing_below(path))
        fd_set_outside_dir(fd);
      else if (fd_kind(fd) != kFdNone)
        fd_clear(fd); // closed behind our back (fclose, closedir of libc's own) and reused
    }
    return fd;
  }
  return open_slow(dirfd, path, flags, mode);
}

} // namespace vrift::shim

using namespace vrift::shim;

VRIFT_EXPORT int open(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  return op_openat(AT_FDCWD, path, flags, mode);
}
VRIFT_EXPORT int open64(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  return op_openat(AT_FDCWD, path, flags, mode);
}
VRIFT_EXPORT int openat(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  return op_openat(dirfd, path, flags, mode);
}
VRIFT_EXPORT int openat64(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  return op_openat(dirfd, path, flags, mode);
}
// _FORTIFY_SOURCE forms: no mode argument (the compiler proved O_CREAT absent).
VRIFT_EXPORT int __open_2(const char* path, int flags) {
  return op_openat(AT_FDCWD, path, flags, 0);
}
VRIFT_EXPORT int __open64_2(const char* path, int flags) {
  return op_openat(AT_FDCWD, path, flags, 0);
}
VRIFT_EXPORT int __openat_2(int dirfd, const char* path, int flags) {
  return op_openat(dirfd, path, flags, 0);
}
VRIFT_EXPORT int __openat64_2(int dirfd, const char* path, int flags) {
  return op_openat(dirfd, path, flags, 0);
}
VRIFT_EXPORT int creat(const char* path, mode_t mode) {
  return op_openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}
VRIFT_EXPORT int creat64(const char* path, mode_t mode) {
  return op_openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

VRIFT_EXPORT FILE* fopen(const char* path, const char* mode) {
  if (!path || !active()) return real_fopen.get()(path, mode);
  const bool writing = !read_only_mode(mode);
  if (writing && blob_fd_path(path)) return fail_null(EROFS);
  if (surely_outside(AT_FDCWD, path)) return untracked(real_fopen.get()(path, mode));
  return writing ? fopen_write_slow(path, mode, nullptr) : fopen_read_slow(path, mode, nullptr);
}
VRIFT_EXPORT FILE* fopen64(const char* path, const char* mode) { return fopen(path, mode); }
// freopen closes the stream's descriptor inside libc: a projected file's entry goes first (the
// new file usually gets the same number).
VRIFT_EXPORT FILE* freopen(const char* path, const char* mode, FILE* stream) {
  if (stream && active()) forget_fd(fileno_unlocked(stream));
  if (!path || !active()) return real_freopen.get()(path, mode, stream);
  const bool writing = !read_only_mode(mode);
  if (writing && blob_fd_path(path)) return fail_null(EROFS);
  if (surely_outside(AT_FDCWD, path)) return untracked(real_freopen.get()(path, mode, stream));
  return writing ? fopen_write_slow(path, mode, stream) : fopen_read_slow(path, mode, stream);
}
VRIFT_EXPORT FILE* freopen64(const char* path, const char* mode, FILE* stream) {
  return freopen(path, mode, stream);
}
// fclose closes the stream's descriptor inside libc, past the close hook: a projected file's
// entry goes first, so that whatever gets the number next is not taken for the blob.
VRIFT_EXPORT int fclose(FILE* stream) {
  if (stream && active()) forget_fd(fileno_unlocked(stream));
  return real_fclose.get()(stream);
}

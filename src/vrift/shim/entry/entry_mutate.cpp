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
//   - a projected directory cannot be renamed or replaced (EROFS): its VDir entries would stay;
//     it can be removed once its listing is empty (else ENOTEMPTY, what the program sees), and
//     is marked stale then (below);
//   - creating at a projected path (mkdir, mknod, mkfifo, symlink, link) is EEXIST;
//   - a solid projection's file is the user's own: those calls reach it, and it is marked stale
//     first (claim_on_disk), so that every process of the session asks the disk about it from
//     then on: a build that removes and rewrites its outputs, or a program that writes a file
//     and reads it back, sees what it did.
// A path outside every projection, or one the VDir does not know (what the program made), goes
// to the real libc function unchanged.
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>
#include <utime.h>

#include <cstring>

#include "vrift/shim/core/dirstream.h"
#include "vrift/shim/core/lookup.h"
#include "vrift/shim/core/state.h"
#include "vrift/shim/core/str.h"
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
  kError,   ///< the projection says the path is wrong (ENOTDIR: "file/", ELOOP): fail with it
};

// The quick test every entry point makes first (the ~20 ns promise for paths outside): the
// lookups below, with their large scratch buffers, run only when it passes, out of line.
// (PATH passes through opaque(): glibc declares these arguments nonnull, and once this test is
// inlined into an entry point the compiler would drop it; a null path must reach the kernel and
// give EFAULT.)
inline bool may_be_projected(int dirfd, const char* path) {
  path = opaque(path);
  return path && active() && !surely_outside(dirfd, path);
}

// WRITE_FLAGS (>= 0): the change rewrites the file's bytes as an open with these flags would
// (truncate), so a solid file that is still its blob's inode gets one of its own first, and a
// refusal of that (the kernel's answer: EACCES, ETXTBSY) goes to *CLAIM_ERR, with kKernel.
Meets meets(int dirfd, const char* path, bool follow, Scratch* s, Lookup* l, int write_flags = -1,
            int* claim_err = nullptr) {
  if (!may_be_projected(dirfd, path)) return Meets::kKernel;
  const int saved = errno;
  *l = lookup(dirfd, path, follow, s);
  Meets m = Meets::kKernel;
  // An entry marked stale before (a chmod, an earlier write) is the disk's now, and may still be
  // its blob's inode.
  if (write_flags >= 0 && l->res == Res::kReal && l->inside_miss) {
    if (const int e = unshare_stale(write_flags, s); e && claim_err) *claim_err = e;
  }
  // A deleted entry (ENOENT) is the kernel's to answer; any other error is the projection's
  // answer, which the kernel, seeing only the skeleton, would get wrong ("d/file/" is ENOTDIR,
  // and mkdir of it would make a directory the file's entry hides).
  if (l->res == Res::kError && l->err != ENOENT) m = Meets::kError;
  // A file or symlink on disk is claimed here: every caller changes it next.
  if (l->res == Res::kHit) {
    if (is_dir(l->st))
      m = Meets::kDir;
    else if (claim_on_disk(*l, s, write_flags, claim_err) == Claim::kPhantom)
      m = Meets::kPhantom;
  }
  errno = saved;
  return m;
}

__attribute__((noinline)) Meets meets_slow(int dirfd, const char* path, bool follow, int* err,
                                           int write_flags, int* claim_err) {
  Scratch s;
  Lookup l;
  const Meets m = meets(dirfd, path, follow, &s, &l, write_flags, claim_err);
  *err = l.err;
  return m;
}

// What a change to (DIRFD, PATH) that needs the entry to exist (remove, truncate, chmod, ...)
// must fail with, or 0 for the real function: EROFS for a phantom file (DIR_TOO: a directory
// too), the projection's error, or, for a path that names a projected file's descriptor through
// /proc/self/fd or /dev/fd (that descriptor is the shared blob's), EROFS as well.
// WRITE_FLAGS: as meets() has them (truncate).
int change_refusal(int dirfd, const char* path, bool follow, bool dir_too = false,
                   int write_flags = -1) {
  if (blob_fd_path(path)) return EROFS;
  if (!may_be_projected(dirfd, path)) return 0;
  int err = 0, claim_err = 0;
  switch (meets_slow(dirfd, path, follow, &err, write_flags, &claim_err)) {
  case Meets::kKernel:
    return claim_err;
  case Meets::kPhantom:
    return EROFS;
  case Meets::kDir:
    return dir_too ? EROFS : 0;
  case Meets::kError:
    return err;
  }
  return 0;
}

// Whether the projected directory L (S->a its absolute path) lists anything but "." and "..",
// as the program would see it: the manifest's children still live, and what is on disk. When it
// cannot be listed, it is taken to list something (it then stays).
bool lists_entries(const Lookup& l, const Scratch& s) {
  const int fd = static_cast<int>(
      sys::call6(SYS_openat, AT_FDCWD, sys::arg(s.a.s), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd < 0) return true;
  bool any = true;
  const int idx = dirstream_open(fd, l.proj, l.rel, l.rel_len, l.st);
  if (idx >= 0) {
    any = false;
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
// a projected directory that lists entries stays (ENOTEMPTY); an empty one is marked stale and
// removed (without a stale map its VDir entry would stay: EROFS).
__attribute__((noinline)) int rmdir_refusal_slow(int dirfd, const char* path) {
  Scratch s;
  Lookup l;
  switch (meets(dirfd, path, false, &s, &l)) {
  case Meets::kKernel:
    return 0;
  case Meets::kPhantom:
    return ENOTDIR;
  case Meets::kError:
    return l.err;
  case Meets::kDir:
    break;
  }
  const int saved = errno;
  const bool busy = lists_entries(l, s);
  errno = saved;
  if (busy) return ENOTEMPTY; // (or it could not be listed: it stays)
  return g_state.proj[l.proj].reader.mark_stale(l.rel, l.rel_len) ? 0 : EROFS;
}
inline int rmdir_refusal(int dirfd, const char* path) {
  return may_be_projected(dirfd, path) ? rmdir_refusal_slow(dirfd, path) : 0;
}

__attribute__((noinline)) int create_refusal_slow(int dirfd, const char* path) {
  const int saved = errno;
  Scratch s;
  const Lookup l = lookup(dirfd, path, false, &s);
  errno = saved;
  if (l.res == Res::kHit) return EEXIST;
  if (l.res != Res::kError || l.err == ENOENT) return 0;
  // "d/file/" is ENOTDIR to the lookup; the kernel says EEXIST when the name without its
  // trailing slashes exists (and ENOTDIR for "d/file/x").
  if (l.err == ENOTDIR) {
    PathBuf name;
    name.len = 0;
    const size_t full = slen(path);
    size_t n = full;
    while (n > 1 && path[n - 1] == '/')
      --n;
    if (n < full && append(name.s, &name.len, kPathMax, path, n)) {
      const Lookup again = lookup(dirfd, name.s, false, &s);
      errno = saved;
      if (again.res == Res::kHit) return EEXIST;
    }
  }
  return l.err;
}

int create_refusal(int dirfd, const char* path) {
  return may_be_projected(dirfd, path) ? create_refusal_slow(dirfd, path) : 0;
}

// Copies the file at ABS_PATH (its stat US) to TMP beside it and renames the copy over it: the
// bytes unless TRUNCATING, then owner, mode and times. Best effort: on any failure the copy is
// removed and the file left as it was (written in place then, as before the copy existed).
void copy_over(const char* abs_path, const struct stat& us, bool truncating, PathBuf* tmp) {
  char pid[24];
  const uint32_t plen = u64_dec(static_cast<uint64_t>(sys::call6(SYS_getpid)), pid);
  tmp->len = 0;
  if (!append(tmp->s, &tmp->len, kPathMax, abs_path, slen(abs_path)) ||
      !append(tmp->s, &tmp->len, kPathMax, ".vrift-cow.", 11) ||
      !append(tmp->s, &tmp->len, kPathMax, pid, plen))
    return;
  long out = -EEXIST;
  for (int tries = 0; out == -EEXIST && tries < 2; ++tries) {
    if (tries) sys::call6(SYS_unlink, sys::arg(tmp->s)); // a dead process's with our pid
    out = sys::call6(SYS_openat, AT_FDCWD, sys::arg(tmp->s),
                     O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  }
  if (sys::failed(out)) return; // a directory the program may not write: in place
  long r = 0;
  if (!truncating) {
    const long in = sys::call6(SYS_openat, AT_FDCWD, sys::arg(abs_path), O_RDONLY | O_CLOEXEC);
    r = in;
    long nr = SYS_copy_file_range; // sendfile where the filesystem cannot (EXDEV, EINVAL...)
    while (!sys::failed(in)) {
      r = nr == SYS_copy_file_range ? sys::call6(nr, in, 0, out, 0, 1L << 30, 0)
                                    : sys::call6(nr, out, in, 0, 1L << 30);
      if (r == 0 || (sys::failed(r) && nr == SYS_sendfile)) break;
      if (sys::failed(r)) nr = SYS_sendfile;
    }
    if (!sys::failed(in)) sys::call6(SYS_close, in);
  }
  // The owner first (a chown clears set-id bits), and only as it was: a file another user owns
  // that cannot be given back to them is written in place, as the kernel would.
  if (!sys::failed(r) && (us.st_uid != g_state.euid || us.st_gid != g_state.egid))
    r = sys::call6(SYS_fchown, out, static_cast<long>(us.st_uid), static_cast<long>(us.st_gid));
  if (!sys::failed(r)) r = sys::call6(SYS_fchmod, out, static_cast<long>(us.st_mode & 07777));
  if (!sys::failed(r)) {
    const struct timespec times[2] = {us.st_atim, us.st_mtim}; // unchanged until written
    (void)sys::call6(SYS_utimensat, out, 0, sys::arg(times), 0);
  }
  sys::call6(SYS_close, out);
  if (!sys::failed(r)) r = sys::call6(SYS_rename, sys::arg(tmp->s), sys::arg(abs_path));
  if (sys::failed(r)) sys::call6(SYS_unlink, sys::arg(tmp->s));
}

// Waits until a copy of the entry whose stale-map byte is BYTE, made by another process or
// thread (unshare_from_store), is done: at most ~2 s (it may have died).
void wait_for_copy(const unsigned char* byte) {
  const struct timespec pause = {0, 100000};
  for (int i = 0; i < 20000; ++i) {
    const unsigned char b = __atomic_load_n(byte, __ATOMIC_ACQUIRE);
    if (!(b & vdir::kStaleCopying) || (b & vdir::kStaleCopied)) return;
    sys::call6(SYS_nanosleep, sys::arg(&pause), 0);
  }
}

// A solid projection's file that is one inode with its blob (the user's file and the store's
// name for it: a solid ingest links them) would change the store if written in place: every
// projection of that content would read the new bytes, and the blob would no longer match its
// hash. Before such a file (entry L, its absolute path in S->a, its stat US, its stale-map byte
// BYTE) is opened with FLAGS for writing, it gets an inode of its own: a copy beside it, renamed
// over it, so that the name never goes missing (copy_over). The byte makes one process copy
// while the others wait for it (two copies renamed in turn would lose what was written to the
// first), and the entry is marked stale only afterwards, so that no process opens the old inode
// through the disk meanwhile. First the kernel is asked whether this open may be made at all, so
// that a refused one changes nothing. (A hard link the user made to that file keeps the old bytes
// then, as the blob does: the link count cannot tell the user's links from the store's, and a
// blob moved to quarantine/ after an edit outside the shim keeps its link too.) Returns 0 to go
// on with the open, or the errno it fails with. Scratch: S->b and S->c.
int unshare_from_store(const Lookup& l, const struct stat& us, int flags, unsigned char* byte,
                       Scratch* s) {
  if (__atomic_load_n(byte, __ATOMIC_ACQUIRE) & vdir::kStaleCopied) return 0;
  if (!S_ISREG(us.st_mode) || us.st_nlink < 2) return 0;
  struct stat bs;
  if (!blob_path(l.st.blob_hash, l.st.size, &s->b) ||
      sys::failed(sys::call6(SYS_newfstatat, AT_FDCWD, sys::arg(s->b.s), sys::arg(&bs), 0)) ||
      bs.st_dev != us.st_dev || bs.st_ino != us.st_ino)
    return 0;
  // The kernel's answer to this open (permissions, a running program's text), before anything
  // changes; a truncation needs write access whatever the access mode says.
  const int acc = flags & O_ACCMODE;
  const long probe = sys::call6(SYS_openat, AT_FDCWD, sys::arg(s->a.s),
                                (acc == O_RDONLY ? O_WRONLY : acc) | O_CLOEXEC | O_NONBLOCK);
  if (sys::failed(probe)) return static_cast<int>(-probe);
  sys::call6(SYS_close, probe);
  if (__atomic_fetch_or(byte, vdir::kStaleCopying, __ATOMIC_ACQ_REL) & vdir::kStaleCopying) {
    wait_for_copy(byte); // another process (or thread) copies it; then open what is there
    return 0;
  }
  copy_over(s->a.s, us, (flags & O_TRUNC) != 0, &s->c);
  __atomic_fetch_or(byte, vdir::kStaleCopied, __ATOMIC_RELEASE);
  return 0;
}

} // namespace

Claim claim_on_disk(const Lookup& l, Scratch* s, int write_flags, int* err) {
  if (err) *err = 0;
  struct stat st;
  const long r =
      sys::call6(SYS_newfstatat, AT_FDCWD, sys::arg(s->a.s), sys::arg(&st), AT_SYMLINK_NOFOLLOW);
  if (r == -ENOENT) return Claim::kPhantom;
  // Marked only when seen there: a path the kernel cannot look at (EACCES on the way) gets the
  // kernel's answer to the change, and keeps the VDir's view.
  if (r != 0) return Claim::kOnDisk;
  const vdir::VdirReader& reader = g_state.proj[l.proj].reader;
  unsigned char* byte = reader.stale_byte(l.rel, l.rel_len);
  if (!byte) return Claim::kOnDisk;
  if (write_flags < 0) {
    wait_for_copy(byte); // a removal or rename must not race a copy renamed over the file
  } else if (const int e = unshare_from_store(l, st, write_flags, byte, s)) {
    if (err) *err = e;
    return Claim::kOnDisk;
  }
  reader.mark_stale(byte);
  return Claim::kClaimed;
}

int unshare_stale(int flags, Scratch* s) {
  const Located loc = classify(&s->a);
  if (loc.where != Where::kInside) return 0;
  const vdir::VdirReader& reader = g_state.proj[loc.proj].reader;
  Lookup l;
  l.proj = loc.proj;
  l.rel = s->a.s + loc.rel_off;
  l.rel_len = s->a.len - loc.rel_off;
  if (reader.lookup_any(l.rel, l.rel_len, &l.st) != vdir::VdirResult::kHit ||
      (l.st.mode & vdir::kModeTypeMask) != vdir::kModeReg)
    return 0;
  // The entry is marked already; claiming it again copies it if it still shares its blob.
  int err = 0;
  (void)claim_on_disk(l, s, flags, &err);
  return err;
}

bool phantom(int dirfd, const char* path, bool follow) {
  return change_refusal(dirfd, path, follow) != 0;
}

bool blob_fd_path(const char* path) {
  path = opaque(path);
  if (!path || !active()) return false;
  const char* p = nullptr;
  if (std::strncmp(path, "/proc/self/fd/", 14) == 0)
    p = path + 14;
  else if (std::strncmp(path, "/proc/thread-self/fd/", 21) == 0)
    p = path + 21;
  else if (std::strncmp(path, "/dev/fd/", 8) == 0)
    p = path + 8;
  if (!p || *p < '0' || *p > '9') return false;
  long fd = 0;
  for (; *p >= '0' && *p <= '9'; ++p) {
    fd = fd * 10 + (*p - '0');
    if (fd > 1 << 30) return false;
  }
  return *p == '\0' && is_blob_fd(static_cast<int>(fd));
}

} // namespace vrift::shim

using namespace vrift::shim;
namespace sys = vrift::sys;

// --- removing and renaming ------------------------------------------------------------------
VRIFT_EXPORT int unlink(const char* path) {
  if (const int e = change_refusal(AT_FDCWD, path, false)) return fail(e);
  return real_unlink.get()(path);
}
VRIFT_EXPORT int rmdir(const char* path) {
  if (const int e = rmdir_refusal(AT_FDCWD, path)) return fail(e);
  return real_rmdir.get()(path);
}
VRIFT_EXPORT int unlinkat(int dirfd, const char* path, int flags) {
  const int e =
      (flags & AT_REMOVEDIR) ? rmdir_refusal(dirfd, path) : change_refusal(dirfd, path, false);
  if (e) return fail(e);
  return real_unlinkat.get()(dirfd, path, flags);
}
VRIFT_EXPORT int remove(const char* path) {
  int e = change_refusal(AT_FDCWD, path, false); // a phantom file, a wrong path
  if (!e) e = rmdir_refusal(AT_FDCWD, path);     // a projected directory
  if (e) return fail(e);
  return real_remove.get()(path);
}
// Both ends count: a phantom or directory source would leave its VDir entries behind, and a
// phantom or directory target would be shadowed or hide its entries. A source moving out of
// every projection is EXDEV, on which mv copies (LESSONS 12); the copy reads through the shim.
static int rename_refusal(int fromfd, const char* from, int tofd, const char* to, unsigned flags) {
  if (const int e = change_refusal(fromfd, from, false, true)) {
    const char* t = opaque(to);
    return e == EROFS && t && surely_outside(tofd, t) ? EXDEV : e;
  }
  if (const int e = change_refusal(tofd, to, false, true))
    return e == EROFS && (flags & RENAME_NOREPLACE) ? EEXIST : e;
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
// A hard link of a phantom file, or of a projected file's descriptor (AT_EMPTY_PATH, or its
// /proc/self/fd name: the shared blob), is EXDEV: copying tools then copy.
static int link_refusal(int fromfd, const char* from, int tofd, const char* to, int flags) {
  if (const int e = create_refusal(tofd, to)) return e;
  if ((flags & AT_EMPTY_PATH) && from && from[0] == '\0' && is_blob_fd(fromfd)) return EXDEV;
  const int e = change_refusal(fromfd, from, (flags & AT_SYMLINK_FOLLOW) != 0);
  return e == EROFS ? EXDEV : e;
}
VRIFT_EXPORT int link(const char* from, const char* to) {
  if (const int e = link_refusal(AT_FDCWD, opaque(from), AT_FDCWD, to, 0)) return fail(e);
  return real_link.get()(from, to);
}
VRIFT_EXPORT int linkat(int fromfd, const char* from, int tofd, const char* to, int flags) {
  if (const int e = link_refusal(fromfd, opaque(from), tofd, to, flags)) return fail(e);
  return real_linkat.get()(fromfd, from, tofd, to, flags);
}
VRIFT_EXPORT int symlink(const char* target, const char* path) {
  if (const int e = create_refusal(AT_FDCWD, path)) return fail(e);
  return real_symlink.get()(target, path);
}
VRIFT_EXPORT int symlinkat(const char* target, int dirfd, const char* path) {
  if (const int e = create_refusal(dirfd, path)) return fail(e);
  return real_symlinkat.get()(target, dirfd, path);
}
VRIFT_EXPORT int mkdir(const char* path, mode_t mode) {
  if (const int e = create_refusal(AT_FDCWD, path)) return fail(e);
  return real_mkdir.get()(path, mode);
}
VRIFT_EXPORT int mkdirat(int dirfd, const char* path, mode_t mode) {
  if (const int e = create_refusal(dirfd, path)) return fail(e);
  return real_mkdirat.get()(dirfd, path, mode);
}
VRIFT_EXPORT int mknod(const char* path, mode_t mode, dev_t dev) {
  if (const int e = create_refusal(AT_FDCWD, path)) return fail(e);
  return real_mknodat.get()(AT_FDCWD, path, mode, dev);
}
VRIFT_EXPORT int mknodat(int dirfd, const char* path, mode_t mode, dev_t dev) {
  if (const int e = create_refusal(dirfd, path)) return fail(e);
  return real_mknodat.get()(dirfd, path, mode, dev);
}
// Before glibc 2.33 mknod and mknodat were inline wrappers of these (older binaries call them).
VRIFT_EXPORT int __xmknod(int, const char* path, mode_t mode, dev_t* dev) {
  if (const int e = create_refusal(AT_FDCWD, path)) return fail(e);
  return real_mknodat.get()(AT_FDCWD, path, mode, dev ? *dev : 0);
}
VRIFT_EXPORT int __xmknodat(int, int dirfd, const char* path, mode_t mode, dev_t* dev) {
  if (const int e = create_refusal(dirfd, path)) return fail(e);
  return real_mknodat.get()(dirfd, path, mode, dev ? *dev : 0);
}
VRIFT_EXPORT int mkfifo(const char* path, mode_t mode) {
  if (const int e = create_refusal(AT_FDCWD, path)) return fail(e);
  return real_mkfifo.get()(path, mode);
}
VRIFT_EXPORT int mkfifoat(int dirfd, const char* path, mode_t mode) {
  if (const int e = create_refusal(dirfd, path)) return fail(e);
  return real_mkfifoat.get()(dirfd, path, mode);
}

// --- size, mode, owner and times by path --------------------------------------------------------
// truncate rewrites the file's bytes: a solid file that is still its blob's inode gets an inode
// of its own first, as for an open for writing (an empty one when nothing is kept), so that the
// store keeps the blob's bytes. Until 2026-11-23 the blob itself was cut.
static int truncate_flags(off64_t len) {
  return len < 0 ? -1 : len == 0 ? O_WRONLY | O_TRUNC : O_WRONLY;
}
VRIFT_EXPORT int truncate(const char* path, off_t len) {
  if (const int e = change_refusal(AT_FDCWD, path, true, false, truncate_flags(len)))
    return fail(e);
  return real_truncate.get()(path, len);
}
VRIFT_EXPORT int truncate64(const char* path, off64_t len) {
  if (const int e = change_refusal(AT_FDCWD, path, true, false, truncate_flags(len)))
    return fail(e);
  return real_truncate64.get()(path, len);
}
VRIFT_EXPORT int chmod(const char* path, mode_t mode) {
  if (const int e = change_refusal(AT_FDCWD, path, true)) return fail(e);
  return real_chmod.get()(path, mode);
}
VRIFT_EXPORT int fchmodat(int dirfd, const char* path, mode_t mode, int flags) {
  if (const int e = change_refusal(dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW))) return fail(e);
  return real_fchmodat.get()(dirfd, path, mode, flags);
}
VRIFT_EXPORT int chown(const char* path, uid_t uid, gid_t gid) {
  if (const int e = change_refusal(AT_FDCWD, path, true)) return fail(e);
  return real_chown.get()(path, uid, gid);
}
VRIFT_EXPORT int lchown(const char* path, uid_t uid, gid_t gid) {
  if (const int e = change_refusal(AT_FDCWD, path, false)) return fail(e);
  return real_lchown.get()(path, uid, gid);
}
VRIFT_EXPORT int utime(const char* path, const struct utimbuf* times) {
  if (const int e = change_refusal(AT_FDCWD, path, true)) return fail(e);
  return real_utime.get()(path, times);
}
VRIFT_EXPORT int utimes(const char* path, const struct timeval times[2]) {
  if (const int e = change_refusal(AT_FDCWD, path, true)) return fail(e);
  return real_utimes.get()(path, times);
}
VRIFT_EXPORT int lutimes(const char* path, const struct timeval times[2]) {
  if (const int e = change_refusal(AT_FDCWD, path, false)) return fail(e);
  return real_lutimes.get()(path, times);
}

// These are async-signal-safe (a signal handler removing a pid file): resolve them before main
// rather than on a first call that may come from a handler or a vfork child.
__attribute__((constructor(102))) static void resolve_mutate() {
  (void)real_unlink.get(), (void)real_unlinkat.get(), (void)real_rmdir.get();
  (void)real_rename.get(), (void)real_renameat.get(), (void)real_renameat2.get();
  (void)real_link.get(), (void)real_linkat.get(), (void)real_symlink.get();
  (void)real_symlinkat.get(), (void)real_mkdir.get(), (void)real_mkdirat.get();
  (void)real_mknodat.get(), (void)real_mkfifo.get(), (void)real_mkfifoat.get();
  (void)real_chmod.get(), (void)real_fchmodat.get(), (void)real_chown.get();
  (void)real_lchown.get(), (void)real_utime.get(), (void)real_utimes.get();
  (void)real_truncate.get(), (void)real_remove.get();
}

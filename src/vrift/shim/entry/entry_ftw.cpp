// nftw and ftw over a tree that reaches a projection: glibc's walker lists directories and stats
// entries with its internal functions, past the shim, so it saw only the skeleton. This walker
// goes through the shim's own opendir, readdir, stat and chdir, with glibc's semantics (the
// flags FTW_PHYS, FTW_MOUNT, FTW_CHDIR, FTW_DEPTH and FTW_ACTIONRETVAL; the types FTW_F, FTW_D,
// FTW_DNR, FTW_DP, FTW_NS, FTW_SL, FTW_SLN). Entries come in readdir order; NOPENFD is not a
// limit here (a directory stream per level stays open). A walk that cannot reach a projection
// goes to glibc's. No heap of its own: the path lives in one stack buffer.
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "vrift/shim/core/path.h"
#include "vrift/shim/core/state.h"
#include "vrift/shim/entry/ops.h"
#include "vrift/shim/entry/real.h"
#include "vrift/util/raw_syscall.h"

#define VRIFT_EXPORT extern "C" __attribute__((visibility("default")))

namespace vrift::shim {
namespace {

using NftwCb = int (*)(const char*, const struct stat*, int, struct FTW*);
using FtwCb = int (*)(const char*, const struct stat*, int);
using NftwFn = int(const char*, NftwCb, int, int);
using FtwFn = int(const char*, FtwCb, int);
VRIFT_REAL(nftw, NftwFn);
VRIFT_REAL(ftw, FtwFn);

// Directories already walked, when links are followed: glibc's walker skips a directory it
// has seen (a symlink loop, or two links to one directory). An open-addressing set of (dev, ino)
// in an anonymous mapping, doubled when it is 70% full (not the stack: nftw runs on threads'
// stacks too; not malloc: the shim allocates nothing of its own).
struct Seen {
  struct Slot {
    uint64_t dev, ino; // ino 0: empty (no directory has inode 0)
  };
  Slot* slots = nullptr;
  size_t cap = 0, used = 0;
  ~Seen() {
    if (slots) sys::call6(SYS_munmap, sys::arg(slots), static_cast<long>(cap * sizeof(Slot)));
  }
  static Slot* map(size_t n) {
    const long r = sys::call6(SYS_mmap, 0, static_cast<long>(n * sizeof(Slot)),
                              PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return sys::failed(r) ? nullptr : reinterpret_cast<Slot*>(r);
  }
  static size_t slot_of(uint64_t dev, uint64_t ino, size_t cap) {
    uint64_t h = (ino ^ (dev * 0x9e3779b97f4a7c15)) * 0xbf58476d1ce4e5b9;
    return static_cast<size_t>(h ^ (h >> 31)) & (cap - 1);
  }
  // Adds (DEV, INO); false when it was there. True (walk it) when memory runs out.
  bool insert(uint64_t dev, uint64_t ino) {
    if (ino == 0) return true;
    if (cap == 0 || (used + 1) * 10 > cap * 7) {
      const size_t ncap = cap ? cap * 2 : 4096;
      Slot* n = map(ncap);
      if (!n) return true;
      for (size_t k = 0; k < cap; ++k) {
        if (slots[k].ino == 0) continue;
        size_t i = slot_of(slots[k].dev, slots[k].ino, ncap);
        while (n[i].ino != 0)
          i = (i + 1) & (ncap - 1);
        n[i] = slots[k];
      }
      if (slots) sys::call6(SYS_munmap, sys::arg(slots), static_cast<long>(cap * sizeof(Slot)));
      slots = n;
      cap = ncap;
    }
    size_t i = slot_of(dev, ino, cap);
    for (; slots[i].ino != 0; i = (i + 1) & (cap - 1))
      if (slots[i].dev == dev && slots[i].ino == ino) return false;
    slots[i] = {dev, ino};
    ++used;
    return true;
  }
};

struct Walk {
  NftwCb nftw_cb; // one of the two
  FtwCb ftw_cb;
  int flags;
  dev_t dev; // FTW_MOUNT: the start's file system
  int result = 0;
  Seen seen;
  char path[kPathMax];
};

enum class Next { kGo, kSkipSubtree, kSkipSiblings, kStop };

Next call(Walk* w, const struct stat* st, int type, size_t base, int level) {
  int rc;
  if (w->ftw_cb) {
    rc = w->ftw_cb(w->path, st, type == FTW_SLN ? FTW_NS : type);
  } else {
    struct FTW f {
      static_cast<int>(base), level
    };
    rc = w->nftw_cb(w->path, st, type, &f);
  }
  if (rc == 0) return Next::kGo;
  if (w->flags & FTW_ACTIONRETVAL) {
    if (rc == FTW_SKIP_SUBTREE) return Next::kSkipSubtree;
    if (rc == FTW_SKIP_SIBLINGS) return Next::kSkipSiblings;
  }
  w->result = rc; // FTW_STOP, or any other value: the walk ends and returns it
  return Next::kStop;
}

// The type of the entry at PATH, its stat in *ST: FTW_NS when it cannot be stat'ed for want of
// permission or because it is gone (FTW_SLN then for a dangling symlink when links are
// followed); -1 for any other error, which ends the walk (errno set), as glibc's does.
int stat_type(const char* path, int flags, struct stat* st) {
  const bool phys = (flags & FTW_PHYS) != 0;
  if ((phys ? lstat(path, st) : stat(path, st)) != 0) {
    if (errno != ENOENT && errno != EACCES) return -1;
    return !phys && lstat(path, st) == 0 && S_ISLNK(st->st_mode) ? FTW_SLN : FTW_NS;
  }
  return S_ISDIR(st->st_mode) ? FTW_D : S_ISLNK(st->st_mode) ? FTW_SL : FTW_F;
}

// Visits the entry at w->path (LEN bytes, its name at BASE), LEVEL deep; with FTW_CHDIR the
// cwd is its parent, PARENT_FD. kStop ends the walk (w->result is the return value).
Next visit(Walk* w, size_t len, size_t base, int level, int parent_fd, const struct stat* known,
           int type) {
  // With FTW_CHDIR the cwd is the entry's directory: it is named relative to it.
  const char* at = (w->flags & FTW_CHDIR) ? w->path + base : w->path;
  struct stat st;
  if (known) {
    st = *known;
  } else {
    type = stat_type(*at ? at : ".", w->flags, &st);
    if (type < 0) {
      w->result = -1;
      return Next::kStop;
    }
  }
  // FTW_MOUNT: nothing on another file system is reported (what could not be stat'ed is).
  if ((w->flags & FTW_MOUNT) && type != FTW_NS && st.st_dev != w->dev) return Next::kGo;
  if (type != FTW_D) return call(w, &st, type, base, level);
  if (!(w->flags & FTW_PHYS) && !w->seen.insert(st.st_dev, st.st_ino)) return Next::kGo;
  DIR* d = opendir(*at ? at : ".");
  if (!d) return call(w, &st, FTW_DNR, base, level);
  if (!(w->flags & FTW_DEPTH)) {
    const Next n = call(w, &st, FTW_D, base, level);
    if (n != Next::kGo) {
      closedir(d);
      return n == Next::kSkipSubtree ? Next::kGo : n;
    }
  }
  const bool cd = (w->flags & FTW_CHDIR) != 0;
  if (cd && fchdir(dirfd(d)) != 0) {
    closedir(d);
    w->result = -1;
    return Next::kStop;
  }
  Next out = Next::kGo;
  while (struct dirent* e = readdir(d)) {
    const char* name = e->d_name;
    if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
    const size_t nlen = std::strlen(name);
    const size_t sep = len > 0 && w->path[len - 1] == '/' ? 0 : 1;
    if (len + sep + nlen >= kPathMax) {
      errno = ENAMETOOLONG;
      w->result = -1;
      out = Next::kStop;
      break;
    }
    if (sep) w->path[len] = '/';
    std::memcpy(w->path + len + sep, name, nlen + 1);
    const Next n = visit(w, len + sep + nlen, len + sep, level + 1, dirfd(d), nullptr, 0);
    w->path[len] = '\0';
    if (n == Next::kStop) {
      out = n;
      break;
    }
    if (n == Next::kSkipSiblings) break;
  }
  // FTW_DP runs inside the directory, as glibc's does; then back to the parent.
  if (out != Next::kStop && (w->flags & FTW_DEPTH)) out = call(w, &st, FTW_DP, base, level);
  closedir(d);
  if (cd && fchdir(parent_fd) != 0 && out != Next::kStop) {
    w->result = -1;
    out = Next::kStop;
  }
  if (out == Next::kSkipSubtree) out = Next::kGo;
  return out;
}

// Whether a walk from PATH may reach a projection (else glibc's walker is exact).
bool reaches_projection(const char* path) {
  if (!path || !active()) return false;
  PathBuf buf;
  const Located l = locate(AT_FDCWD, path, &buf);
  if (l.where == Where::kInside) return true;
  return l.where == Where::kOutside && !outside_with_nothing_below(buf.s);
}

int walk(const char* dir, NftwCb ncb, FtwCb cb, int flags) {
  if (flags & ~(FTW_PHYS | FTW_MOUNT | FTW_CHDIR | FTW_DEPTH | FTW_ACTIONRETVAL))
    return fail(EINVAL);
  Walk w{ncb, cb, flags, 0, 0, {}, {}};
  size_t len = std::strlen(dir);
  if (len == 0 || len >= kPathMax) return fail(len == 0 ? ENOENT : ENAMETOOLONG);
  std::memcpy(w.path, dir, len + 1);
  while (len > 1 && w.path[len - 1] == '/') // "a/b/" is walked as "a/b", as glibc does
    w.path[--len] = '\0';
  size_t base = len;
  while (base > 0 && w.path[base - 1] != '/')
    --base;
  struct stat st;
  const int type = stat_type(w.path, flags, &st);
  if (type < 0 || type == FTW_NS) return -1; // the start must exist (a dangling link is reported)
  w.dev = st.st_dev;
  // With FTW_CHDIR the walk starts in the start's directory and ends where it started.
  int start = -1;
  const int saved = errno;
  if (flags & FTW_CHDIR) {
    start = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (start < 0) return -1;
    if (base > 0) {
      const char keep = w.path[base];
      w.path[base] = '\0';
      const int rc = chdir(w.path);
      w.path[base] = keep;
      if (rc != 0) {
        close(start);
        return -1;
      }
    }
  }
  visit(&w, len, base, 0, start, &st, type);
  if (start >= 0) {
    const int e = errno;
    (void)fchdir(start);
    close(start);
    errno = e;
  }
  if (w.result == 0) errno = saved;
  return w.result;
}

} // namespace
} // namespace vrift::shim

using namespace vrift::shim;

VRIFT_EXPORT int nftw(const char* dir, NftwCb fn, int nopenfd, int flags) {
  dir = opaque(dir);
  if (!reaches_projection(dir)) return real_nftw.get()(dir, fn, nopenfd, flags);
  return walk(dir, fn, nullptr, flags);
}
// struct stat64 and struct stat are one layout on 64-bit Linux.
VRIFT_EXPORT int nftw64(const char* dir,
                        int (*fn)(const char*, const struct stat64*, int, struct FTW*), int nopenfd,
                        int flags) {
  return nftw(dir, reinterpret_cast<NftwCb>(reinterpret_cast<void*>(fn)), nopenfd, flags);
}
VRIFT_EXPORT int ftw(const char* dir, FtwCb fn, int nopenfd) {
  dir = opaque(dir);
  if (!reaches_projection(dir)) return real_ftw.get()(dir, fn, nopenfd);
  return walk(dir, nullptr, fn, 0);
}
VRIFT_EXPORT int ftw64(const char* dir, int (*fn)(const char*, const struct stat64*, int),
                       int nopenfd) {
  return ftw(dir, reinterpret_cast<FtwCb>(reinterpret_cast<void*>(fn)), nopenfd);
}

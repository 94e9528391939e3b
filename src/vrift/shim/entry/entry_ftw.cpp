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
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "vrift/shim/core/path.h"
#include "vrift/shim/core/state.h"
#include "vrift/shim/entry/ops.h"
#include "vrift/shim/entry/real.h"

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
// has seen (a symlink loop, or two links to one directory). A fixed table: past its size,
// directories are still walked, and a loop ends at the path length limit.
constexpr int kSeenMax = 1024;

struct Walk {
  NftwCb nftw_cb; // one of the two
  FtwCb ftw_cb;
  int flags;
  dev_t dev; // FTW_MOUNT: the start's file system
  int result = 0;
  int nseen = 0;
  struct {
    dev_t dev;
    ino_t ino;
  } seen[kSeenMax];
  char path[kPathMax];
};

// Records directory ST; false when it was walked already.
bool first_visit(Walk* w, const struct stat& st) {
  if (w->flags & FTW_PHYS) return true; // no links followed: no directory twice
  for (int i = 0; i < w->nseen; ++i)
    if (w->seen[i].dev == st.st_dev && w->seen[i].ino == st.st_ino) return false;
  if (w->nseen < kSeenMax) w->seen[w->nseen++] = {st.st_dev, st.st_ino};
  return true;
}

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
  if (w->flags & FTW_ACTIONRETVAL) {
    switch (rc) {
    case FTW_STOP:
      w->result = FTW_STOP;
      return Next::kStop;
    case FTW_SKIP_SUBTREE:
      return Next::kSkipSubtree;
    case FTW_SKIP_SIBLINGS:
      return Next::kSkipSiblings;
    default:
      return Next::kGo;
    }
  }
  if (rc != 0) {
    w->result = rc;
    return Next::kStop;
  }
  return Next::kGo;
}

// The type of the entry at PATH, its stat in *ST: FTW_NS when it cannot be read (FTW_SLN for a
// dangling symlink when links are followed).
int stat_type(const char* path, int flags, struct stat* st) {
  const bool phys = (flags & FTW_PHYS) != 0;
  if ((phys ? lstat(path, st) : stat(path, st)) != 0)
    return !phys && errno == ENOENT && lstat(path, st) == 0 && S_ISLNK(st->st_mode) ? FTW_SLN
                                                                                    : FTW_NS;
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
    type = stat_type(at, w->flags, &st);
  }
  if (type != FTW_D) return call(w, &st, type, base, level);
  if ((w->flags & FTW_MOUNT) && st.st_dev != w->dev) return Next::kGo;
  if (!first_visit(w, st)) return Next::kGo;
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
  return out == Next::kStop ? out : Next::kGo;
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
  Walk w{ncb, cb, flags, 0, 0, 0, {}, {}};
  const size_t len = std::strlen(dir);
  if (len == 0 || len >= kPathMax) return fail(len == 0 ? ENOENT : ENAMETOOLONG);
  std::memcpy(w.path, dir, len + 1);
  size_t base = len;
  while (base > 0 && w.path[base - 1] == '/')
    --base; // "a/b/" names b
  while (base > 0 && w.path[base - 1] != '/')
    --base;
  struct stat st;
  const int type = stat_type(dir, flags, &st);
  if (type == FTW_NS) return -1; // the start must exist (a dangling symlink is reported)
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

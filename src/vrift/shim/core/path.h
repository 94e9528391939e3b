// Where a path lies: makes (dirfd, path) absolute and lexically normal, the way the kernel would
// start resolving it (relative paths against the real cwd, *at paths against their dirfd:
// LESSONS 7), and says which projection, if any, holds it.
//
// The cwd is cached (a seqlock-protected copy) and invalidated by every chdir/fchdir the shim
// sees; a vfork child may invalidate but never publishes (it shares the parent's memory, not its
// cwd). ".." is resolved lexically: inside a projection no directory is a symlink in the
// manifest, and a symlink met on the way is resolved by the lookup (lookup.h).
#pragma once

#include <cstdint>

#include "vrift/shim/core/state.h"

namespace vrift::shim {

struct PathBuf {
  char s[kPathMax];
  uint32_t len;
  bool dir_only; ///< the path ended in "/", "/." or "/..": it must name a directory
};

enum class Where : int { kOutside, kInside, kUnknown };

struct Located {
  Where where;
  int proj;         ///< kInside: index into g_state.proj
  uint32_t rel_off; ///< kInside: the relative path is buf.s + rel_off ("" for the root)
};

/// The first, cheap look at (DIRFD, PATH), without a system call or a copy:
///   kOutside: certainly outside every projection (an absolute path not under any root; a
///             relative path without ".." from a cwd or dirfd with no projection at or below it);
///   kInside:  PATH is absolute, normal and inside projection `proj`; its relative part starts
///             at PATH + rel_off (the lookup needs no copy);
///   kUnknown: locate() must build the absolute path first.
struct Quick {
  Where where;
  int proj;
  uint32_t rel_off;
  uint32_t len; ///< kInside: strlen(PATH)
};
Quick quick_classify(int dirfd, const char* path);

/// True when quick_classify says kOutside.
inline bool surely_outside(int dirfd, const char* path);

/// True when PATH is absolute and normal, outside every projection, and no projection root lies
/// below it: a directory opened there can be marked kFdOutsideDir.
bool outside_with_nothing_below(const char* path);

/// Makes (DIRFD, PATH) absolute and normal in *BUF and classifies it. kUnknown when it cannot
/// (empty path, too long, a dirfd that is not a directory path): the caller uses the real call.
Located locate(int dirfd, const char* path, PathBuf* buf);

/// The projected path of directory fd FD (entry E): E's own copy, or else from /proc/self/fd into
/// BUF. Sets *REL and *LEN; false when FD is not (or no longer) inside a projection.
struct FdEntry;
bool fd_dir_rel(int fd, const FdEntry* e, PathBuf* buf, const char** rel, uint32_t* len);

/// Makes (DIRFD, PATH) absolute in *BUF without normalising it (for paths whose ".." must be
/// resolved after the symlinks before it). False when it cannot (as for locate()).
bool absolute_raw(int dirfd, const char* path, PathBuf* buf);

/// Whether PATH has a ".." component.
bool has_dotdot(const char* path);

/// Classifies an absolute, normal path already in *BUF.
Located classify(const PathBuf* buf);

/// Normalises the absolute path in BUF in place: no empty, "." or ".." components, no trailing
/// '/' (except "/" itself). Sets dir_only when the input ended in a way that requires a directory.
void normalize(PathBuf* buf);

/// Picks the widest path scan the CPU supports (ALLOW_AVX2 false: the 16-byte one, for tests
/// that compare the two); called once by init_from_env(). Returns whether AVX2 is used.
bool path_init(bool allow_avx2 = true);

/// The cwd cache: the shim's chdir/fchdir hooks call cwd_invalidate() after the real call.
void cwd_invalidate();
/// In a forked child: a thread of the parent may have been filling the cache at the fork; the
/// child has no such thread, so it releases the writer lock and drops the copy.
void cwd_after_fork();

inline bool surely_outside(int dirfd, const char* path) {
  return quick_classify(dirfd, path).where == Where::kOutside;
}

} // namespace vrift::shim

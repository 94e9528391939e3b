// Resolving a path in the projected tree: the VDir answers for every path inside a projection,
// following symlinks the way the kernel would (the final one only when asked, intermediate ones
// always, at most 40), so that a symlinked directory inside a projection leads to the right
// entry. A path whose resolution leaves every projection, or that the VDir does not know,
// goes to the real system call, with the path rewritten when a projected symlink was followed.
#pragma once

#include <cerrno>
#include <cstdint>

#include "vrift/shim/core/path.h"
#include "vrift/vdir/vdir_layout.h"

namespace vrift::shim {

enum class Res : int {
  kReal,  ///< use the real call with real_dirfd/real_path
  kHit,   ///< st holds the projected entry
  kError, ///< fail with err (ENOENT for a deleted entry, ENOTDIR, ELOOP, ...)
};

struct Scratch {
  PathBuf a;
  PathBuf b;
  PathBuf c; ///< paths with "..": the canonical part before the last one
};

struct Lookup {
  Res res;
  int err;
  int proj;
  vdir::VdirStat st;
  int real_dirfd;        ///< kReal: the dirfd and path to give the real call
  const char* real_path; ///< (the caller's own, or scratch.a.s after a rewrite)
  const char* rel;       ///< kHit: the entry's path inside the projection (in scratch.a)
  uint32_t rel_len;
  /// kReal: the path lies in a projected directory but is not projected (a file the program
  /// made there, or nothing); scratch.a then holds its absolute path. Such a path may be a
  /// symlink the program made, whose target the kernel cannot see: see link_in_projection().
  bool inside_miss;
};

inline bool is_dir(const vdir::VdirStat& st) {
  return (st.mode & vdir::kModeTypeMask) == vdir::kModeDir;
}
inline bool is_link(const vdir::VdirStat& st) {
  return (st.mode & vdir::kModeTypeMask) == vdir::kModeLink;
}

/// Resolves (DIRFD, PATH). FOLLOW: follow a final symlink (stat) or not (lstat). TARGET, when
/// given, receives a final symlink's target (no NUL) up to TARGET_CAP bytes.
/// Q: the caller's quick_classify of the same (DIRFD, PATH), if it has one. On kHit, S->a holds
/// the entry's absolute path and rel points into it.
Lookup lookup(int dirfd, const char* path, bool follow, Scratch* s, char* target = nullptr,
              uint32_t target_cap = 0, const Quick* q = nullptr);

/// The fast road for an absolute, normal path inside a projection (Q.where == kInside): one
/// VDir probe, no copy, a small stack frame. Returns true when that settled it (*OUT is a hit,
/// or ENOENT for a deleted entry); false when lookup() must go on (a miss, a symlink to follow).
/// Inline: the stat family calls it on every path it answers.
inline bool lookup_direct(const char* path, const Quick& q, bool follow, Lookup* out) {
  const char* rel = path + q.rel_off;
  const uint32_t rlen = q.len - q.rel_off;
  const vdir::VdirResult r = g_state.proj[q.proj].reader.lookup(rel, rlen, &out->st);
  if (r == vdir::VdirResult::kHit && !(follow && is_link(out->st))) {
    out->res = Res::kHit;
    out->err = 0;
    out->proj = q.proj;
    out->rel = rel;
    out->rel_len = rlen;
    return true;
  }
  if (r == vdir::VdirResult::kDeleted) {
    out->res = Res::kError;
    out->err = ENOENT;
    return true;
  }
  return false;
}

/// Builds the store path of a blob (HASH, SIZE) into BUF; false if it does not fit.
bool blob_path(const uint8_t* hash, uint64_t size, PathBuf* buf);

/// For a kReal lookup with inside_miss whose path turned out to be a symlink (physical, made by
/// the program in a projected directory): its target, absolute, into *OUT. The caller then
/// resolves that path again, so a link to a projected file reaches it. False when it is not a
/// link (or cannot be read).
bool link_in_projection(const Scratch* s, PathBuf* out);

/// Most links a caller follows through link_in_projection() before it lets the kernel answer.
inline constexpr int kMaxPhysicalHops = 40;

} // namespace vrift::shim

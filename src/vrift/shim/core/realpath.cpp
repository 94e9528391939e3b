#include "vrift/shim/core/realpath.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstring>

#include "vrift/shim/core/str.h"
#include "vrift/util/raw_syscall.h"

namespace vrift::shim {

int resolve_realpath(const char* path, PathBuf* out, Scratch* s) {
  if (!path) return EINVAL;
  if (path[0] == '\0') return ENOENT;
  // s->a holds what is left to resolve (absolute, not normalised: ".." must apply after the
  // symlinks before it are resolved); out holds the canonical prefix resolved so far.
  PathBuf* rem = &s->a;
  rem->len = 0;
  if (path[0] != '/') {
    const long r = sys::call6(SYS_getcwd, sys::arg(rem->s), kPathMax);
    if (sys::failed(r)) return static_cast<int>(-r);
    if (r < 2 || rem->s[0] != '/') return ENOENT;
    rem->len = static_cast<uint32_t>(r - 1);
    if (!append(rem->s, &rem->len, kPathMax, "/", 1)) return ENAMETOOLONG;
  }
  if (!append(rem->s, &rem->len, kPathMax, path, slen(path))) return ENAMETOOLONG;
  out->len = 0;
  out->s[0] = '\0';
  int hops = 0;
  uint32_t i = 0;
  char target[kPathMax];
  while (i < rem->len) {
    while (i < rem->len && rem->s[i] == '/')
      ++i;
    const uint32_t b = i;
    while (i < rem->len && rem->s[i] != '/')
      ++i;
    const uint32_t n = i - b;
    if (n == 0 || (n == 1 && rem->s[b] == '.')) continue;
    if (n == 2 && rem->s[b] == '.' && rem->s[b + 1] == '.') {
      while (out->len > 0 && out->s[out->len - 1] != '/')
        --out->len;
      if (out->len > 0) --out->len;
      out->s[out->len] = '\0';
      continue;
    }
    const uint32_t before = out->len;
    if (!append(out->s, &out->len, kPathMax, "/", 1) ||
        !append(out->s, &out->len, kPathMax, rem->s + b, n))
      return ENAMETOOLONG;
    const bool last = i >= rem->len;
    // What is this component: the VDir inside a projection, else the kernel.
    uint32_t mode = 0;
    long tlen = -1;
    const Located l = classify(out);
    bool known = false;
    if (l.where == Where::kInside) {
      vdir::VdirStat st;
      const vdir::VdirResult r = g_state.proj[l.proj].reader.lookup(
          out->s + l.rel_off, out->len - l.rel_off, &st, target, kPathMax);
      if (r == vdir::VdirResult::kDeleted) return ENOENT;
      if (r == vdir::VdirResult::kHit) {
        known = true;
        mode = st.mode & vdir::kModeTypeMask;
        if (mode == vdir::kModeLink) {
          if (st.target_len >= kPathMax) return ENAMETOOLONG;
          tlen = st.target_len;
        }
      }
    }
    if (!known) {
      struct stat rs;
      const long r = sys::call6(SYS_newfstatat, AT_FDCWD, sys::arg(out->s), sys::arg(&rs),
                                AT_SYMLINK_NOFOLLOW);
      if (sys::failed(r)) return static_cast<int>(-r);
      mode = rs.st_mode & S_IFMT;
      if (mode == S_IFLNK) {
        tlen =
            sys::call6(SYS_readlinkat, AT_FDCWD, sys::arg(out->s), sys::arg(target), kPathMax - 1);
        if (sys::failed(tlen)) return static_cast<int>(-tlen);
      }
    }
    if (mode == S_IFLNK) {
      if (++hops > 40) return ELOOP;
      // New remainder: the target, then what was left after this component.
      PathBuf* nb = &s->b;
      nb->len = 0;
      if (!append(nb->s, &nb->len, kPathMax, target, static_cast<size_t>(tlen)) ||
          !append(nb->s, &nb->len, kPathMax, rem->s + i, rem->len - i))
        return ENAMETOOLONG;
      std::memcpy(rem->s, nb->s, nb->len + 1);
      rem->len = nb->len;
      i = 0;
      out->len = target[0] == '/' ? 0 : before; // relative targets resolve from the link's dir
      out->s[out->len] = '\0';
      continue;
    }
    if (mode != S_IFDIR && !last) {
      // Only trailing slashes may follow a non-directory... and even they require a directory.
      return ENOTDIR;
    }
  }
  if (out->len == 0) {
    out->s[0] = '/';
    out->s[1] = '\0';
    out->len = 1;
  }
  return 0;
}

} // namespace vrift::shim

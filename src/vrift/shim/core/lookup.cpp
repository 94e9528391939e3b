#include "vrift/shim/core/lookup.h"

#include <fcntl.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstring>

#include "vrift/shim/core/realpath.h"
#include "vrift/shim/core/str.h"
#include "vrift/util/raw_syscall.h"

namespace vrift::shim {
namespace {

constexpr int kMaxHops = 40;

// Replaces the first PREFIX_LEN bytes of the absolute path in A (a symlink's own path) by the
// symlink's TARGET (resolved against the symlink's directory), keeping the rest, into B, then
// normalises B and swaps it into A. False when the result does not fit.
bool splice(Scratch* s, uint32_t prefix_len, const char* target, uint32_t tlen) {
  PathBuf* a = &s->a;
  PathBuf* b = &s->b;
  b->len = 0;
  if (tlen == 0) return false;
  if (target[0] != '/') {
    uint32_t dir = prefix_len;
    while (dir > 0 && a->s[dir - 1] != '/')
      --dir; // keep "…/" of the link's directory
    if (!append(b->s, &b->len, kPathMax, a->s, dir)) return false;
  }
  if (!append(b->s, &b->len, kPathMax, target, tlen)) return false;
  if (prefix_len < a->len &&
      !append(b->s, &b->len, kPathMax, a->s + prefix_len, a->len - prefix_len))
    return false;
  const bool dir_only = a->dir_only;
  normalize(b);
  b->dir_only = b->dir_only || dir_only;
  std::memcpy(a->s, b->s, b->len + 1);
  a->len = b->len;
  a->dir_only = b->dir_only;
  return true;
}

// A path with "..": the kernel applies each ".." to the directory the components before it
// resolved to (through symlinks), so the part up to the last ".." is resolved like realpath
// does, then the rest is appended. Leaves the absolute, normal result in S->a. Returns 0, an
// errno (a missing or non-directory component before a ".."), or -1 when it cannot tell.
int resolve_dotdot(int dirfd, const char* path, Scratch* s) {
  PathBuf* c = &s->c;
  if (!absolute_raw(dirfd, path, c)) return -1;
  uint32_t cut = 0; // just after the last ".." component
  for (uint32_t i = 0; i + 1 < c->len; ++i)
    if ((i == 0 || c->s[i - 1] == '/') && c->s[i] == '.' && c->s[i + 1] == '.' &&
        (i + 2 == c->len || c->s[i + 2] == '/'))
      cut = i + 2;
  char tail[kPathMax];
  const uint32_t tlen = c->len - cut;
  std::memcpy(tail, c->s + cut, tlen);
  c->s[cut] = '\0';
  // resolve_realpath copies its input into s->a before it writes its output into c.
  if (const int e = resolve_realpath(c->s, c, s); e != 0) return e;
  const bool dir_only = tlen > 0 && tail[tlen - 1] == '/';
  if (!append(c->s, &c->len, kPathMax, "/", 1) || !append(c->s, &c->len, kPathMax, tail, tlen))
    return ENAMETOOLONG;
  normalize(c);
  c->dir_only = c->dir_only || dir_only || tlen == 0;
  std::memcpy(s->a.s, c->s, c->len + 1);
  s->a.len = c->len;
  s->a.dir_only = c->dir_only;
  return 0;
}

} // namespace

bool blob_path(const uint8_t* hash, uint64_t size, PathBuf* buf) {
  static const char kHex[] = "0123456789abcdef";
  char hex[64];
  for (int i = 0; i < 32; ++i) {
    hex[2 * i] = kHex[hash[i] >> 4];
    hex[2 * i + 1] = kHex[hash[i] & 15];
  }
  char num[24];
  const uint32_t nlen = u64_dec(size, num);
  buf->len = 0;
  return append(buf->s, &buf->len, kPathMax, g_state.store, g_state.store_len) &&
         append(buf->s, &buf->len, kPathMax, "/blake3/", 8) &&
         append(buf->s, &buf->len, kPathMax, hex, 2) &&
         append(buf->s, &buf->len, kPathMax, "/", 1) &&
         append(buf->s, &buf->len, kPathMax, hex + 2, 2) &&
         append(buf->s, &buf->len, kPathMax, "/", 1) &&
         append(buf->s, &buf->len, kPathMax, hex, 64) &&
         append(buf->s, &buf->len, kPathMax, "_", 1) &&
         append(buf->s, &buf->len, kPathMax, num, nlen) &&
         append(buf->s, &buf->len, kPathMax, ".bin", 4);
}

bool link_in_projection(const Scratch* s, PathBuf* out) {
  const PathBuf& a = s->a;
  char target[kPathMax];
  const long n = sys::call6(SYS_readlinkat, AT_FDCWD, sys::arg(a.s), sys::arg(target), kPathMax);
  if (sys::failed(n) || n == 0 || n >= kPathMax) return false;
  const uint32_t tlen = static_cast<uint32_t>(n);
  out->len = 0;
  if (target[0] != '/') { // relative to the link's directory
    uint32_t dir = a.len;
    while (dir > 0 && a.s[dir - 1] != '/')
      --dir;
    if (!append(out->s, &out->len, kPathMax, a.s, dir)) return false;
  }
  return append(out->s, &out->len, kPathMax, target, tlen);
}

Lookup lookup(int dirfd, const char* path, bool follow, Scratch* s, char* target,
              uint32_t target_cap, const Quick* q) {
  Lookup out;
  out.res = Res::kReal;
  out.err = 0;
  out.proj = -1;
  out.real_dirfd = dirfd;
  out.real_path = path;
  out.rel = nullptr;
  out.rel_len = 0;
  out.inside_miss = false;
  const Quick quick = q ? *q : quick_classify(dirfd, path);
  if (quick.where == Where::kOutside) return out;
  Located l;
  bool rewritten = false;
  if (quick.where == Where::kInside) {
    // The common case: an absolute, normal path. Ask the VDir about it in place.
    const char* rel = path + quick.rel_off;
    const uint32_t rlen = quick.len - quick.rel_off;
    const vdir::VdirResult r =
        g_state.proj[quick.proj].reader.lookup(rel, rlen, &out.st, target, target_cap);
    if (r == vdir::VdirResult::kHit && !(follow && is_link(out.st))) {
      // Callers open the physical path of a hit (a skeleton directory): keep it in s->a.
      std::memcpy(s->a.s, path, quick.len + 1);
      s->a.len = quick.len;
      s->a.dir_only = false;
      out.res = Res::kHit;
      out.proj = quick.proj;
      out.rel = s->a.s + quick.rel_off;
      out.rel_len = rlen;
      return out;
    }
    if (r == vdir::VdirResult::kDeleted) {
      out.res = Res::kError;
      out.err = ENOENT;
      return out;
    }
    // A symlink to follow or a miss: the general road below, on a copy.
    std::memcpy(s->a.s, path, quick.len + 1);
    s->a.len = quick.len;
    s->a.dir_only = false;
    l = Located{Where::kInside, quick.proj, quick.rel_off};
  } else if (has_dotdot(path)) {
    if (const int e = resolve_dotdot(dirfd, path, s); e != 0) {
      if (e < 0) return out; // cannot tell: the kernel answers
      out.res = Res::kError;
      out.err = e;
      return out;
    }
    rewritten = true;
    l = classify(&s->a);
  } else {
    l = locate(dirfd, path, &s->a);
  }
  auto real = [&]() {
    if (rewritten) {
      // A trailing "/" (or "/.", "/..") means "a directory": keep saying so to the kernel.
      if (s->a.dir_only && s->a.len > 1) (void)append(s->a.s, &s->a.len, kPathMax, "/", 1);
      out.real_dirfd = AT_FDCWD;
      out.real_path = s->a.s;
    }
    out.res = Res::kReal;
    return out;
  };
  auto error = [&](int e) {
    out.res = Res::kError;
    out.err = e;
    return out;
  };
  char tbuf[kPathMax];
  for (int hops = 0;; ++hops) {
    if (l.where != Where::kInside) return real();
    if (hops > kMaxHops) return error(ELOOP);
    const Projection& p = g_state.proj[l.proj];
    const char* rel = s->a.s + l.rel_off;
    const uint32_t rlen = s->a.len - l.rel_off;
    vdir::VdirStat st;
    const vdir::VdirResult r = p.reader.lookup(rel, rlen, &st, tbuf, kPathMax);
    if (r == vdir::VdirResult::kDeleted) return error(ENOENT);
    if (r == vdir::VdirResult::kHit) {
      if (is_link(st) && (follow || s->a.dir_only)) {
        if (st.target_len >= kPathMax) return error(ENAMETOOLONG);
        if (!splice(s, s->a.len, tbuf, st.target_len)) return error(ENAMETOOLONG);
        rewritten = true;
        l = classify(&s->a);
        continue;
      }
      if (s->a.dir_only && !is_dir(st) && !is_link(st)) return error(ENOTDIR);
      out.res = Res::kHit;
      out.proj = l.proj;
      out.st = st;
      out.rel = rel;
      out.rel_len = rlen;
      if (target && is_link(st)) {
        const uint32_t n = st.target_len < target_cap ? st.target_len : target_cap;
        std::memcpy(target, tbuf, n);
      }
      return out;
    }
    // Busy or damaged: the kernel answers.
    if (r != vdir::VdirResult::kMiss && r != vdir::VdirResult::kStale) return real();
    // A miss, or an entry a program of the session changed on disk (stale: the disk answers,
    // as for a file the program made). If an ancestor is a projected symlink, the path goes
    // through it: splice and go on. If the nearest known ancestor is a directory, the entry is
    // simply not projected.
    uint32_t end = rlen;
    bool spliced = false;
    while (end > 0) {
      while (end > 0 && rel[end - 1] != '/')
        --end;
      const uint32_t alen = end ? end - 1 : 0; // the ancestor's relative length
      end = alen;
      vdir::VdirStat ast;
      const vdir::VdirResult ar = p.reader.lookup(rel, alen, &ast, tbuf, kPathMax);
      if (ar == vdir::VdirResult::kMiss || ar == vdir::VdirResult::kStale) continue;
      if (ar == vdir::VdirResult::kDeleted) return error(ENOENT);
      if (ar != vdir::VdirResult::kHit) return real();
      if (is_dir(ast)) break;
      if (!is_link(ast)) return error(ENOTDIR); // a file used as a directory
      if (ast.target_len >= kPathMax) return error(ENAMETOOLONG);
      if (!splice(s, l.rel_off + alen, tbuf, ast.target_len)) return error(ENAMETOOLONG);
      spliced = true;
      break;
    }
    if (!spliced) {
      out.inside_miss = true;
      return real();
    }
    rewritten = true;
    l = classify(&s->a);
  }
}

} // namespace vrift::shim

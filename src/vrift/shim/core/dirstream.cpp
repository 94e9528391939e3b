#include "vrift/shim/core/dirstream.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstring>

#include "vrift/shim/core/path.h"
#include "vrift/shim/core/statfill.h"
#include "vrift/shim/core/str.h"
#include "vrift/util/raw_syscall.h"

namespace vrift::shim {
namespace {

struct DirStream {
  uint32_t in_use; // accessed atomically
  int fd;
  char* buf; // records (linux_dirent64 layout), in an anonymous mapping
  size_t len;
  size_t map_len;
  size_t pos; // byte offset of the next record; accessed atomically
  // Listings outgrown by rewinds: kept mapped until the stream is released, because a dirent
  // that readdir returned before a rewind may still be read (glibc keeps its buffer too). The
  // oldest goes when more are retired than this holds.
  static constexpr int kRetired = 4;
  char* retired[kRetired];
  size_t retired_map[kRetired];
  // The buffer the physical entries are read into, kept with the slot (as the listing's buffer
  // is once the stream is released) for the next stream that gets it: a program that lists
  // directory after directory (Python's import system lists each package) then maps, faults in
  // and unmaps nothing after its first listings.
  char* phys;
  size_t phys_map;
};

void unmap_retired(DirStream* d, int i) {
  if (d->retired[i])
    sys::call6(SYS_munmap, sys::arg(d->retired[i]), static_cast<long>(d->retired_map[i]));
  d->retired[i] = nullptr;
  d->retired_map[i] = 0;
}
constinit DirStream g_dirs[kMaxDirStreams]{};

// The manifest layout the listing file uses (docs/manifest-format.md); a unit test checks these
// offsets against manifest.h.
constexpr size_t kHdrEntryCount = 24, kHdrStringsSize = 32, kHdrFileSize = 40;
constexpr size_t kEntPathOff = 0, kEntPathLen = 4, kEntType = 16;
constexpr uint8_t kTypeFile = 1, kTypeDir = 2, kTypeSymlink = 3;

template <typename T> T rd(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

struct ListingView {
  const unsigned char* base = nullptr;
  size_t len = 0;
  uint64_t count = 0;
  uint32_t header_size = 0, entry_size = 0;
  uint64_t arena = 0;
  bool ok() const { return base != nullptr; }
  const unsigned char* ent(uint64_t i) const { return base + header_size + i * entry_size; }
  // The path of entry I (bounds checked once at attach: see view_of).
  const char* path(uint64_t i, uint32_t* n) const {
    const unsigned char* e = ent(i);
    const uint32_t off = rd<uint32_t>(e + kEntPathOff), plen = rd<uint32_t>(e + kEntPathLen);
    if (arena + off + plen > len) {
      *n = 0;
      return "";
    }
    *n = plen;
    return reinterpret_cast<const char*>(base + arena + off);
  }
  uint8_t type(uint64_t i) const { return ent(i)[kEntType]; }
};

ListingView view_of(const unsigned char* base, size_t len) {
  ListingView v;
  if (len < 128 || std::memcmp(base, "VRIFTMF", 8) != 0) return v;
  v.header_size = rd<uint32_t>(base + 12);
  v.entry_size = rd<uint32_t>(base + 16);
  v.count = rd<uint64_t>(base + kHdrEntryCount);
  const uint64_t strings = rd<uint64_t>(base + kHdrStringsSize);
  if (rd<uint64_t>(base + kHdrFileSize) != len || v.entry_size < 80 || v.header_size < 128)
    return v;
  if (v.count > len / v.entry_size) return v;
  v.arena = v.header_size + v.count * v.entry_size;
  if (v.arena + strings != len) return v;
  v.base = base;
  v.len = len;
  return v;
}

// The listing of projection P, mapped on first use (raw calls; published with a CAS).
ListingView listing_of(Projection* p) {
  const unsigned char* base = __atomic_load_n(&p->listing, __ATOMIC_ACQUIRE);
  if (!base) {
    PathBuf path;
    if (!vdir_sibling(*p, ".listing", path.s)) return {};
    vdir::VdirMapping m;
    if (vdir::vdir_map_readonly(path.s, &m) != 0) {
      log3("cannot map the listing ", path.s, "; directories show their physical skeleton");
      return {};
    }
    const unsigned char* mine = static_cast<const unsigned char*>(m.base);
    // Every racer maps the same file, so each may store its length before the base is
    // published: a reader that sees the base sees the length (no window to wait out, which a
    // fork or a signal handler in between could make endless).
    __atomic_store_n(&p->listing_len, m.len, __ATOMIC_RELEASE);
    const unsigned char* expected = nullptr;
    if (__atomic_compare_exchange_n(&p->listing, &expected, mine, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
      base = mine;
    } else {
      vdir::vdir_unmap(&m);
      base = expected;
    }
  }
  return view_of(base, __atomic_load_n(&p->listing_len, __ATOMIC_ACQUIRE));
}

int cmp_path(const char* a, uint32_t an, const char* b, uint32_t bn) {
  const int c = std::memcmp(a, b, an < bn ? an : bn);
  return c ? c : (an < bn ? -1 : an > bn ? 1 : 0);
}

// First entry whose path is >= KEY.
uint64_t lower_bound(const ListingView& v, const char* key, uint32_t klen) {
  uint64_t lo = 0, hi = v.count;
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    uint32_t n;
    const char* p = v.path(mid, &n);
    if (cmp_path(p, n, key, klen) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

size_t reclen_of(size_t name_len) { return (19 + name_len + 1 + 7) & ~size_t{7}; }

struct Writer {
  char* buf;
  size_t cap;
  size_t len;
  bool add(uint64_t ino, uint8_t type, const char* name, size_t n) {
    const size_t rl = reclen_of(n);
    if (len + rl > cap) return false;
    char* r = buf + len;
    std::memset(r, 0, rl);
    std::memcpy(r, &ino, 8);
    const int64_t next = static_cast<int64_t>(len + rl);
    std::memcpy(r + 8, &next, 8);
    const uint16_t rl16 = static_cast<uint16_t>(rl);
    std::memcpy(r + 16, &rl16, 2);
    r[18] = static_cast<char>(type);
    std::memcpy(r + 19, name, n);
    len += rl;
    return true;
  }
};

uint8_t dtype_of(uint32_t mode) {
  switch (mode & vdir::kModeTypeMask) {
  case vdir::kModeDir:
    return DT_DIR;
  case vdir::kModeLink:
    return DT_LNK;
  case vdir::kModeReg:
    return DT_REG;
  default:
    return DT_UNKNOWN;
  }
}

char* map_anon(size_t n) {
  const long r = sys::call6(SYS_mmap, 0, static_cast<long>(n), PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return sys::failed(r) ? nullptr : reinterpret_cast<char*>(r);
}

// Reads every physical entry of FD into the anonymous mapping *BUF of *MAP_LEN bytes (made when
// *BUF is null, grown when too small); *OUT_LEN bytes of linux_dirent64 records. Returns 0 or
// -errno (the mapping, if any, stays *BUF's).
int read_physical(int fd, char** bufp, size_t* out_len, size_t* map_len) {
  size_t cap = *map_len, len = 0;
  char* buf = *bufp;
  if (!buf) {
    cap = 32768;
    buf = map_anon(cap);
    if (!buf) return -ENOMEM;
    *bufp = buf;
    *map_len = cap;
  }
  sys::call6(SYS_lseek, fd, 0, SEEK_SET);
  for (;;) {
    if (cap - len < 4096) {
      const long r = sys::call6(SYS_mremap, sys::arg(buf), static_cast<long>(cap),
                                static_cast<long>(cap * 2), MREMAP_MAYMOVE);
      if (sys::failed(r)) return -ENOMEM;
      buf = reinterpret_cast<char*>(r);
      cap *= 2;
      *bufp = buf;
      *map_len = cap;
    }
    const long n =
        sys::call6(SYS_getdents64, fd, sys::arg(buf + len), static_cast<long>(cap - len));
    if (n == 0) break;
    if (sys::failed(n)) break; // an unreadable skeleton lists only the manifest's entries
    len += static_cast<size_t>(n);
  }
  *out_len = len;
  return 0;
}

bool is_dot(const char* name) {
  return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

// KEY = REL + "/" (or "" for the root): the prefix every child's path starts with.
void child_prefix(const char* rel, uint32_t rel_len, PathBuf* key) {
  key->len = 0;
  (void)append(key->s, &key->len, kPathMax, rel, rel_len);
  if (rel_len) (void)append(key->s, &key->len, kPathMax, "/", 1);
}

// Calls FN(index, path, path_len) for each manifest entry that is a direct child of the
// directory whose children start with PREFIX, skipping each grandchild subtree with one binary
// search (its entries are contiguous: they all start with "child/").
template <typename Fn> void for_each_child(const ListingView& v, const PathBuf& prefix, Fn fn) {
  uint64_t i = lower_bound(v, prefix.s, prefix.len);
  PathBuf skip;
  while (i < v.count) {
    uint32_t n;
    const char* path = v.path(i, &n);
    if (n <= prefix.len || std::memcmp(path, prefix.s, prefix.len) != 0) break;
    const void* slash = std::memchr(path + prefix.len, '/', n - prefix.len);
    if (slash) { // inside a child directory: jump past "child/"
      skip.len = 0;
      (void)append(skip.s, &skip.len, kPathMax, path,
                   static_cast<size_t>(static_cast<const char*>(slash) - path));
      (void)append(skip.s, &skip.len, kPathMax, "0", 1); // '/' + 1
      i = lower_bound(v, skip.s, skip.len);
      continue;
    }
    fn(i, path, n);
    ++i;
  }
}

// Fills W with the listing of directory REL of projection PROJ.
void build(Writer* w, int proj, const char* rel, uint32_t rel_len, const vdir::VdirStat& self,
           const char* phys, size_t phys_len) {
  Projection* p = &g_state.proj[proj];
  PathBuf key;
  child_prefix(rel, rel_len, &key);
  const uint32_t prefix_len = key.len;
  // "." and ".."
  w->add(projected_ino(self), DT_DIR, ".", 1);
  uint64_t parent_ino = p->parent_ino;
  if (rel_len) {
    uint32_t pl = rel_len;
    while (pl > 0 && rel[pl - 1] != '/')
      --pl;
    vdir::VdirStat pst;
    if (p->reader.lookup(rel, pl ? pl - 1 : 0, &pst) == vdir::VdirResult::kHit)
      parent_ino = projected_ino(pst);
  }
  w->add(parent_ino, DT_DIR, "..", 2);
  // The manifest's children.
  const ListingView v = listing_of(p);
  if (v.ok()) {
    for_each_child(v, key, [&](uint64_t i, const char* path, uint32_t n) {
      const char* name = path + prefix_len;
      const uint32_t name_len = n - prefix_len;
      vdir::VdirStat st;
      const vdir::VdirResult r = p->reader.lookup(path, n, &st);
      if (r == vdir::VdirResult::kHit) {
        w->add(projected_ino(st), dtype_of(st.mode), name, name_len);
      } else if (r != vdir::VdirResult::kDeleted && r != vdir::VdirResult::kStale) {
        const uint8_t t = v.type(i);
        w->add(0,
               t == kTypeDir       ? DT_DIR
               : t == kTypeSymlink ? DT_LNK
               : t == kTypeFile    ? DT_REG
                                   : DT_UNKNOWN,
               name, name_len);
      }
    });
  }
  // What physically exists and the manifest does not list (or lists, but a program of the
  // session changed it on disk: stale, so the disk says whether it is there).
  for (size_t off = 0; off + 19 < phys_len;) {
    const char* r = phys + off;
    uint16_t rl;
    std::memcpy(&rl, r + 16, 2);
    if (rl == 0) break;
    off += rl;
    const char* name = r + 19;
    if (is_dot(name)) continue;
    const size_t nl = slen(name);
    key.len = prefix_len;
    if (!append(key.s, &key.len, kPathMax, name, nl)) continue;
    vdir::VdirStat st;
    const vdir::VdirResult res = p->reader.lookup(key.s, key.len, &st);
    if (res == vdir::VdirResult::kDeleted) continue;
    if (res == vdir::VdirResult::kHit) {
      if (st.flags & vdir::kFlagFromManifest) continue; // listed above
      w->add(projected_ino(st), dtype_of(st.mode), name, nl);
      continue;
    }
    uint64_t ino;
    std::memcpy(&ino, r, 8);
    w->add(ino, static_cast<uint8_t>(r[18]), name, nl);
  }
}

// Upper bound of the bytes the listing of REL needs.
size_t bound(Projection* p, const char* rel, uint32_t rel_len, size_t phys_len) {
  size_t total = 2 * reclen_of(2) + phys_len;
  const ListingView v = listing_of(p);
  if (!v.ok()) return total;
  PathBuf key;
  child_prefix(rel, rel_len, &key);
  for_each_child(v, key,
                 [&](uint64_t, const char*, uint32_t n) { total += reclen_of(n - key.len); });
  return total;
}

DirStream* at(int idx) { return idx >= 0 && idx < kMaxDirStreams ? &g_dirs[idx] : nullptr; }

} // namespace

namespace {

// The listing of directory FD (REL in projection PROJ, whose own entry is SELF) for stream D:
// into *BUF_OUT (of *MAP_LEN_OUT bytes) when it fits there, else into a new anonymous mapping
// (at least 16 KiB, so that the next directory is likely to fit); *LEN_OUT bytes used. The
// physical entries are read into D's own buffer. Returns 0 or -errno.
int make_listing(DirStream* d, int fd, int proj, const char* rel, uint32_t rel_len,
                 const vdir::VdirStat& self, char** buf_out, size_t* len_out, size_t* map_len_out) {
  size_t phys_len = 0;
  if (const int e = read_physical(fd, &d->phys, &phys_len, &d->phys_map); e != 0) return e;
  const size_t need = bound(&g_state.proj[proj], rel, rel_len, phys_len);
  const bool fits = *buf_out != nullptr && need <= *map_len_out;
  const size_t fresh = (need + 4095) & ~size_t{4095};
  const size_t map_len = fits ? *map_len_out : fresh > 16384 ? fresh : 16384;
  char* buf = fits ? *buf_out : map_anon(map_len);
  if (!buf) return -ENOMEM;
  Writer w{buf, map_len, 0};
  build(&w, proj, rel, rel_len, self, d->phys, phys_len);
  *buf_out = buf;
  *len_out = w.len;
  *map_len_out = map_len;
  return 0;
}

} // namespace

int dirstream_open(int fd, int proj, const char* rel, uint32_t rel_len,
                   const vdir::VdirStat& self) {
  int idx = -1;
  for (int i = 0; i < kMaxDirStreams; ++i) {
    uint32_t expected = 0;
    if (__atomic_load_n(&g_dirs[i].in_use, __ATOMIC_RELAXED) == 0 &&
        __atomic_compare_exchange_n(&g_dirs[i].in_use, &expected, 1, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_RELAXED)) {
      idx = i;
      break;
    }
  }
  if (idx < 0) return -EMFILE;
  DirStream* d = &g_dirs[idx];
  // The slot's buffer from its last stream, if any (released streams keep theirs).
  char* buf = d->buf;
  size_t len = 0, map_len = d->map_len;
  if (const int e = make_listing(d, fd, proj, rel, rel_len, self, &buf, &len, &map_len); e != 0) {
    __atomic_store_n(&d->in_use, 0, __ATOMIC_RELEASE);
    return e;
  }
  if (d->buf && buf != d->buf)
    sys::call6(SYS_munmap, sys::arg(d->buf), static_cast<long>(d->map_len));
  for (int i = 0; i < DirStream::kRetired; ++i) {
    d->retired[i] = nullptr;
    d->retired_map[i] = 0;
  }
  d->fd = fd;
  d->buf = buf;
  d->len = len;
  d->map_len = map_len;
  __atomic_store_n(&d->pos, size_t{0}, __ATOMIC_RELEASE);
  return idx;
}

int dirstream_refill(int idx, int proj, const char* rel, uint32_t rel_len,
                     const vdir::VdirStat& self) {
  DirStream* d = at(idx);
  if (!d || !__atomic_load_n(&d->in_use, __ATOMIC_ACQUIRE)) return -EBADF;
  // Rebuilt in place when it fits (a dirent from before stays readable memory); otherwise in a
  // new mapping, the old one retired until the stream is released.
  char* buf = d->buf;
  size_t len = 0, map_len = d->map_len;
  if (const int e = make_listing(d, d->fd, proj, rel, rel_len, self, &buf, &len, &map_len); e != 0)
    return e;
  if (buf != d->buf) {
    unmap_retired(d, DirStream::kRetired - 1);
    for (int i = DirStream::kRetired - 1; i > 0; --i) {
      d->retired[i] = d->retired[i - 1];
      d->retired_map[i] = d->retired_map[i - 1];
    }
    d->retired[0] = d->buf;
    d->retired_map[0] = d->map_len;
    d->buf = buf;
    d->map_len = map_len;
  }
  d->len = len;
  __atomic_store_n(&d->pos, size_t{0}, __ATOMIC_RELEASE);
  return 0;
}

DIR* dirstream_as_dir(int idx) { return reinterpret_cast<DIR*>(at(idx)); }

int dirstream_index(const void* dir) {
  const char* p = static_cast<const char*>(dir);
  const char* b = reinterpret_cast<const char*>(g_dirs);
  if (p < b || p >= b + sizeof g_dirs) return -1;
  const size_t off = static_cast<size_t>(p - b);
  if (off % sizeof(DirStream) != 0) return -1;
  const int idx = static_cast<int>(off / sizeof(DirStream));
  return __atomic_load_n(&g_dirs[idx].in_use, __ATOMIC_ACQUIRE) ? idx : -1;
}

int dirstream_fd(int idx) {
  const DirStream* d = at(idx);
  return d ? d->fd : -1;
}

struct dirent64* dirstream_next(int idx) {
  DirStream* d = at(idx);
  if (!d) return nullptr;
  size_t pos = __atomic_load_n(&d->pos, __ATOMIC_ACQUIRE);
  for (;;) {
    if (pos + 19 > d->len) return nullptr;
    uint16_t rl;
    std::memcpy(&rl, d->buf + pos + 16, 2);
    if (__atomic_compare_exchange_n(&d->pos, &pos, pos + rl, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
      return reinterpret_cast<struct dirent64*>(d->buf + pos);
  }
}

long dirstream_tell(int idx) {
  const DirStream* d = at(idx);
  return d ? static_cast<long>(__atomic_load_n(&d->pos, __ATOMIC_ACQUIRE)) : -1;
}

void dirstream_seek(int idx, long pos) {
  DirStream* d = at(idx);
  if (!d || pos < 0 || static_cast<size_t>(pos) > d->len) return;
  __atomic_store_n(&d->pos, static_cast<size_t>(pos), __ATOMIC_RELEASE);
}

long dirstream_getdents(int idx, void* buf, size_t n) {
  DirStream* d = at(idx);
  if (!d) return -EBADF;
  size_t pos = __atomic_load_n(&d->pos, __ATOMIC_ACQUIRE);
  size_t end = pos;
  while (end + 19 <= d->len) {
    uint16_t rl;
    std::memcpy(&rl, d->buf + end + 16, 2);
    if (end + rl - pos > n) break;
    end += rl;
  }
  if (end == pos) return pos >= d->len ? 0 : -EINVAL;
  std::memcpy(buf, d->buf + pos, end - pos);
  __atomic_store_n(&d->pos, end, __ATOMIC_RELEASE);
  return static_cast<long>(end - pos);
}

void dirstream_release_index(int idx) {
  DirStream* d = at(idx);
  if (!d || !__atomic_load_n(&d->in_use, __ATOMIC_ACQUIRE)) return;
  for (int i = 0; i < DirStream::kRetired; ++i)
    unmap_retired(d, i);
  // The listing's buffer stays with the slot for its next stream (as the physical one does).
  d->len = 0;
  d->fd = -1;
  __atomic_store_n(&d->in_use, 0, __ATOMIC_RELEASE);
}

} // namespace vrift::shim

#include "vrift/shim/core/path.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#if defined(__x86_64__)
#include <immintrin.h>
#if __has_include(<sys/platform/x86.h>)
// glibc 2.33+: the loader's CPU feature table. The header is C: clang's C++ has no _Bool (GCC's
// takes it as an extension).
#define _Bool bool
#include <sys/platform/x86.h>
#undef _Bool
#else
#include <cpuid.h>
#endif
#endif

#include <cstring>

#include "vrift/shim/core/fdtab.h"
#include "vrift/shim/core/str.h"
#include "vrift/util/raw_syscall.h"

namespace vrift::shim {
namespace {

struct CwdCache {
  uint64_t seq; // seqlock: odd while a writer copies
  uint64_t gen; // g_cwd_gen this copy belongs to
  int32_t proj; // projection holding the cwd; -1: none, and none below it; -3: one below it
  uint32_t len;
  uint64_t dev, ino; // of the directory, to catch a chdir the shim did not see
  char path[kPathMax];
};
constinit CwdCache g_cwd{};
uint64_t g_cwd_gen = 1; // bumped by every chdir; the cache starts stale (gen 0)
int g_cwd_writer;       // try-lock between writers

bool has_root_below(const char* path, size_t len);

// Scans PATH once: its length, whether it has a ".." component, and whether it has anything
// normalisation would change (an empty, "." or ".." component, a trailing '/'). This runs on
// every path the program names, so it looks at 32 bytes per step (AVX2; 16 with SSE2 on CPUs
// without it): a '/' followed by '.' or '/' marks the path "unnormal". A component that merely
// starts with '.' (".bin") counts too: that only sends it down the slower, exact road.
struct Scan {
  uint32_t len;
  bool dotdot;
  bool unnormal;
};
// A path's bytes as three bit masks over one block (bit i: byte i): its NUL, its '/', and its '/'
// or '.'. ScanState::step folds one block into the running state; the vector loops below only make
// masks. The aligned loads read past the NUL (within the same aligned block, which never crosses
// a page): fine for the hardware, not for ASan, which would see a read past the string.
struct ScanState {
  uint32_t odd = 0;
  uint32_t carry; // the previous block ended in '/' (a relative path starts as if after one)
  uint32_t consumed = 0;
  // Folds masks Z, SL, DS of NBITS bytes; true when the NUL was in this block (then *R is set).
  bool step(uint32_t z, uint32_t sl, uint32_t ds, uint32_t nbits, Scan* r) {
    if (z) {
      const uint32_t k = static_cast<uint32_t>(__builtin_ctz(z)); // the NUL
      const uint32_t valid = (1u << k) - 1;
      sl &= valid;
      ds &= valid;
      odd |= (sl & (ds >> 1)) != 0;
      odd |= carry & ds & 1u;
      r->len = consumed + k;
      const bool trailing = k ? (sl >> (k - 1)) & 1u : carry && consumed > 0;
      if (trailing && r->len > 1) odd |= 1;
      return true;
    }
    odd |= (sl & (ds >> 1)) != 0;
    odd |= carry & ds & 1u;
    carry = (sl >> (nbits - 1)) & 1u;
    consumed += nbits;
    return false;
  }
};

void finish_scan(const char* p, uint32_t odd, Scan* r) {
  r->unnormal = odd != 0;
  if (odd) { // rare: look for a real ".." component
    for (const char* q = p; *q; ++q)
      if ((q == p || q[-1] == '/') && q[0] == '.' && q[1] == '.' && (q[2] == '\0' || q[2] == '/'))
        r->dotdot = true;
  }
}

#if defined(__x86_64__)
__attribute__((no_sanitize_address)) Scan scan_sse2(const char* p) {
  Scan r{0, false, false};
  ScanState st;
  st.carry = p[0] == '/' ? 0 : 1;
  const uintptr_t addr = reinterpret_cast<uintptr_t>(p);
  const char* a = reinterpret_cast<const char*>(addr & ~uintptr_t{15});
  uint32_t shift = static_cast<uint32_t>(addr & 15);
  const __m128i zero = _mm_setzero_si128(), slash = _mm_set1_epi8('/'), dot = _mm_set1_epi8('.');
  for (;; a += 16, shift = 0) {
    const __m128i v = _mm_load_si128(reinterpret_cast<const __m128i*>(a));
    const __m128i sv = _mm_cmpeq_epi8(v, slash);
    const __m128i dv = _mm_or_si128(sv, _mm_cmpeq_epi8(v, dot));
    const uint32_t z = static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, zero)));
    const uint32_t sl = static_cast<uint32_t>(_mm_movemask_epi8(sv));
    const uint32_t ds = static_cast<uint32_t>(_mm_movemask_epi8(dv));
    if (st.step(z >> shift, sl >> shift, ds >> shift, 16 - shift, &r)) break;
  }
  finish_scan(p, st.odd, &r);
  return r;
}

// 32 bytes a step, chosen at start-up when the CPU and the kernel support AVX2 (cpu_has_avx2).
// A block without the NUL is followed by at least one more byte of the path, so the bytes after
// each of its bytes can be loaded too (unaligned, at a + 1: never past the NUL, so never onto
// an unmapped page), and the "'/' then '/' or '.'" test stays in vector registers: one mask
// accumulated over the blocks, tested once. Only the first block (bytes before the path masked
// off) and the last (the NUL's, where a + 32 may be unmapped) go through masks as in SSE2.
// Bit i: byte i of V is '/' and byte i of NEXT (the byte after it) is '/' or '.'.
__attribute__((target("avx2"), always_inline)) inline __m256i
pairs_avx2(__m256i v, __m256i next, __m256i slash, __m256i dot) {
  return _mm256_and_si256(
      _mm256_cmpeq_epi8(v, slash),
      _mm256_or_si256(_mm256_cmpeq_epi8(next, slash), _mm256_cmpeq_epi8(next, dot)));
}

__attribute__((target("avx2"), no_sanitize_address)) Scan scan_avx2(const char* p) {
  Scan r{0, false, false};
  uint32_t odd = p[0] == '.'; // a relative path starts as if after a '/'
  const uintptr_t addr = reinterpret_cast<uintptr_t>(p);
  const char* a = reinterpret_cast<const char*>(addr & ~uintptr_t{31});
  uint32_t shift = static_cast<uint32_t>(addr & 31);
  const __m256i zero = _mm256_setzero_si256(), slash = _mm256_set1_epi8('/'),
                dot = _mm256_set1_epi8('.');
  __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(a));
  uint32_t z = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, zero))) >> shift;
  uint32_t consumed = 0;
  if (z == 0) {
    const __m256i first =
        pairs_avx2(v, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + 1)), slash, dot);
    odd |= (static_cast<uint32_t>(_mm256_movemask_epi8(first)) >> shift) != 0;
    consumed = 32 - shift;
    __m256i acc = zero;
    for (;;) {
      a += 32;
      v = _mm256_load_si256(reinterpret_cast<const __m256i*>(a));
      z = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, zero)));
      if (z) break;
      acc = _mm256_or_si256(
          acc,
          pairs_avx2(v, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + 1)), slash, dot));
      consumed += 32;
    }
    odd |= !_mm256_testz_si256(acc, acc);
    shift = 0;
  }
  // The NUL's block: its pairs within the block, masked to the bytes before the NUL (a pair
  // across the block's start was counted with the block before).
  const uint32_t k = static_cast<uint32_t>(__builtin_ctz(z));
  const uint32_t valid = (1u << k) - 1;
  const uint32_t sl =
      (static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, slash))) >> shift) & valid;
  const uint32_t ds = (static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_or_si256(
                           _mm256_cmpeq_epi8(v, slash), _mm256_cmpeq_epi8(v, dot)))) >>
                       shift) &
                      valid;
  odd |= (sl & (ds >> 1)) != 0;
  r.len = consumed + k;
  if (r.len > 1 && p[r.len - 1] == '/') odd = 1; // a trailing '/'
  finish_scan(p, odd, &r);
  return r;
}

// The loader has asked the CPU already, and judged what the kernel saves: its table answers
// without a `cpuid` instruction, which a virtual machine traps (3.6 us each on the KVM this
// project is measured on; the four of the fallback below were 35 us of every program start).
bool cpu_has_avx2() {
#if __has_include(<sys/platform/x86.h>)
  return CPU_FEATURE_ACTIVE(AVX2);
#else
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE)) return false;
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & 6) != 6) return false; // the kernel saves XMM and YMM state
  return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_AVX2);
#endif
}

bool g_avx2; // set by path_init(); until then (and on other CPUs) the SSE2 loop runs

inline Scan scan(const char* p) {
  return __atomic_load_n(&g_avx2, __ATOMIC_RELAXED) ? scan_avx2(p) : scan_sse2(p);
}
#else
Scan scan(const char* p) {
  Scan r{0, false, false};
  const unsigned char* c = reinterpret_cast<const unsigned char*>(p);
  uint32_t odd = 0;
  unsigned prev = p[0] == '/' ? 0 : '/';
  for (; *c; ++c) {
    odd |= (prev == '/') & ((*c == '.') | (*c == '/'));
    prev = *c;
  }
  r.len = static_cast<uint32_t>(c - reinterpret_cast<const unsigned char*>(p));
  if (prev == '/' && r.len > 1) odd = 1;
  finish_scan(p, odd, &r);
  return r;
}
#endif

// Whether the N bytes at A and B are equal: a projection root against a path at least as long,
// compared inline 8 bytes at a time (memcmp would be a call through the PLT on every path the
// program names, and most differ in their first word).
inline bool same_bytes(const char* a, const char* b, size_t n) {
  const auto word = [](const char* q) {
    uint64_t v;
    __builtin_memcpy(&v, q, 8);
    return v;
  };
  if (n < 8) {
    for (size_t i = 0; i < n; ++i)
      if (a[i] != b[i]) return false;
    return true;
  }
  for (size_t i = 0; i + 8 < n; i += 8)
    if (word(a + i) != word(b + i)) return false;
  return word(a + n - 8) == word(b + n - 8);
}

// -1: cwd outside every projection with none below it; >= 0: inside that one; -3: a projection
// lies below it; -2: not known without a syscall.
int cwd_proj_fast() {
  const uint64_t s1 = __atomic_load_n(&g_cwd.seq, __ATOMIC_ACQUIRE);
  if (s1 & 1) return -2;
  const uint64_t gen = __atomic_load_n(&g_cwd.gen, __ATOMIC_RELAXED);
  const int32_t proj = __atomic_load_n(&g_cwd.proj, __ATOMIC_RELAXED);
  __atomic_thread_fence(__ATOMIC_ACQUIRE);
  if (__atomic_load_n(&g_cwd.seq, __ATOMIC_RELAXED) != s1) return -2;
  if (gen != __atomic_load_n(&g_cwd_gen, __ATOMIC_ACQUIRE)) return -2;
  return proj;
}

// Copies the cwd into BUF: from the cache when it is current, else from the kernel (publishing
// it for the next caller unless this is a vfork child). False when the cwd cannot be had.
// glibc's own chdir calls (nftw with FTW_CHDIR, fts) bypass the shim's chdir hook, so a copy
// is checked against the directory "." really is before a path is built on it (one fstatat,
// on this slower road only).
bool cwd_copy(PathBuf* buf) {
  const uint64_t want = __atomic_load_n(&g_cwd_gen, __ATOMIC_ACQUIRE);
  const uint64_t s1 = __atomic_load_n(&g_cwd.seq, __ATOMIC_ACQUIRE);
  struct stat dot;
  const bool have_dot =
      !sys::failed(sys::call6(SYS_newfstatat, AT_FDCWD, sys::arg("."), sys::arg(&dot), 0));
  if (!(s1 & 1) && __atomic_load_n(&g_cwd.gen, __ATOMIC_RELAXED) == want && have_dot) {
    const uint32_t len = __atomic_load_n(&g_cwd.len, __ATOMIC_RELAXED);
    const uint64_t dev = __atomic_load_n(&g_cwd.dev, __ATOMIC_RELAXED);
    const uint64_t ino = __atomic_load_n(&g_cwd.ino, __ATOMIC_RELAXED);
    if (len < kPathMax && dev == static_cast<uint64_t>(dot.st_dev) &&
        ino == static_cast<uint64_t>(dot.st_ino)) {
      std::memcpy(buf->s, g_cwd.path, len);
      __atomic_thread_fence(__ATOMIC_ACQUIRE);
      if (__atomic_load_n(&g_cwd.seq, __ATOMIC_RELAXED) == s1) {
        buf->s[len] = '\0';
        buf->len = len;
        return true;
      }
    }
  }
  const long r = sys::call6(SYS_getcwd, sys::arg(buf->s), kPathMax);
  if (sys::failed(r) || r < 2 || buf->s[0] != '/') return false; // "(unreachable)/..."
  buf->len = static_cast<uint32_t>(r - 1);
  // Publish, unless another writer is at it or this is a vfork child (same memory, own cwd).
  if (!have_dot || sys::call6(SYS_getpid) != g_state.pid) return true;
  if (__atomic_exchange_n(&g_cwd_writer, 1, __ATOMIC_ACQUIRE)) return true;
  const Located l = classify(buf);
  const int32_t where = l.where == Where::kInside          ? l.proj
                        : has_root_below(buf->s, buf->len) ? -3
                                                           : -1;
  const uint64_t seq = __atomic_load_n(&g_cwd.seq, __ATOMIC_RELAXED);
  __atomic_store_n(&g_cwd.seq, seq + 1, __ATOMIC_RELAXED);
  __atomic_thread_fence(__ATOMIC_RELEASE);
  std::memcpy(g_cwd.path, buf->s, buf->len);
  __atomic_store_n(&g_cwd.len, buf->len, __ATOMIC_RELAXED);
  __atomic_store_n(&g_cwd.proj, where, __ATOMIC_RELAXED);
  __atomic_store_n(&g_cwd.dev, static_cast<uint64_t>(dot.st_dev), __ATOMIC_RELAXED);
  __atomic_store_n(&g_cwd.ino, static_cast<uint64_t>(dot.st_ino), __ATOMIC_RELAXED);
  __atomic_store_n(&g_cwd.gen, want, __ATOMIC_RELAXED);
  __atomic_store_n(&g_cwd.seq, seq + 2, __ATOMIC_RELEASE);
  __atomic_store_n(&g_cwd_writer, 0, __ATOMIC_RELEASE);
  return true;
}

// Does a projection root lie strictly below the absolute, normal PATH (LEN bytes)?
bool has_root_below(const char* path, size_t len) {
  if (len == 1 && path[0] == '/') return g_state.nproj > 0;
  for (int i = 0; i < g_state.nproj; ++i) {
    const Projection& p = g_state.proj[i];
    if (p.root_len > len && std::memcmp(p.root, path, len) == 0 && p.root[len] == '/') return true;
  }
  return false;
}

// Is the absolute PATH (LEN bytes, normal) under a root? Returns the projection or -1.
int root_of(const char* path, size_t len, uint32_t* rel_off) {
  for (int i = 0; i < g_state.nproj; ++i) {
    const Projection& p = g_state.proj[i];
    if (len < p.root_len || !same_bytes(path, p.root, p.root_len)) continue;
    if (len == p.root_len) {
      *rel_off = p.root_len;
      return i;
    }
    if (path[p.root_len] == '/') {
      *rel_off = p.root_len + 1;
      return i;
    }
  }
  return -1;
}

// The absolute path of directory fd DIRFD into BUF.
bool dirfd_path(int dirfd, PathBuf* buf) {
  if (const FdEntry* e = fd_projected_dir(dirfd)) {
    const Projection& p = g_state.proj[e->proj];
    buf->len = 0;
    if (!append(buf->s, &buf->len, kPathMax, p.root, p.root_len)) return false;
    if (e->rel_len && (!append(buf->s, &buf->len, kPathMax, "/", 1) ||
                       !append(buf->s, &buf->len, kPathMax, e->rel, e->rel_len)))
      return false;
    return true;
  }
  char link[32] = "/proc/self/fd/";
  uint32_t n = 14;
  n += u64_dec(static_cast<uint64_t>(dirfd), link + n);
  link[n] = '\0';
  const long r =
      sys::call6(SYS_readlinkat, AT_FDCWD, sys::arg(link), sys::arg(buf->s), kPathMax - 1);
  if (sys::failed(r) || r == 0 || buf->s[0] != '/') return false;
  buf->len = static_cast<uint32_t>(r);
  buf->s[buf->len] = '\0';
  return true;
}

} // namespace

bool path_init(bool allow_avx2) {
#if defined(__x86_64__)
  __atomic_store_n(&g_avx2, allow_avx2 && cpu_has_avx2(), __ATOMIC_RELAXED);
  return __atomic_load_n(&g_avx2, __ATOMIC_RELAXED);
#else
  (void)allow_avx2;
  return false;
#endif
}

void cwd_invalidate() { __atomic_fetch_add(&g_cwd_gen, 1, __ATOMIC_ACQ_REL); }

void cwd_after_fork() {
  const uint64_t seq = __atomic_load_n(&g_cwd.seq, __ATOMIC_RELAXED);
  if (seq & 1) __atomic_store_n(&g_cwd.seq, seq + 1, __ATOMIC_RELEASE);
  __atomic_store_n(&g_cwd_writer, 0, __ATOMIC_RELEASE);
  cwd_invalidate();
}

bool outside_with_nothing_below(const char* path) {
  const Scan s = scan(path);
  if (path[0] != '/' || s.unnormal) return false;
  uint32_t off;
  return root_of(path, s.len, &off) < 0 && !has_root_below(path, s.len);
}

Quick quick_classify(int dirfd, const char* path) {
  const Quick unknown{Where::kUnknown, -1, 0, 0};
  if (path[0] == '/') {
    const Scan s = scan(path);
    if (s.unnormal) return unknown;
    uint32_t off = 0;
    const int p = root_of(path, s.len, &off);
    if (p < 0) return Quick{Where::kOutside, -1, 0, s.len};
    return Quick{Where::kInside, p, off, s.len};
  }
  if (path[0] == '\0') return unknown;
  if (dirfd == AT_FDCWD) {
    if (cwd_proj_fast() != -1) return unknown;
  } else if (fd_kind(dirfd) != kFdOutsideDir) {
    return unknown;
  }
  return scan(path).dotdot ? unknown : Quick{Where::kOutside, -1, 0, 0};
}

void normalize(PathBuf* buf) {
  char* s = buf->s;
  const uint32_t n = buf->len;
  buf->dir_only = n > 1 && (s[n - 1] == '/' || (s[n - 1] == '.' && s[n - 2] == '/') ||
                            (n > 2 && s[n - 1] == '.' && s[n - 2] == '.' && s[n - 3] == '/'));
  uint32_t out = 0; // s[0, out) is the normal prefix built so far (starts with '/')
  uint32_t i = 0;
  while (i < n) {
    while (i < n && s[i] == '/')
      ++i;
    const uint32_t b = i;
    while (i < n && s[i] != '/')
      ++i;
    const uint32_t clen = i - b;
    if (clen == 0 || (clen == 1 && s[b] == '.')) continue;
    if (clen == 2 && s[b] == '.' && s[b + 1] == '.') {
      while (out > 0 && s[out - 1] != '/')
        --out;
      if (out > 0) --out; // drop the '/' too (the root stays as out == 0)
      continue;
    }
    s[out++] = '/';
    std::memmove(s + out, s + b, clen);
    out += clen;
  }
  if (out == 0) s[out++] = '/';
  s[out] = '\0';
  buf->len = out;
}

Located classify(const PathBuf* buf) {
  uint32_t off = 0;
  const int p = root_of(buf->s, buf->len, &off);
  return p < 0 ? Located{Where::kOutside, -1, 0} : Located{Where::kInside, p, off};
}

bool absolute_raw(int dirfd, const char* path, PathBuf* buf) {
  const size_t plen = slen(path);
  buf->len = 0;
  buf->dir_only = false;
  if (plen == 0 || plen >= kPathMax) return false;
  if (path[0] != '/') {
    if (dirfd == AT_FDCWD ? !cwd_copy(buf) : !dirfd_path(dirfd, buf)) return false;
    if (!append(buf->s, &buf->len, kPathMax, "/", 1)) return false;
  }
  return append(buf->s, &buf->len, kPathMax, path, plen);
}

bool has_dotdot(const char* path) { return scan(path).dotdot; }

bool fd_dir_rel(int fd, const FdEntry* e, PathBuf* buf, const char** rel, uint32_t* len) {
  if (e->rel) {
    *rel = e->rel;
    *len = e->rel_len;
    return true;
  }
  if (!dirfd_path(fd, buf)) return false;
  normalize(buf);
  const Located l = classify(buf);
  if (l.where != Where::kInside || l.proj != e->proj) return false;
  *rel = buf->s + l.rel_off;
  *len = buf->len - l.rel_off;
  return true;
}

Located locate(int dirfd, const char* path, PathBuf* buf) {
  if (!absolute_raw(dirfd, path, buf)) return Located{Where::kUnknown, -1, 0};
  normalize(buf);
  return classify(buf);
}

} // namespace vrift::shim

// `vrift run [--manifest FILE]... -- CMD`'s fast path: the usual case (every session already open
// in a running daemon, its skeleton and, zero-config, its tree vouched for) done before the C
// library starts, from the process's entry point, in ~0.15 ms of system calls. The C++ program
// that does it in full costs 0.6-0.9 ms more on the machine the benchmarks run on: glibc's
// start-up (~60 `cpuid`, each a trap to the hypervisor), the static PIE's self-relocation, the
// C++ static constructors and CLI11, ~90 more page faults, and tearing all of that down at the
// exec (docs/run.md, "The fast path"). Anything it does not handle exactly as the full path would,
// it leaves to the full path: it returns, and the entry stub jumps to glibc's `_start` with the
// stack as the kernel gave it. So it decides only when the answer is the same: same checks, same
// environment, same exec; every refusal and every message stays the full path's.
//
// Freestanding, and more than the shim: it runs before the static PIE has relocated itself and
// before glibc has resolved its IFUNCs or set up TLS. So: no libc call (not even memcpy, which
// is an IFUNC), no global variable holding an address (it would need a relocation), no stack
// protector (its canary lives in TLS). System calls are made inline (util/raw_syscall.h), all
// memory is the stack. The build checks the object file (check_fast_run.sh): no undefined
// symbol, no absolute relocation, no thread-local storage. Its string helpers repeat the shim's
// and the codec's for that reason: theirs call memcpy and strlen.
#include <errno.h>
#include <fcntl.h>
#include <linux/limits.h>
#include <linux/openat2.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>

#include "vrift/proto/messages.h"
#include "vrift/proto/wire.h"
#include "vrift/run/plan.h" // kMaxProjections only: nothing of it is called
#include "vrift/util/raw_syscall.h"

#if defined(__x86_64__)

extern "C" __attribute__((visibility("hidden"), used)) void vrift_fast_run(long* sp);

// The ELF entry point (linked with -e vrift_entry). The kernel (or, in a dynamically linked
// build, the loader) leaves argc at (%rsp) and, in %rdx, a function for atexit; both go to
// glibc's `_start` untouched when the fast path returns. %r12 and %r13 are callee-saved.
asm(R"(
  .pushsection .text
  .globl vrift_entry
  .type vrift_entry, @function
vrift_entry:
  mov %rdx, %r12
  mov %rsp, %r13
  mov %rsp, %rdi
  and $-16, %rsp
  call vrift_fast_run
  mov %r13, %rsp
  mov %r12, %rdx
  jmp _start
  .size vrift_entry, .-vrift_entry
  .popsection
)");

namespace {

using vrift::sys::arg;
using vrift::sys::call6;
using vrift::sys::failed;
namespace proto = vrift::proto;

// ---- Strings ---------------------------------------------------------------------------------

size_t len(const char* s) {
  size_t n = 0;
  while (s[n])
    ++n;
  return n;
}
bool eq(const char* a, const char* b) {
  while (*a && *a == *b)
    ++a, ++b;
  return *a == *b;
}
bool eqn(const char* a, const char* b, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return false;
  return true;
}
bool starts(const char* s, const char* prefix) {
  while (*prefix)
    if (*s++ != *prefix++) return false;
  return true;
}
void copy(char* d, const char* s, size_t n) {
  for (size_t i = 0; i < n; ++i)
    d[i] = s[i];
}
bool has_any(const char* s, size_t n, char a, char b) {
  for (size_t i = 0; i < n; ++i)
    if (s[i] == a || s[i] == b) return true;
  return false;
}

// The protocol's `abspath` (docs/protocol.md): 1 to 4,096 bytes from '/', no NUL, no empty, "."
// or ".." component, no trailing '/' (but "/").
bool abspath_ok(const char* p, size_t n) {
  if (n == 0 || n > 4096 || p[0] != '/') return false;
  if (n == 1) return true;
  if (p[n - 1] == '/') return false;
  for (size_t i = 0; i < n; ++i) {
    if (p[i] == 0) return false;
    if (p[i] != '/') continue;
    const size_t j = i + 1;
    if (j < n && p[j] == '/') return false;
    if (j < n && p[j] == '.' && (j + 1 == n || p[j + 1] == '/')) return false;
    if (j + 1 < n && p[j] == '.' && p[j + 1] == '.' && (j + 2 == n || p[j + 2] == '/'))
      return false;
  }
  return true;
}

// All strings this path makes live in one arena on the stack; running out is a reason to
// leave the work to the full path, never an error. Strings are built in place (Cat), so that
// the stack pages touched stay few: each one is a page fault, ~2 us on the benchmarks' VM.
class Arena {
public:
  Arena(char* mem, size_t cap) : m_mem(mem), m_cap(cap) {}
  // A copy of the N bytes at S, NUL-terminated; null when full (or while a Cat builds).
  char* dup(const char* s, size_t n) {
    char* p = take(n + 1);
    if (!p) return nullptr;
    copy(p, s, n);
    p[n] = 0;
    return p;
  }
  char* take(size_t n) {
    if (m_building || n > m_cap - m_used) return nullptr;
    char* p = m_mem + m_used;
    m_used += (n + 7) & ~size_t{7};
    if (m_used > m_cap) m_used = m_cap;
    return p;
  }
  // The free space, for one Cat at a time; null while another builds.
  char* begin(size_t* room) {
    if (m_building || m_used == m_cap) return nullptr;
    m_building = true;
    *room = m_cap - m_used;
    return m_mem + m_used;
  }
  // Ends the build: N bytes were written at begin()'s pointer (N < room).
  char* commit(size_t n) {
    m_building = false;
    char* p = m_mem + m_used;
    p[n] = 0;
    return take(n + 1);
  }
  void abandon() { m_building = false; }

private:
  char* m_mem;
  size_t m_cap, m_used = 0;
  bool m_building = false;
};

// Concatenation in the arena: Cat(a).add(b).add(c).str(). One at a time: the arena refuses
// other allocations until str() (or the Cat's end), so a misuse leaves the fast path instead
// of overwriting a string.
class Cat {
public:
  explicit Cat(Arena& a) : m_a(a), m_buf(a.begin(&m_room)), m_ok(m_buf != nullptr) {}
  Cat(const Cat&) = delete;
  Cat& operator=(const Cat&) = delete;
  ~Cat() {
    if (m_buf && !m_done) m_a.abandon();
  }
  Cat& add(const char* s, size_t n) {
    if (m_ok && !m_done && n < m_room - m_n) {
      copy(m_buf + m_n, s, n);
      m_n += n;
    } else {
      m_ok = false;
    }
    return *this;
  }
  Cat& add(const char* s) {
    if (!s) m_ok = false;
    return s ? add(s, len(s)) : *this;
  }
  Cat& add(char c) { return add(&c, 1); }
  Cat& add_u64(uint64_t v) {
    char d[20];
    size_t n = 0;
    do {
      d[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v);
    while (n)
      add(d[--n]);
    return *this;
  }
  char* str() {
    if (!m_buf || m_done) return nullptr;
    m_done = true;
    if (!m_ok) {
      m_a.abandon();
      return nullptr;
    }
    return m_a.commit(m_n);
  }

private:
  Arena& m_a;
  size_t m_room = 0;
  char* m_buf;
  size_t m_n = 0;
  bool m_ok;
  bool m_done = false;
};

// ---- System calls ------------------------------------------------------------------------------

long sys_open(const char* path, long flags) {
  return call6(SYS_openat, AT_FDCWD, arg(path), flags | O_CLOEXEC, 0);
}
void sys_close(long fd) { call6(SYS_close, fd); }
bool sys_stat(const char* path, struct stat* st) {
  return !failed(call6(SYS_newfstatat, AT_FDCWD, arg(path), arg(st), 0));
}
bool sys_fstat(long fd, struct stat* st) { return !failed(call6(SYS_fstat, fd, arg(st))); }
long sys_access(const char* path, long mode) {
  return call6(SYS_faccessat, AT_FDCWD, arg(path), mode);
}
// Up to N bytes of FD from OFF (fewer at its end); how many.
size_t sys_pread(long fd, void* buf, size_t n, uint64_t off) {
  size_t got = 0;
  while (got < n) {
    long r = call6(SYS_pread64, fd, arg(static_cast<char*>(buf) + got), static_cast<long>(n - got),
                   static_cast<long>(off + got));
    if (r == -EINTR) continue;
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  return got;
}
bool sys_pread_all(long fd, void* buf, size_t n, uint64_t off) {
  return sys_pread(fd, buf, n, off) == n;
}
void say(const char* s) { call6(SYS_write, 2, arg(s), static_cast<long>(len(s))); }

// What the kernel calls the file FD is, from the descriptor's /proc link: realpath(3) of the path
// it was opened by. Null when /proc is not mounted.
char* fd_path(Arena& a, long fd) {
  char link[32] = "/proc/self/fd/";
  size_t n = 14;
  char d[12];
  size_t k = 0;
  for (long v = fd; v || k == 0; v /= 10)
    d[k++] = static_cast<char>('0' + v % 10);
  while (k)
    link[n++] = d[--k];
  link[n] = 0;
  char buf[PATH_MAX];
  long r = call6(SYS_readlinkat, AT_FDCWD, arg(link), arg(buf), sizeof buf);
  if (failed(r) || r == 0 || r >= static_cast<long>(sizeof buf) || buf[0] != '/') return nullptr;
  return a.dup(buf, static_cast<size_t>(r));
}
// Whether PATH is absolute with no ".", ".." or empty component and no trailing slash ("/"
// aside): its own realpath(3) when none of its components is a symlink.
bool lexically_canonical(const char* p) {
  if (p[0] != '/') return false;
  if (p[1] == 0) return true;
  for (const char* s = p; *s;) { // s: a '/'
    const char* c = s + 1;
    const char* e = c;
    while (*e && *e != '/')
      ++e;
    const size_t n = static_cast<size_t>(e - c);
    if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.')) return false;
    s = e;
  }
  return true;
}

// PATH opened with FLAGS, and its realpath(3) in *CANON (null when it cannot be resolved): a
// lexically canonical path opened with no symlink on the way (openat2's RESOLVE_NO_SYMLINKS) is
// its own, which spares the readlink of /proc/self/fd (3.2-3.6 us here, against 2.3-2.8 us for
// the open); otherwise, or on a kernel without openat2 (before 5.6), the /proc link says it.
// The descriptor, or the open's error.
long open_canonical(Arena& a, const char* path, long flags, char** canon) {
  *canon = nullptr;
  if (lexically_canonical(path)) {
    struct open_how how = {};
    how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
    how.resolve = RESOLVE_NO_SYMLINKS;
    const long fd = call6(SYS_openat2, AT_FDCWD, arg(path), arg(&how), sizeof how);
    if (!failed(fd)) {
      *canon = a.dup(path, len(path));
      return fd;
    }
  }
  const long fd = sys_open(path, flags);
  if (!failed(fd)) *canon = fd_path(a, fd);
  return fd;
}

// realpath(3) of PATH (symlinks followed); null when it does not exist, or (DIR) is no directory.
char* canonical(Arena& a, const char* path, bool dir = false) {
  char* c = nullptr;
  const long fd = open_canonical(a, path, O_PATH | (dir ? O_DIRECTORY : 0), &c);
  if (failed(fd)) return nullptr;
  sys_close(fd);
  return c;
}

// ---- The environment, and the paths vrift derives from it (config/paths.cpp) ------------------

const char* env_get(char** envp, const char* name) {
  for (char** e = envp; *e; ++e) {
    const char* kv = *e;
    size_t i = 0;
    while (name[i] && kv[i] == name[i])
      ++i;
    if (!name[i] && kv[i] == '=') return kv + i + 1;
  }
  return nullptr;
}

// expand_path() for the values this path accepts: absolute, trailing slashes dropped. Anything
// else (relative, "~") is left to the full path: null.
char* absolute_dir(Arena& a, const char* v) {
  if (!v || v[0] != '/') return nullptr;
  size_t n = len(v);
  while (n > 1 && v[n - 1] == '/')
    --n;
  return a.dup(v, n);
}

// ---- The daemon's socket ------------------------------------------------------------------------

struct Conn {
  long fd = -1;
  uint32_t next_id = 1;
  char buf[8448]; // every v1 reply fits (proto/codec.h kMaxV1Frame, 8,256 bytes)
};

void put16(char* p, uint16_t v) {
  p[0] = static_cast<char>(v);
  p[1] = static_cast<char>(v >> 8);
}
void put32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    p[i] = static_cast<char>(v >> (8 * i));
}
void put64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    p[i] = static_cast<char>(v >> (8 * i));
}
uint64_t get(const char* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i)
    v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// Appends a frame of TYPE with payload P (N bytes) at OUT + *AT; false when it does not fit.
bool frame(char* out, size_t cap, size_t* at, Conn& c, proto::MsgType type, const char* p,
           size_t n) {
  if (cap - *at < proto::kHeaderSize + n) return false;
  char* h = out + *at;
  put32(h, proto::kMagic);
  put16(h + 4, static_cast<uint16_t>(type));
  put16(h + 6, 0);
  put32(h + 8, c.next_id++);
  put32(h + 12, static_cast<uint32_t>(n));
  copy(h + proto::kHeaderSize, p, n);
  *at += proto::kHeaderSize + n;
  return true;
}

bool send_all(Conn& c, const char* p, size_t n) {
  while (n) {
    long r = call6(SYS_sendto, c.fd, arg(p), static_cast<long>(n), MSG_NOSIGNAL, 0, 0);
    if (r == -EINTR) continue;
    if (r == -EAGAIN) {
      struct pollfd pf = {static_cast<int>(c.fd), POLLOUT, 0};
      if (call6(SYS_poll, arg(&pf), 1, proto::kCliRequestTimeoutMs) <= 0) return false;
      continue;
    }
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// Exactly N bytes, waiting at most TIMEOUT_MS for each piece. First, as the full path's client
// does (proto/client.cpp), a moment of yielding the CPU before sleeping in poll: a daemon woken
// on this CPU answers within microseconds, a sleep and a wake-up cost a hundred or more.
bool recv_all(Conn& c, char* p, size_t n, int timeout_ms) {
  int spins = 64;
  while (n) {
    long r = call6(SYS_recvfrom, c.fd, arg(p), static_cast<long>(n), MSG_DONTWAIT, 0, 0);
    if (r > 0) {
      p += r;
      n -= static_cast<size_t>(r);
      continue;
    }
    if (r == 0 || (r != -EAGAIN && r != -EINTR)) return false;
    if (spins-- > 0) {
      call6(SYS_sched_yield);
      continue;
    }
    struct pollfd pf = {static_cast<int>(c.fd), POLLIN, 0};
    if (call6(SYS_poll, arg(&pf), 1, timeout_ms) <= 0) return false;
  }
  return true;
}

// The next frame, which must answer request ID: its type, payload in c.buf, length in *N.
bool reply(Conn& c, uint32_t id, int timeout_ms, uint16_t* type, size_t* n) {
  char h[proto::kHeaderSize];
  if (!recv_all(c, h, sizeof h, timeout_ms)) return false;
  if (get(h, 4) != proto::kMagic || get(h + 6, 2) != 0 || get(h + 8, 4) != id) return false;
  *type = static_cast<uint16_t>(get(h + 4, 2));
  *n = get(h + 12, 4);
  if (*n > sizeof c.buf) return false;
  return recv_all(c, c.buf, *n, timeout_ms);
}

// ---- Manifests (docs/manifest-format.md) --------------------------------------------------------

struct Projection {
  char* manifest = nullptr; // canonical
  char* root = nullptr;     // canonical
  char* vdir = nullptr;
  uint64_t session = 0;
};
using vrift::run::kMaxProjections;

// plan_projection() for a manifest projected where it was ingested from, or (AT, zero-config) at
// AT. Null reason: done.
const char* plan(Arena& a, const char* given, Projection* p, const char* at = nullptr) {
  if (given[0] == '~') return "a manifest path with ~";
  char* canon = nullptr;
  // (O_NONBLOCK: a FIFO must not block)
  const long fd = open_canonical(a, given, O_RDONLY | O_NONBLOCK | O_NOCTTY, &canon);
  if (failed(fd)) return "a manifest that cannot be opened";
  struct stat st;
  char h[128 + 80];
  const char* why = nullptr;
  if (!sys_fstat(fd, &st) || !S_ISREG(st.st_mode))
    why = "a manifest that is not a regular file";
  else if (st.st_size < 128 || !sys_pread_all(fd, h, 128, 0))
    why = "a truncated manifest";
  if (why) {
    sys_close(fd);
    return why;
  }
  // The header's fixed fields, as the reader checks them; anything odd is the full path's to say.
  const uint64_t count = get(h + 24, 8), strings = get(h + 32, 8), size = get(h + 40, 8);
  const uint64_t origin_off = get(h + 48, 4), origin_len = get(h + 52, 4);
  const uint64_t arena = 128 + 80 * (count > (1ull << 40) ? 0 : count);
  if (!eqn(h, "VRIFTMF\0", 8) || get(h + 8, 4) != 1 || get(h + 12, 4) != 128 ||
      get(h + 16, 4) != 80 || get(h + 20, 4) != 0 || get(h + 120, 8) != 0 || count > (1ull << 40) ||
      size != static_cast<uint64_t>(st.st_size) || arena + strings != size || origin_off != 0 ||
      origin_len == 0 || origin_len >= PATH_MAX || origin_len + 1 > strings) {
    sys_close(fd);
    return "a manifest whose header this path does not take";
  }
  // The origin, its NUL, and no NUL inside (the arena's rules).
  char origin[PATH_MAX + 1];
  bool ok = sys_pread_all(fd, origin, origin_len + 1, arena) && origin[origin_len] == 0;
  for (size_t k = 0; ok && k < origin_len; ++k)
    ok = origin[k] != 0;
  // may_have_prefix(): an origin ending in the first entry's first component, or holding it,
  // may mean an ingest with --prefix, which only the registry can tell.
  if (ok && at) {
    // --at: no --prefix question, the root is AT.
  } else if (ok && count > 0 && sys_pread_all(fd, h + 128, 80, 128)) {
    const uint64_t path_off = get(h + 128, 4), path_len = get(h + 132, 4);
    char first[PATH_MAX + 1];
    if (path_len == 0 || path_len > PATH_MAX || path_off != origin_len + 1 ||
        path_off + path_len > strings || !sys_pread_all(fd, first, path_len, arena + path_off)) {
      ok = false;
    } else {
      size_t c = 0;
      while (c < path_len && first[c] != '/')
        ++c;
      for (size_t i = 0; ok && i + c + 1 <= origin_len; ++i) {
        if (origin[i] == '/' && eqn(origin + i + 1, first, c) &&
            (i + 1 + c == origin_len || origin[i + 1 + c] == '/'))
          ok = false;
      }
      if (!ok) why = "a manifest that may have been ingested with --prefix";
    }
  } else if (ok && count > 0) {
    ok = false;
  }
  if (ok) p->manifest = canon;
  sys_close(fd);
  if (!ok) return why ? why : "a manifest this path cannot read";
  if (!p->manifest) return "a manifest path that cannot be resolved";
  if (origin[0] != '/') return "a manifest with a relative origin";
  size_t n = origin_len;
  while (n > 1 && origin[n - 1] == '/')
    --n;
  origin[n] = 0;
  p->root = canonical(a, at ? at : origin, true);
  if (!p->root) return "a projection root that is not a directory";
  if (has_any(p->root, len(p->root), '\t', '\n') ||
      has_any(p->manifest, len(p->manifest), '\t', '\n'))
    return "a path VRIFT_PROJECTIONS cannot carry";
  return nullptr;
}

// Whether absolute PATH lies strictly inside a projection root (run/projected.cpp
// projection_of).
bool inside(const char* path, const Projection* ps, size_t n) {
  size_t pl = len(path);
  for (size_t i = 0; i < n; ++i) {
    size_t rl = len(ps[i].root);
    bool in = rl == 1 ? pl > 1 : pl > rl + 1 && eqn(path, ps[i].root, rl) && path[rl] == '/';
    if (in) return true;
  }
  return false;
}

// ---- The command (run/command.cpp) ------------------------------------------------------------

enum class Judged { Fine, Blind, Script, Unsure };

struct Shebang {
  char interp[PATH_MAX];
  char arg[PATH_MAX];
};

bool is_space(char c) { return c == ' ' || c == '\t'; }

// parse_shebang() of the first bytes HEAD (N of them), which start with "#!".
bool parse_shebang(const char* head, size_t n, Shebang* sb) {
  size_t end = 2;
  while (end < n && head[end] != '\n')
    ++end;
  size_t i = 2;
  while (i < end && is_space(head[i]))
    ++i;
  size_t j = i;
  while (j < end && !is_space(head[j]))
    ++j;
  if (j - i >= sizeof sb->interp) return false;
  copy(sb->interp, head + i, j - i);
  sb->interp[j - i] = 0;
  while (j < end && is_space(head[j]))
    ++j;
  size_t k = end;
  while (k > j && (is_space(head[k - 1]) || head[k - 1] == '\r'))
    --k;
  if (k - j >= sizeof sb->arg) return false;
  copy(sb->arg, head + j, k - j);
  sb->arg[k - j] = 0;
  return true;
}

// check_elf() for what it can answer here (64-bit little-endian): true when the loader runs the
// program (PT_INTERP), false for a static one; *UNSURE for anything else.
bool elf_dynamic(const char* head, size_t n, bool* unsure) {
  *unsure = true;
  if (n < 64 || static_cast<uint8_t>(head[4]) != 2 || head[5] != 1) return false;
  const uint64_t type = get(head + 16, 2);
  if (type != 2 && type != 3) return false;
  const uint64_t phoff = get(head + 32, 8), phentsize = get(head + 54, 2),
                 phnum = get(head + 56, 2);
  if (phnum == 0xffff || phentsize < 4 || phoff > (1u << 20) || phnum * phentsize > (1u << 20))
    return false;
  if (phoff + phnum * phentsize > n) return false; // past the first bytes: not a usual program
  for (uint64_t i = 0; i < phnum; ++i) {
    if (get(head + phoff + i * phentsize, 4) == 3) {
      *unsure = false;
      return true;
    }
  }
  *unsure = false;
  return false;
}

// judge(): whether the shim can be in PATH's process.
Judged judge(const char* path, Shebang* sb) {
  struct stat st;
  if (!sys_stat(path, &st) || !S_ISREG(st.st_mode)) return Judged::Fine;
  if ((st.st_mode & S_ISUID) || ((st.st_mode & S_ISGID) && (st.st_mode & S_IXGRP)))
    return Judged::Blind;
  long x = call6(SYS_getxattr, arg(path), arg("security.capability"), 0, 0);
  if (x > 0) return Judged::Blind;
  long fd = sys_open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK);
  if (failed(fd)) return Judged::Fine;
  char head[4096];
  const size_t n = sys_pread(fd, head, sizeof head, 0);
  Judged j = Judged::Fine;
  if (n >= 2 && head[0] == '#' && head[1] == '!') {
    j = parse_shebang(head, n, sb) ? Judged::Script : Judged::Unsure;
  } else if (n >= 4 && eqn(head,
                           "\x7f"
                           "ELF",
                           4)) {
    bool unsure = false;
    const bool dynamic = elf_dynamic(head, n, &unsure);
    if (unsure) {
      j = Judged::Unsure;
    } else if (!dynamic) {
      // A static program: vrift itself is let through (is_this_program), others are refused.
      struct stat self;
      j = sys_stat("/proc/self/exe", &self) && self.st_dev == st.st_dev && self.st_ino == st.st_ino
              ? Judged::Fine
              : Judged::Blind;
    }
  }
  sys_close(fd);
  return j;
}

// env_program(): the program `#!/usr/bin/env ARGS` runs, into OUT.
void env_program(const char* a, char* out) {
  size_t i = 0;
  out[0] = 0;
  auto next = [&](size_t* s) {
    while (a[i] && is_space(a[i]))
      ++i;
    *s = i;
    while (a[i] && !is_space(a[i]))
      ++i;
    return i - *s;
  };
  for (;;) {
    size_t s = 0, n = next(&s);
    if (n == 0) return;
    const char* w = a + s;
    auto is = [&](const char* lit) { return n == len(lit) && eqn(w, lit, n); };
    if (is("-u") || is("--unset") || is("-C") || is("--chdir")) {
      size_t s2 = 0;
      next(&s2);
    } else if (n > 2 && w[0] == '-' && w[1] == 'S') {
      copy(out, w + 2, n - 2);
      out[n - 2] = 0;
      return;
    } else {
      bool assign = false;
      for (size_t k = 0; k < n; ++k)
        assign = assign || w[k] == '=';
      if (w[0] == '-' || assign) continue;
      copy(out, w, n);
      out[n] = 0;
      return;
    }
  }
}

// probe_physical() is Executable for P, which stat(2) described as ST: not a directory, and
// access(X_OK) allows it.
bool executable(const char* p, const struct stat& st) {
  return !S_ISDIR(st.st_mode) && !failed(sys_access(p, X_OK));
}

// find_command() over PATH_ENV for NAME; with PS (the projections), a candidate missing on disk
// whose directory lies in a projection is a reason to leave (*why) rather than a miss: the full
// path looks for it in the manifest. Null: not found here (the full path says why).
// may_be_projected() for the directory D (N bytes) of a PATH candidate missing on disk: D
// normalised, as far as it exists canonical, the rest as given (canonical_prefix()), inside a
// projection? Null: no; else the reason to leave.
const char* projected_dir(Arena& a, const char* d, size_t n, const Projection* ps, size_t nps) {
  char norm[PATH_MAX];
  size_t m = 0;
  for (size_t i = 0; i < n;) {
    if (d[i] == '/') {
      while (i < n && d[i] == '/')
        ++i;
      if (i < n) norm[m++] = '/';
      continue;
    }
    size_t j = i;
    while (j < n && d[j] != '/')
      ++j;
    // normalize() drops "." and pops at "..", lexically: a symlink above the ".." makes that
    // another directory than the kernel's; the full path's answer, then.
    if ((j - i == 1 && d[i] == '.') || (j - i == 2 && d[i] == '.' && d[i + 1] == '.'))
      return "a PATH entry with . or ..";
    if (m + (j - i) + 3 >= sizeof norm) return "a long PATH entry";
    copy(norm + m, d + i, j - i);
    m += j - i;
    i = j;
  }
  if (m == 0) norm[m++] = '/';
  norm[m] = 0;
  char* c = nullptr;
  size_t head = m; // norm[0, head) is the prefix tried, norm[head, m) the tail as given
  for (;;) {
    const char saved = norm[head];
    norm[head] = 0;
    c = head > 1 ? canonical(a, norm) : nullptr;
    norm[head] = saved;
    if (c || head <= 1) break;
    while (head > 0 && norm[head - 1] != '/')
      --head;
    head = head > 1 ? head - 1 : 1;
  }
  Cat x(a);
  if (c && !eq(c, "/")) x.add(c);
  char* probe = x.add(c ? norm + head : norm, c ? m - head : m).add("/x").str();
  if (!probe) return "an arena too small";
  return inside(probe, ps, nps) ? "a command that may be inside a projection" : nullptr;
}

// find_command() over PATH_ENV for NAME; with PS (the projections), a candidate missing on disk
// whose directory lies in a projection is a reason to leave (*WHY) rather than a miss: the full
// path looks for it in the manifest. Null and no *WHY: not found here (the full path says why).
char* find_command(Arena& a, const char* name, const char* path_env, const Projection* ps,
                   size_t nps, const char** why) {
  *why = nullptr;
  if (!name[0]) return nullptr;
  bool slash = false;
  for (const char* c = name; *c; ++c)
    slash = slash || *c == '/';
  const size_t nl = len(name);
  if (slash) {
    struct stat st;
    if (!sys_stat(name, &st)) return nullptr; // missing: maybe projected, the full path looks
    if (!executable(name, st)) return nullptr;
    char* c = a.dup(name, nl);
    if (!c) *why = "an arena too small";
    return c;
  }
  const char* path = path_env ? path_env : "/bin:/usr/bin";
  char cand[PATH_MAX];
  for (const char* s = path;;) {
    const char* e = s;
    while (*e && *e != ':')
      ++e;
    const size_t dl = static_cast<size_t>(e - s);
    if (dl == 0 || s[0] != '/') {
      *why = "a relative PATH entry";
      return nullptr;
    }
    if (dl + 1 + nl >= sizeof cand) {
      *why = "a long PATH entry";
      return nullptr;
    }
    copy(cand, s, dl);
    cand[dl] = '/';
    copy(cand + dl + 1, name, nl);
    cand[dl + 1 + nl] = 0;
    struct stat st;
    const long r = call6(SYS_newfstatat, AT_FDCWD, arg(cand), arg(&st), 0);
    if (failed(r) && (r == -ENOENT || r == -ENOTDIR) && ps) {
      if ((*why = projected_dir(a, s, dl, ps, nps))) return nullptr;
    } else if (!failed(r) && executable(cand, st)) {
      char* c = a.dup(cand, dl + 1 + nl);
      if (!c) *why = "an arena too small";
      return c;
    }
    if (!*e) return nullptr;
    s = e + 1;
  }
}

// shim_blind_spot() is empty: the shim can see PROGRAM (and a script's interpreter, and the
// program `#!/usr/bin/env` finds for it).
bool shim_sees(Arena& a, const char* program, const char* path_env) {
  Shebang sb;
  switch (judge(program, &sb)) {
  case Judged::Fine:
    return true;
  case Judged::Blind:
  case Judged::Unsure:
    return false;
  case Judged::Script:
    break;
  }
  Shebang ignored;
  const Judged ij = judge(sb.interp, &ignored);
  if (ij == Judged::Blind || ij == Judged::Unsure) return false;
  size_t il = len(sb.interp), b = il;
  while (b > 0 && sb.interp[b - 1] != '/')
    --b;
  if (!eq(sb.interp + b, "env")) return true;
  char prog[PATH_MAX];
  env_program(sb.arg, prog);
  const char* ignored_why = nullptr;
  char* found = find_command(a, prog, path_env, nullptr, 0, &ignored_why);
  if (!found) return !ignored_why; // not found: no judgement (as the full path)
  const Judged pj = judge(found, &ignored);
  return pj != Judged::Blind && pj != Judged::Unsure;
}

// prepend_preload(): the shim first in LD_PRELOAD, once.
char* preload_with(Arena& a, const char* existing, const char* shim) {
  const size_t sl = len(shim);
  bool only_separators = true;
  for (const char* s = existing; *s;) {
    const char* e = s;
    while (*e && *e != ':' && *e != ' ')
      ++e;
    if (static_cast<size_t>(e - s) == sl && eqn(s, shim, sl)) return a.dup(existing, len(existing));
    if (e != s) only_separators = false;
    s = *e ? e + 1 : e;
  }
  Cat c(a);
  c.add(shim);
  if (!only_separators) c.add(':').add(existing);
  return c.str();
}

// The shim: $VRIFT_SHIM, else beside this binary, else ../lib/vrift/ (run/locate.cpp).
char* find_shim(Arena& a, const char* env_shim) {
  auto usable = [&](const char* p) -> char* {
    struct stat st;
    if (!sys_stat(p, &st) || !S_ISREG(st.st_mode) || failed(sys_access(p, R_OK))) return nullptr;
    char* c = canonical(a, p);
    return c && !has_any(c, len(c), ':', ' ') && !has_any(c, len(c), '\t', '\n') ? c : nullptr;
  };
  if (env_shim && *env_shim) {
    if (env_shim[0] != '/' || has_any(env_shim, len(env_shim), ':', ' ') ||
        has_any(env_shim, len(env_shim), '\t', '\n'))
      return nullptr;
    return usable(env_shim);
  }
  char exe[PATH_MAX];
  long r = call6(SYS_readlinkat, AT_FDCWD, arg("/proc/self/exe"), arg(exe), sizeof exe);
  if (failed(r) || r == 0 || r >= static_cast<long>(sizeof exe) || exe[0] != '/') return nullptr;
  size_t d = static_cast<size_t>(r);
  while (d > 0 && exe[d - 1] != '/')
    --d;
  Cat beside(a);
  char* p = beside.add(exe, d).add("libvrift_shim.so").str();
  struct stat st;
  if (p && sys_stat(p, &st)) return usable(p);
  // ../lib/vrift/ of the binary's directory, which (the binary's path being canonical) is a real
  // directory: its parent is lexical, and the path stays canonical.
  size_t up = d > 1 ? d - 1 : d;
  while (up > 1 && exe[up - 1] != '/')
    --up;
  Cat installed(a);
  p = up > 1 ? installed.add(exe, up).add("lib/vrift/libvrift_shim.so").str()
             : installed.add(exe, d).add("../lib/vrift/libvrift_shim.so").str();
  return p ? usable(p) : nullptr;
}

// ---- Zero-config (project/detect.cpp, project/transient.cpp) ------------------------------------

// is_file_at(): NAME in DFD is a regular file (a symlink to one counts).
bool file_at(long dfd, const char* name) {
  struct stat st;
  return !failed(call6(SYS_newfstatat, dfd, arg(name), arg(&st), 0)) && S_ISREG(st.st_mode);
}

// find_root() from the current directory, then transient_target(): the project's root and its
// transient manifest, where no vrift.toml (a config to parse) is involved and the manifest is
// the default `.vrift/run.manifest`, which exists already. Null reason: done.
const char* zero_config_target(Arena& a, const char* home_env, char** root, char** manifest) {
  char cwd[PATH_MAX];
  const long n = call6(SYS_getcwd, arg(cwd), sizeof cwd);
  if (failed(n) || n < 2 || cwd[0] != '/') return "a current directory it cannot read";
  char* start = canonical(a, cwd, true);
  if (!start) return "a current directory it cannot read";
  // The search stops below the home directory when it starts inside it, else below /.
  char* home = home_env && *home_env ? canonical(a, home_env, true) : nullptr;
  const size_t hl = home ? len(home) : 0, sl = len(start);
  const bool under_home =
      home && !(hl == 1 && home[0] == '/') &&
      (eq(start, home) || (sl > hl && eqn(start, home, hl) && start[hl] == '/'));
  const size_t ceiling = under_home ? hl : 1;
  size_t nearest = 0; // the length of the nearest root found; 0: none yet
  for (size_t d = sl; d > ceiling;) {
    const char saved = start[d];
    start[d] = 0;
    const long dfd = sys_open(start, O_PATH | O_DIRECTORY);
    start[d] = saved;
    if (!failed(dfd)) {
      const bool config = file_at(dfd, "vrift.toml");
      if (!config && !nearest &&
          (file_at(dfd, "package.json") || file_at(dfd, "Cargo.toml") ||
           file_at(dfd, "pyproject.toml") || file_at(dfd, "requirements.txt") ||
           file_at(dfd, "setup.py") || file_at(dfd, "go.mod") || file_at(dfd, "vrift.manifest")))
        nearest = d;
      sys_close(dfd);
      if (config) return "a vrift.toml (a project config)";
    }
    // The parent: the last component and its slash dropped ("/a" becomes "/", the end).
    while (d > 0 && start[d - 1] != '/')
      --d;
    d = d > 1 ? d - 1 : 1;
  }
  if (!nearest) return "no project found (the full path says so)";
  *root = a.dup(start, nearest);
  if (!*root) return "an arena too small";
  // detect(): a directory it may read and search; load_config(): no vrift.toml at all;
  // choose_manifest(): no vrift.manifest of the project's own, a writable .vrift/.
  struct stat st;
  if (failed(call6(SYS_faccessat, AT_FDCWD, arg(*root), R_OK | X_OK)))
    return "a project root it may not read";
  char* toml = Cat(a).add(*root).add("/vrift.toml").str();
  if (!toml || call6(SYS_newfstatat, AT_FDCWD, arg(toml), arg(&st), 0) != -ENOENT)
    return "a vrift.toml (a project config)";
  char* mine = Cat(a).add(*root).add("/vrift.manifest").str();
  if (!mine || !failed(call6(SYS_newfstatat, AT_FDCWD, arg(mine), arg(&st), AT_SYMLINK_NOFOLLOW)))
    return "a vrift.manifest of the project's own";
  char* dot = Cat(a).add(*root).add("/.vrift").str();
  if (!dot || !sys_stat(dot, &st) || !S_ISDIR(st.st_mode) || failed(sys_access(dot, W_OK)))
    return "no writable .vrift directory yet";
  *manifest = Cat(a).add(dot).add("/run.manifest").str();
  if (!*manifest || !sys_stat(*manifest, &st)) return "no transient manifest yet (a walk makes it)";
  return nullptr;
}

// ---- The fast path ------------------------------------------------------------------------------

// Leaves the work to the full path; with VRIFT_FAST_RUN=require (a test hook), says why and
// fails instead.
void leave(bool require, const char* why) {
  if (!require) return;
  say("vrift: the fast path was not taken: ");
  say(why);
  say("\n");
  call6(SYS_exit_group, 125);
}
void leave(bool require, const char* why, Conn& c) {
  if (c.fd >= 0) sys_close(c.fd);
  c.fd = -1;
  leave(require, why);
}

__attribute__((noinline)) void run(int argc, char** argv, char** envp, bool require) {
  Conn conn;
  auto give_up = [&](const char* why) { leave(require, why, conn); };

  // vrift run (--manifest|-m FILE | --manifest=FILE)... [--] CMD ARGS..., or zero-config:
  // vrift run [--] CMD ARGS... CMD starts after "--" or at the first argument that is not an
  // option (run/cmdline.cpp split_command_line; a value of --manifest is never CMD).
  const char* manifests[kMaxProjections];
  size_t nm = 0;
  int i = 2;
  for (; i < argc; ++i) {
    if (eq(argv[i], "--")) {
      ++i;
      break;
    }
    if (argv[i][0] != '-' || argv[i][1] == 0) break; // a plain argument: CMD
    const char* v = nullptr;
    if ((eq(argv[i], "--manifest") || eq(argv[i], "-m")) && i + 1 < argc)
      v = argv[++i];
    else if (starts(argv[i], "--manifest="))
      v = argv[i] + 11;
    if (!v || !v[0] || nm == kMaxProjections) return give_up("an option it does not take");
    manifests[nm++] = v;
  }
  const bool zero = nm == 0;
  if (i >= argc) return give_up("no command");
  char** command = argv + i;
  if (env_get(envp, "VRIFT_LOG")) return give_up("VRIFT_LOG");

  char mem[32 * 1024];
  Arena a(mem, sizeof mem);

  // The path authority (config/paths.cpp), where it needs no config file.
  const char* vh = env_get(envp, "VRIFT_HOME");
  const char* home_env = env_get(envp, "HOME");
  char* home = nullptr;
  if (vh && *vh) {
    home = absolute_dir(a, vh);
  } else if (home_env && *home_env) {
    char* hv = absolute_dir(a, home_env);
    Cat h(a);
    home = hv ? absolute_dir(a, h.add(hv).add("/.vrift").str()) : nullptr;
  }
  if (!home) return give_up("a home directory it does not take");
  {
    Cat cfg(a);
    char* cf = cfg.add(home).add("/config.toml").str();
    if (!cf || !failed(sys_access(cf, F_OK))) return give_up("a config file");
  }
  const char* rt = env_get(envp, "VRIFT_RUNTIME_DIR");
  const char* xdg = env_get(envp, "XDG_RUNTIME_DIR");
  char* runtime = nullptr;
  if (rt && *rt) {
    runtime = absolute_dir(a, rt);
  } else if (xdg && *xdg && !failed(sys_access(xdg, W_OK))) {
    char* xv = absolute_dir(a, xdg);
    Cat r(a);
    runtime = xv ? r.add(xv).add("/vrift").str() : nullptr;
  } else {
    Cat r(a);
    runtime = r.add("/tmp/vrift-").add_u64(static_cast<uint64_t>(call6(SYS_getuid))).str();
  }
  const char* src = env_get(envp, "VR_THE_SOURCE");
  char* store = nullptr;
  if (src && *src) {
    store = absolute_dir(a, src);
  } else {
    Cat s(a);
    store = s.add(home).add("/the_source").str();
  }
  if (!runtime || !store) return give_up("a runtime directory or store it does not take");

  // Greet the daemon first: it wakes while the rest is planned (run::Sessions::reach).
  Cat sock(a);
  char* sock_path = sock.add(runtime).add("/vriftd.sock").str();
  struct sockaddr_un addr = {};
  if (!sock_path || len(sock_path) >= sizeof addr.sun_path) return give_up("a long socket path");
  addr.sun_family = AF_UNIX;
  copy(addr.sun_path, sock_path, len(sock_path) + 1);
  conn.fd = call6(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (failed(conn.fd)) return give_up("no socket");
  if (failed(call6(SYS_connect, conn.fd, arg(&addr), sizeof addr)))
    return give_up("no daemon listening (the full path starts one)");
  char out[8448];
  size_t at = 0;
  {
    char hello[22];
    put16(hello, proto::kMinProtocolVersion);
    put16(hello + 2, proto::kProtocolVersion);
    put16(hello + 4, static_cast<uint16_t>(proto::Role::Cli));
    put32(hello + 6, proto::kMaxFrameSize);
    put64(hello + 10, proto::kCapabilities);
    put32(hello + 18, static_cast<uint32_t>(call6(SYS_getpid)));
    if (!frame(out, sizeof out, &at, conn, proto::MsgType::Hello, hello, sizeof hello) ||
        !send_all(conn, out, at))
      return give_up("the greeting could not be sent");
  }

  // The manifests, where they were ingested from; zero-config: the project's, at its root.
  Projection ps[kMaxProjections];
  char* zero_manifest = nullptr;
  if (zero) {
    char* root = nullptr;
    if (const char* why = zero_config_target(a, home_env, &root, &zero_manifest))
      return give_up(why);
    if (const char* why = plan(a, zero_manifest, &ps[0], root)) return give_up(why);
    // The session the daemon vouches for is the one of these two strings (zero_config()).
    if (!eq(ps[0].manifest, zero_manifest) || !eq(ps[0].root, root))
      return give_up("a transient manifest reached through a symlink");
    nm = 1;
  }
  for (size_t k = 0; !zero && k < nm; ++k) {
    if (const char* why = plan(a, manifests[k], &ps[k])) return give_up(why);
    for (size_t m = 0; m < k; ++m)
      if (eq(ps[m].root, ps[k].root)) return give_up("two manifests at one root");
  }
  char* shim = find_shim(a, env_get(envp, "VRIFT_SHIM"));
  if (!shim) return give_up("no shim it can use");
  const char* path_env = env_get(envp, "PATH");
  const char* why = nullptr;
  char* program = find_command(a, command[0], path_env, ps, nm, &why);
  if (!program) return give_up(why ? why : "a command not found on disk");
  if (!shim_sees(a, program, path_env)) return give_up("a program the shim may not see");
  char* our_store = canonical(a, store, true);
  if (!our_store) return give_up("a store that does not exist");

  // The greeting's answer: version 1, the capabilities the usual case needs, our store.
  const uint64_t kNeeded = proto::kCapSessionFlags | proto::kCapSessionLease |
                           proto::kCapHelloStore | (zero ? proto::kCapTreeWatch : 0);
  uint16_t type = 0;
  size_t n = 0;
  if (!reply(conn, 1, proto::kCliConnectTimeoutMs, &type, &n) ||
      type != static_cast<uint16_t>(proto::MsgType::HelloReply) || n < 22)
    return give_up("no greeting from the daemon");
  const uint64_t caps = get(conn.buf + 8, 8);
  const size_t store_len = get(conn.buf + 20, 2);
  if (get(conn.buf, 2) != 1 || get(conn.buf + 4, 4) < proto::kMinFrameLimit ||
      (caps & kNeeded) != kNeeded || (caps & ~proto::kCapabilities) || 22 + store_len > n ||
      store_len != len(our_store) || !eqn(conn.buf + 22, our_store, store_len))
    return give_up("a daemon of another version or store");

  // Every session and the lease, in one write (Sessions::open_all); then the replies. Zero-config
  // asks first whether the tree is as the manifest has it (open_if_tree_unchanged: the open with
  // kOpenWatchTree and no walk), and leases only then.
  at = 0;
  for (size_t k = 0; k < nm; ++k) {
    char payload[2 * (PATH_MAX + 2) + 12];
    const size_t rl = len(ps[k].root), ml = len(ps[k].manifest);
    put16(payload, static_cast<uint16_t>(rl));
    copy(payload + 2, ps[k].root, rl);
    put16(payload + 2 + rl, static_cast<uint16_t>(ml));
    copy(payload + 4 + rl, ps[k].manifest, ml);
    size_t pl = 4 + rl + ml;
    if (zero) {
      put32(payload + pl, proto::kOpenWatchTree);
      put64(payload + pl + 4, 0);
      pl += 12;
    }
    if (!frame(out, sizeof out, &at, conn, proto::MsgType::SessionOpen, payload, pl))
      return give_up("paths too long for one write");
  }
  if ((!zero && !frame(out, sizeof out, &at, conn, proto::MsgType::SessionLease, nullptr, 0)) ||
      !send_all(conn, out, at))
    return give_up("the sessions could not be asked for");
  for (size_t k = 0; k < nm; ++k) {
    if (!reply(conn, static_cast<uint32_t>(2 + k), proto::kCliRequestTimeoutMs, &type, &n) ||
        type != static_cast<uint16_t>(proto::MsgType::SessionReply) || n < 18)
      return give_up("a session the daemon did not open");
    const size_t vl = get(conn.buf + 16, 2);
    if (18 + vl + 4 != n) return give_up("a session reply without flags");
    ps[k].session = get(conn.buf, 8);
    ps[k].vdir = a.dup(conn.buf + 18, vl);
    const uint64_t flags = get(conn.buf + 18 + vl, 4);
    if (!ps[k].vdir || ps[k].session == 0 || !abspath_ok(ps[k].vdir, vl) ||
        (flags & ~uint64_t{proto::kSessionFlagsMask}) || has_any(ps[k].vdir, vl, '\t', '\n'))
      return give_up("a session reply this path does not take");
    if (zero && !(flags & proto::kSessionTreeClean))
      return give_up("a tree the daemon has not vouched for (the full path walks it)");
    if (!(flags & proto::kSessionSkeletonClean))
      return give_up("a skeleton the daemon has not vouched for");
  }
  if (zero) {
    at = 0;
    if (!frame(out, sizeof out, &at, conn, proto::MsgType::SessionLease, nullptr, 0) ||
        !send_all(conn, out, at))
      return give_up("the lease could not be asked for");
  }
  if (!reply(conn, static_cast<uint32_t>(2 + nm), proto::kCliRequestTimeoutMs, &type, &n) ||
      type != static_cast<uint16_t>(proto::MsgType::OkReply) || n != 0)
    return give_up("a lease the daemon did not take");

  // The environment (run/plan.cpp child_environment): what was inherited, but for the four
  // variables vrift sets, then those, in this order.
  Cat pj(a);
  for (size_t k = 0; k < nm; ++k) {
    if (k) pj.add('\n');
    pj.add(ps[k].root).add('\t').add(ps[k].vdir).add('\t').add(ps[k].manifest).add('\t');
    pj.add_u64(ps[k].session);
  }
  // The first LD_PRELOAD of the environment is the loader's, even an empty one.
  const char* inherited_preload = nullptr;
  size_t ne = 0;
  for (char** e = envp; *e; ++e, ++ne) {
    if (!inherited_preload && starts(*e, "LD_PRELOAD=")) inherited_preload = *e + 11;
  }
  char* projections = pj.str();
  char* preload = preload_with(a, inherited_preload ? inherited_preload : "", shim);
  char* vars[4] = {nullptr, nullptr, nullptr, nullptr};
  vars[0] = Cat(a).add("LD_PRELOAD=").add(preload).str();
  vars[1] = Cat(a).add("VRIFT_PROJECTIONS=").add(projections).str();
  vars[2] = Cat(a).add("VRIFT_STORE=").add(our_store).str();
  char uv[] = "UV_USE_IO_URING=0";
  vars[3] = uv;
  char** env = reinterpret_cast<char**>(a.take((ne + 5) * sizeof(char*)));
  if (!env || !vars[0] || !vars[1] || !vars[2]) return give_up("an environment too large");
  size_t k = 0;
  // (No table of the four names: a static array of pointers would need relocating.)
  auto named = [](const char* kv, const char* name) {
    const size_t l = len(name);
    return eqn(kv, name, l) && (kv[l] == '=' || kv[l] == 0);
  };
  for (char** e = envp; *e; ++e) {
    if (!named(*e, "LD_PRELOAD") && !named(*e, "VRIFT_PROJECTIONS") && !named(*e, "VRIFT_STORE") &&
        !named(*e, "UV_USE_IO_URING"))
      env[k++] = *e;
  }
  for (char* v : vars)
    env[k++] = v;
  env[k] = nullptr;

  // vrift becomes CMD: the daemon holds the sessions for this pid (the lease). The socket is
  // close-on-exec. A failed exec (ENOEXEC, which the full path runs with /bin/sh) is the full
  // path's to handle and report.
  call6(SYS_execve, arg(program), arg(command), arg(env));
  give_up("the exec failed");
}

// The entry point's question: is this a `vrift run` for the fast path at all? Cheap, and with a
// small frame: run()'s needs ~70 KB of stack, which a tiny RLIMIT_STACK would not give (the full
// path then runs with what there is).
void fast_run(long* sp) {
  const int argc = static_cast<int>(sp[0]);
  char** argv = reinterpret_cast<char**>(sp + 1);
  char** envp = argv + argc + 1;
  if (argc < 3 || !eq(argv[1], "run")) return;
  const char* mode = env_get(envp, "VRIFT_FAST_RUN");
  if (mode && eq(mode, "0")) return;
  const bool require = mode && eq(mode, "require");
  // Secure execution (a set-id vrift): glibc would clean the environment first (LD_PRELOAD,
  // LD_LIBRARY_PATH, ...), which this path does not.
  char** e = envp;
  while (*e)
    ++e;
  for (auto* av = reinterpret_cast<unsigned long*>(e + 1); av[0] != 0; av += 2) {
    if (av[0] == 23 /* AT_SECURE */ && av[1] != 0) return leave(require, "secure execution");
  }
  struct {
    uint64_t cur, max;
  } lim = {0, 0};
  if (failed(call6(SYS_prlimit64, 0, 3 /* RLIMIT_STACK */, 0, arg(&lim))) || lim.cur < (1u << 20))
    return leave(require, "a stack limit under 1 MiB");
  run(argc, argv, envp, require);
}

} // namespace

extern "C" void vrift_fast_run(long* sp) { fast_run(sp); }

#endif

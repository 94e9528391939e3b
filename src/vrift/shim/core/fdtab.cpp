#include "vrift/shim/core/fdtab.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <cstring>

#include "vrift/shim/core/dirstream.h"
#include "vrift/shim/core/state.h"
#include "vrift/util/raw_syscall.h"

extern "C" {
__thread bool vrift_in_vfork_child = false;
}

namespace vrift::shim {
namespace {

constinit FdEntry g_fds[kMaxFds]{};
unsigned g_fd_high; // accessed atomically

void raise_high_water(int fd) {
  unsigned h = __atomic_load_n(&g_fd_high, __ATOMIC_RELAXED);
  while (static_cast<unsigned>(fd) > h &&
         !__atomic_compare_exchange_n(&g_fd_high, &h, static_cast<unsigned>(fd), true,
                                      __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
}

// Append-only arena for directory paths, reserved on first use.
constexpr uint64_t kArenaSize = uint64_t{16} << 20;
char* g_arena;         // accessed atomically
uint64_t g_arena_used; // accessed atomically

const char* arena_copy(const char* s, uint32_t len) {
  char* base = __atomic_load_n(&g_arena, __ATOMIC_ACQUIRE);
  if (!base) {
    const long r = sys::call6(SYS_mmap, 0, kArenaSize, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (sys::failed(r)) return nullptr;
    char* mine = reinterpret_cast<char*>(r);
    char* expected = nullptr;
    if (!__atomic_compare_exchange_n(&g_arena, &expected, mine, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
      sys::call6(SYS_munmap, r, kArenaSize);
      mine = expected;
    }
    base = mine;
  }
  const uint64_t need = len + 1;
  const uint64_t off = __atomic_fetch_add(&g_arena_used, need, __ATOMIC_RELAXED);
  if (off + need > kArenaSize) return nullptr;
  std::memcpy(base + off, s, len);
  base[off + len] = '\0';
  return base + off;
}

} // namespace

FdEntry* fd_entry(int fd) { return fd >= 0 && fd < kMaxFds ? &g_fds[fd] : nullptr; }

const FdEntry* fd_blob(int fd) {
  const FdEntry* e = fd_entry(fd);
  return e && __atomic_load_n(&e->kind, __ATOMIC_ACQUIRE) == kFdFile ? e : nullptr;
}

unsigned fd_high_water() { return __atomic_load_n(&g_fd_high, __ATOMIC_RELAXED); }

FdKind fd_kind(int fd) {
  const FdEntry* e = fd_entry(fd);
  return e ? static_cast<FdKind>(__atomic_load_n(&e->kind, __ATOMIC_ACQUIRE)) : kFdNone;
}

namespace {

// Fills FD's entry and publishes KIND last (readers load kind first).
void set_entry(int fd, FdKind kind, int proj, const char* rel, uint32_t rel_len,
               const vdir::VdirStat& st, uint64_t dev, uint64_t ino, bool path_only = false) {
  FdEntry* e = fd_entry(fd);
  if (!e || !fd_table_ours()) return;
  fd_clear(fd);
  raise_high_water(fd);
  e->proj = proj;
  e->path_only = path_only;
  __atomic_store_n(&e->real_dev, dev, __ATOMIC_RELAXED);
  __atomic_store_n(&e->real_ino, ino, __ATOMIC_RELAXED);
  e->st = st;
  e->rel = rel;
  e->rel_len = rel ? rel_len : 0;
  __atomic_store_n(&e->kind, kind, __ATOMIC_RELEASE);
}

} // namespace

void fd_set_file(int fd, int proj, const vdir::VdirStat& st, uint64_t dev, uint64_t ino,
                 bool path_only) {
  set_entry(fd, kFdFile, proj, nullptr, 0, st, dev, ino, path_only);
}

void fd_set_dir(int fd, int proj, const char* rel, uint32_t len, const vdir::VdirStat& st,
                uint64_t dev, uint64_t ino) {
  if (!fd_entry(fd) || !fd_table_ours()) return;
  set_entry(fd, kFdDir, proj, arena_copy(rel, len), len, st, dev, ino);
}

void fd_set_outside_dir(int fd) {
  FdEntry* e = fd_entry(fd);
  if (!e || !fd_table_ours()) return;
  fd_clear(fd);
  raise_high_water(fd);
  __atomic_store_n(&e->kind, kFdOutsideDir, __ATOMIC_RELEASE);
}

FdEntry* fd_projected_dir(int fd) { return fd_checked(fd, kFdDir); }

FdEntry* fd_checked(int fd, FdKind kind) {
  FdEntry* e = fd_entry(fd);
  if (!e || __atomic_load_n(&e->kind, __ATOMIC_ACQUIRE) != kind) return nullptr;
  struct stat st;
  if (sys::failed(sys::call6(SYS_fstat, fd, sys::arg(&st))) ||
      !fd_same_file(e, st.st_dev, st.st_ino, S_ISREG(st.st_mode), true,
                    static_cast<uint64_t>(st.st_size))) {
    fd_clear(fd);
    return nullptr;
  }
  return e;
}

namespace {

// The store's device, asked of the kernel once (0 until then, or when the store is unreadable).
uint64_t g_store_dev; // accessed atomically

uint64_t store_dev() {
  uint64_t d = __atomic_load_n(&g_store_dev, __ATOMIC_RELAXED);
  if (d == 0 && g_state.store_len) {
    struct stat st;
    if (!sys::failed(
            sys::call6(SYS_newfstatat, AT_FDCWD, sys::arg(g_state.store), sys::arg(&st), 0))) {
      d = st.st_dev;
      __atomic_store_n(&g_store_dev, d, __ATOMIC_RELAXED);
    }
  }
  return d;
}

} // namespace

bool fd_same_file(FdEntry* e, uint64_t dev, uint64_t ino, bool regular, bool have_size,
                  uint64_t size) {
  uint64_t known = __atomic_load_n(&e->real_ino, __ATOMIC_ACQUIRE);
  if (known != 0) return known == ino && __atomic_load_n(&e->real_dev, __ATOMIC_RELAXED) == dev;
  // A blob opened without an fstat (fd_set_file): what the descriptor refers to now is taken to
  // be it when it looks like it. Anything else the number could have been reused for (it was
  // closed where the shim does not see, and a libc-internal open got it) would have to be a
  // regular file of the same size on the store's device as well.
  if (__atomic_load_n(&e->kind, __ATOMIC_RELAXED) != kFdFile || !regular || !have_size ||
      size != e->st.size || ino == 0 || dev != store_dev())
    return false;
  __atomic_store_n(&e->real_dev, dev, __ATOMIC_RELAXED);
  if (__atomic_compare_exchange_n(&e->real_ino, &known, ino, false, __ATOMIC_RELEASE,
                                  __ATOMIC_ACQUIRE))
    return true;
  return known == ino; // another thread learnt it first
}

void fd_clear(int fd) {
  FdEntry* e = fd_entry(fd);
  if (!e || !fd_table_ours()) return;
  __atomic_store_n(&e->kind, kFdNone, __ATOMIC_RELEASE);
  const int32_t s = __atomic_exchange_n(&e->stream, 0, __ATOMIC_ACQ_REL);
  if (s > 0) dirstream_release_index(s - 1);
}

void fd_copy(int oldfd, int newfd) {
  if (oldfd == newfd || !fd_table_ours()) return;
  FdEntry* from = fd_entry(oldfd);
  FdEntry* to = fd_entry(newfd);
  if (!to) return;
  fd_clear(newfd);
  if (!from) return;
  const uint32_t kind = __atomic_load_n(&from->kind, __ATOMIC_ACQUIRE);
  if (kind == kFdNone) return;
  raise_high_water(newfd);
  to->proj = from->proj;
  to->path_only = from->path_only;
  to->real_dev = __atomic_load_n(&from->real_dev, __ATOMIC_RELAXED);
  to->real_ino = __atomic_load_n(&from->real_ino, __ATOMIC_ACQUIRE);
  to->st = from->st;
  to->rel = from->rel;
  to->rel_len = from->rel_len;
  __atomic_store_n(&to->kind, kind, __ATOMIC_RELEASE);
}

} // namespace vrift::shim

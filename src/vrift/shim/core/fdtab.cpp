#include "vrift/shim/core/fdtab.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <cstring>

#include "vrift/shim/core/dirstream.h"
#include "vrift/util/raw_syscall.h"

namespace vrift::shim {
namespace {

constinit FdEntry g_fds[kMaxFds]{};

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

FdKind fd_kind(int fd) {
  const FdEntry* e = fd_entry(fd);
  return e ? static_cast<FdKind>(__atomic_load_n(&e->kind, __ATOMIC_ACQUIRE)) : kFdNone;
}

namespace {

// Fills FD's entry and publishes KIND last (readers load kind first).
void set_entry(int fd, FdKind kind, int proj, const char* rel, uint32_t rel_len,
               const vdir::VdirStat& st, uint64_t dev, uint64_t ino) {
  FdEntry* e = fd_entry(fd);
  if (!e) return;
  fd_clear(fd);
  e->proj = proj;
  e->real_dev = dev;
  e->real_ino = ino;
  e->st = st;
  e->rel = rel;
  e->rel_len = rel ? rel_len : 0;
  __atomic_store_n(&e->kind, kind, __ATOMIC_RELEASE);
}

} // namespace

void fd_set_file(int fd, int proj, const vdir::VdirStat& st, uint64_t dev, uint64_t ino) {
  set_entry(fd, kFdFile, proj, nullptr, 0, st, dev, ino);
}

void fd_set_dir(int fd, int proj, const char* rel, uint32_t len, const vdir::VdirStat& st,
                uint64_t dev, uint64_t ino) {
  if (!fd_entry(fd)) return;
  set_entry(fd, kFdDir, proj, arena_copy(rel, len), len, st, dev, ino);
}

void fd_set_outside_dir(int fd) {
  FdEntry* e = fd_entry(fd);
  if (!e) return;
  fd_clear(fd);
  __atomic_store_n(&e->kind, kFdOutsideDir, __ATOMIC_RELEASE);
}

FdEntry* fd_projected_dir(int fd) { return fd_checked(fd, kFdDir); }

FdEntry* fd_checked(int fd, FdKind kind) {
  FdEntry* e = fd_entry(fd);
  if (!e || __atomic_load_n(&e->kind, __ATOMIC_ACQUIRE) != kind) return nullptr;
  struct stat st;
  if (sys::failed(sys::call6(SYS_fstat, fd, sys::arg(&st))) ||
      static_cast<uint64_t>(st.st_dev) != e->real_dev ||
      static_cast<uint64_t>(st.st_ino) != e->real_ino) {
    fd_clear(fd);
    return nullptr;
  }
  return e;
}

void fd_clear(int fd) {
  FdEntry* e = fd_entry(fd);
  if (!e) return;
  __atomic_store_n(&e->kind, kFdNone, __ATOMIC_RELEASE);
  const int32_t s = __atomic_exchange_n(&e->stream, 0, __ATOMIC_ACQ_REL);
  if (s > 0) dirstream_release_index(s - 1);
}

void fd_copy(int oldfd, int newfd) {
  if (oldfd == newfd) return;
  FdEntry* from = fd_entry(oldfd);
  FdEntry* to = fd_entry(newfd);
  if (!to) return;
  fd_clear(newfd);
  if (!from) return;
  const uint32_t kind = __atomic_load_n(&from->kind, __ATOMIC_ACQUIRE);
  if (kind == kFdNone) return;
  to->proj = from->proj;
  to->real_dev = from->real_dev;
  to->real_ino = from->real_ino;
  to->st = from->st;
  to->rel = from->rel;
  to->rel_len = from->rel_len;
  __atomic_store_n(&to->kind, kind, __ATOMIC_RELEASE);
}

} // namespace vrift::shim

// The shim's operations with full libc semantics (return -1 and set errno), shared by the
// exported entry points (entry_*.cpp) and the syscall() hook. Each first asks whether the path
// can lie in a projection; if not it goes straight to the real function (the ~20 ns promise).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <cerrno>

struct statx;

namespace vrift::shim {

struct Lookup;
struct Scratch;

int op_fstatat(int dirfd, const char* path, struct stat* buf, int flags);
int op_fstat(int fd, struct stat* buf);
int op_statx(int dirfd, const char* path, int flags, unsigned mask, struct statx* buf);
int op_faccessat(int dirfd, const char* path, int mode, int flags);
ssize_t op_readlinkat(int dirfd, const char* path, char* buf, size_t n);
/// OPEN_REAL: the real open-family function to use when the path is not projected.
int op_openat(int dirfd, const char* path, int flags, mode_t mode);
long op_getdents64(int fd, void* buf, size_t n);
/// A metadata change through FD (system call NR with the other arguments): EROFS when FD is a
/// projected file's blob (it would change the store), else the system call.
long op_fd_meta(int fd, long nr, long a1, long a2, long a3, long a4, long a5);
/// Whether a change by path to (DIRFD, PATH) is refused (entry_mutate.cpp): a projected file or
/// symlink that is not on disk (a phantom projection's), a path the projection says is wrong, or
/// a projected file's descriptor named through /proc/self/fd or /dev/fd. Saves errno.
bool phantom(int dirfd, const char* path, bool follow);
/// What a change to a projected file or symlink L (a hit; its absolute path in S->a) meets on
/// disk, claiming it if there is one: a program of the session is about to change it there, so
/// it is marked stale (vdir_layout.h) and from then on the disk answers for it, in every process
/// of the session. WRITE_FLAGS: the flags of an open for writing (the file first gets an inode
/// of its own if it is its blob's: entry_mutate.cpp, unshare_from_store), or -1 for any other
/// change. *ERR (if given): 0, or the errno such an open must fail with, found before anything
/// changed. Raw system calls; errno untouched. Scratch: S->b and S->c.
enum class Claim {
  kPhantom, ///< nothing on disk (a phantom projection's file): the change must be refused
  kOnDisk,  ///< on disk, but not marked (no stale map, the disk not readable, or *ERR set)
  kClaimed, ///< on disk and marked stale
};
Claim claim_on_disk(const Lookup& l, Scratch* s, int write_flags = -1, int* err = nullptr);
/// Before an open with FLAGS for writing of a path the kernel answers for (S->a its absolute
/// path): if that path is a projected file marked stale that still shares its blob's inode
/// (marked by a change that did not copy it: a chmod, a touch, the daemon), it gets an inode of
/// its own first, as claim_on_disk does for a write. 0, or the errno the open must fail with.
int unshare_stale(int flags, Scratch* s);
/// Whether PATH is /proc/self/fd/N, /proc/thread-self/fd/N or /dev/fd/N of a projected file's
/// descriptor (a shared blob: reopening it for writing would change the store).
bool blob_fd_path(const char* path);
/// Whether FD is a projected file's descriptor (entry_fdmeta.cpp).
bool is_blob_fd(int fd);
/// FD is about to be closed where the shim does not see it (inside libc: fclose, freopen): its
/// entry goes now, unless this is a vfork child (entry_misc.cpp).
void forget_fd(int fd);

/// Converts a raw system call result to libc's convention.
inline long from_sys(long r) {
  if (r < 0 && r > -4096) {
    errno = static_cast<int>(-r);
    return -1;
  }
  return r;
}

/// P, hidden from the optimiser: glibc declares many path arguments nonnull, and a test for a
/// null one would otherwise be dropped (a program passing NULL must get an error, not a crash).
template <typename T> inline T* opaque(T* p) {
  asm("" : "+r"(p));
  return p;
}

inline int fail(int e) {
  errno = e;
  return -1;
}

} // namespace vrift::shim

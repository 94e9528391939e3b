// What the shim remembers per file descriptor it opened inside a projection: the projected
// metadata (so fstat answers like stat did) and, for directories, the projected path (so *at
// calls relative to it resolve without asking the kernel). A static table indexed by fd,
// forgotten at every close the shim sees (docs/shim.md, "Descriptors"). A projected file's
// entry answers fstat and isatty by itself (fd_blob); a directory's is trusted only while a real
// fstat of the fd finds the inode it was made for, and a change through a file's descriptor asks
// the kernel too, learning the blob's inode the first time (not at open: most programs never
// fstat what they read, and that fstat was a third of what a projected open cost).
#pragma once

#include <cstdint>

#include "vrift/vdir/vdir_layout.h"

namespace vrift::shim {

inline constexpr int kMaxFds = 65536;

enum FdKind : uint32_t {
  kFdNone = 0,
  kFdFile = 1,       ///< a blob opened for a projected regular file
  kFdDir = 2,        ///< a projected directory (its physical skeleton)
  kFdOutsideDir = 3, ///< a directory outside every projection
};

struct FdEntry {
  uint32_t kind; ///< FdKind; written last (release), read first (acquire)
  int32_t proj;
  bool path_only;    ///< kFdFile opened with O_PATH (no I/O: isatty is the kernel's EBADF)
  uint64_t real_dev; ///< what the fd really refers to (atomic: a file entry learns it late)
  uint64_t real_ino; ///< 0 for a blob not fstat'ed yet (fd_same_file learns it)
  vdir::VdirStat st{vdir::VdirStat::Zero{}}; ///< the projected metadata
  const char* rel; ///< kFdDir: the directory's path in the projection (arena memory)
  uint32_t rel_len;
  int32_t stream;   ///< getdents64 state: index of a directory stream + 1, or 0
  int64_t seen_off; ///< getdents64 state: the fd's real offset after the stream was built
};

/// The entry of FD, or nullptr when FD is out of the table's range.
FdEntry* fd_entry(int fd);
/// The highest descriptor number an entry was ever made for (0 when none): what a walk over a
/// range of numbers needs to look at.
unsigned fd_high_water();
/// The kind of FD (kFdNone when untracked or out of range).
FdKind fd_kind(int fd);
/// Whether this thread is a vfork child (set by the shim's vfork, entry_vfork.cpp): it runs in
/// its parent's memory with a descriptor table of its own, so nothing it opens, closes or dups
/// may change the parent's fd table (LESSONS 8). Every setter below does nothing then.
extern "C" __attribute__((visibility("hidden"))) __thread bool vrift_in_vfork_child
    __attribute__((tls_model("initial-exec")));
inline bool fd_table_ours() { return !vrift_in_vfork_child; }

/// Remembers a projected file's blob; DEV and INO 0 when not known yet (fd_same_file learns them).
/// PATH_ONLY: opened with O_PATH.
void fd_set_file(int fd, int proj, const vdir::VdirStat& st, uint64_t dev, uint64_t ino,
                 bool path_only = false);
/// Remembers a projected directory; REL (LEN bytes) is copied into an append-only arena (when
/// the arena is full the entry keeps no path and lookups fall back to /proc/self/fd).
void fd_set_dir(int fd, int proj, const char* rel, uint32_t len, const vdir::VdirStat& st,
                uint64_t dev, uint64_t ino);
void fd_set_outside_dir(int fd);
/// FD's entry if it is a projected directory that FD still refers to (a real fstat agrees), else
/// nullptr; a stale entry (FD closed behind the shim's back and reused) is forgotten. Its rel
/// may be null (the arena was full): fd_dir_rel() finds the path then.
FdEntry* fd_projected_dir(int fd);
/// FD's entry if it is a projected file's blob that the shim opened and has not seen closed,
/// asked of the table alone: fstat, statx and isatty of such a descriptor are answered from it
/// without a system call (Python fstats each module it reads twice and asks isatty once, ~1 us
/// of system calls a module here). Only a close the shim does not see (an inline `syscall`
/// instruction, io_uring, glibc's fcloseall) followed by a reuse of the number that it does not
/// see either could make the entry describe another file (docs/shim.md, "Descriptors").
const FdEntry* fd_blob(int fd);
/// The same for any KIND: FD's entry if it is of KIND and FD still refers to the inode it was
/// tracked for, else nullptr (a stale entry is forgotten).
FdEntry* fd_checked(int fd, FdKind kind);
/// Whether entry E (a file or directory) is the file a real fstat of its descriptor just
/// described: the inode it was tracked for; for a blob whose inode is not known yet, a regular
/// file (REGULAR) of the entry's size (SIZE; HAVE_SIZE false: unknown) on the store's device,
/// whose identity is then recorded.
bool fd_same_file(FdEntry* e, uint64_t dev, uint64_t ino, bool regular, bool have_size,
                  uint64_t size);
/// Forgets FD (releasing a getdents64 stream it had).
void fd_clear(int fd);
/// NEWFD becomes what OLDFD is (dup, dup2, dup3); a getdents64 stream is not shared.
void fd_copy(int oldfd, int newfd);

} // namespace vrift::shim

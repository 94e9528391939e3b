// Directory streams over projected directories (docs/shim.md, "Directories"). A listing is the
// union of the manifest's children of the directory (from the session's listing file, minus
// what the VDir says was deleted) and what physically exists in its skeleton directory (files
// the program created there, entries the manifest filtered out), built once at opendir into
// records laid out exactly like the kernel's linux_dirent64, so readdir returns pointers into
// them and getdents64 copies them. Streams live in a static pool (no heap): a synthetic DIR* is
// a pointer into that pool, which is how every dir function tells it from libc's own.
#pragma once

#include <dirent.h>

#include <cstddef>
#include <cstdint>

#include "vrift/vdir/vdir_layout.h"

namespace vrift::shim {

inline constexpr int kMaxDirStreams = 1024;

/// Builds a stream for the projected directory REL (REL_LEN bytes) of projection PROJ, whose
/// skeleton is open as FD (read from its start; the stream does not close FD itself). SELF is
/// the directory's own entry (for "."). Returns the stream's index, or -errno (-EMFILE when the
/// pool is full, -ENOMEM when memory cannot be mapped).
int dirstream_open(int fd, int proj, const char* rel, uint32_t rel_len, const vdir::VdirStat& self);
/// The stream at IDX as an opaque DIR* (stable while open), and back.
DIR* dirstream_as_dir(int idx);
/// The index of a DIR* that is one of ours, or -1 for anything else (libc's own streams).
/// Rebuilds stream IDX from the directory as it is now (rewinddir: POSIX wants a rewound stream
/// to show the directory's current state) and rewinds it. Returns 0 or -errno (unchanged then).
int dirstream_refill(int idx, int proj, const char* rel, uint32_t rel_len,
                     const vdir::VdirStat& self);
int dirstream_index(const void* dir);
int dirstream_fd(int idx);
/// The next record, or nullptr at the end. Records stay valid until the stream is released.
struct dirent64* dirstream_next(int idx);
long dirstream_tell(int idx);
void dirstream_seek(int idx, long pos);
/// Copies whole records from the current position into BUF (N bytes), getdents64-style:
/// returns bytes copied, 0 at the end, -EINVAL when not even one record fits.
long dirstream_getdents(int idx, void* buf, size_t n);
/// Frees the stream's memory and its pool slot (the fd is the caller's business).
void dirstream_release_index(int idx);

} // namespace vrift::shim

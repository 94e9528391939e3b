// Filesystem helpers that know nothing of vrift: whole-file reads, atomic writes, mkdir -p.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "vrift/util/result.h"

namespace vrift::fs {

/// Creates DIR and its parents (mode for the new ones); existing directories are fine.
Status mkdir_p(const std::string& dir, mode_t mode = 0755);

/// Reads a whole file into memory.
Result<std::string> read_file(const std::string& path);

/// Writes DATA to PATH atomically: a temp file in the same directory, fsync, rename, fsync
/// of the directory. On any failure the old file (if any) is untouched and no temp file remains.
/// DURABLE false skips both fsyncs: readers never see a partial file, but a crash may lose it
/// (for files rebuilt on demand, like a session's listing).
/// WRITTEN, if given, receives the new file's fstat (taken before the rename, so it is this
/// write's file whatever replaces it afterwards).
Status write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0644,
                         bool durable = true, struct stat* written = nullptr);

/// Copies SRC from offset 0 into DST (at its offset), at most MAX bytes: copy_file_range, or
/// pread/write where the file systems cannot. Returns the bytes copied (fewer at SRC's end).
Result<uint64_t> copy_fd(int src, int dst, uint64_t max = UINT64_MAX);

/// fsync of a directory, so that a rename or link inside it is durable.
Status fsync_dir(const std::string& dir);

/// Directory part of a path ("." when there is none) and the last component.
std::string dirname(const std::string& path);
std::string basename(const std::string& path);

/// realpath(3) as a Result.
Result<std::string> canonical(const std::string& path);

/// Joins two path pieces with exactly one '/'.
std::string join(std::string_view a, std::string_view b);

/// Nanoseconds since the epoch of a timespec.
inline int64_t ns(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

} // namespace vrift::fs

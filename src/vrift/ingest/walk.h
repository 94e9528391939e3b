// A parallel directory walk: a shared queue of directories drained by N threads. Each thread
// lists a directory with getdents64, stats every entry relative to the directory fd, and hands
// entries to the visitor; subdirectories go back on the queue. Each queued directory carries a
// small tag (inherited from its parent unless the visitor sets another), so a property of a
// subtree, such as "everything under node_modules/ is tier1", costs nothing per file.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <string>

#include "vrift/util/result.h"

namespace vrift {

struct WalkEntry {
  int dirfd;              ///< open fd of the containing directory
  const char* name;       ///< last component
  const std::string& rel; ///< path relative to the walk root
  const struct stat& st;  ///< lstat of the entry
  uint32_t tag;           ///< the containing directory's tag (0 for the root's entries)
  uint32_t* subdir_tag;   ///< a directory's own tag, preset to TAG; the visitor may change it
};

/// Visitor result: descend into a directory or not; a non-ok status aborts the walk.
struct WalkVisitor {
  /// Called for every entry on a worker thread WORKER (0..threads-1). Return true for a
  /// directory to descend into it.
  std::function<Result<bool>(unsigned worker, const WalkEntry&)> visit;
};

/// Walks ROOT (an absolute directory) with THREADS threads. Stops at the first error.
Status parallel_walk(const std::string& root, unsigned threads, const WalkVisitor& visitor);

} // namespace vrift

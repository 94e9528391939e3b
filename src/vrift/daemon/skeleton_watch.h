// What the daemon knows of a session's skeleton: whether every directory of the session's tree
// exists under its root and nothing has been removed or moved since it was seen. `vrift run`
// checks the skeleton before each command (run/skeleton.h), ~1,000 fstatat on a node_modules
// tree, 2-3 ms; with a warm session whose skeleton is known clean it skips that
// (docs/run.md, "The skeleton"; SESSION_REPLY's kSessionSkeletonClean).
//
// How it stays true: one inotify instance per session watches the root and every directory of
// the tree for IN_DELETE_SELF, IN_MOVE_SELF and IN_UNMOUNT. Adding a watch with IN_ONLYDIR and
// IN_DONT_FOLLOW fails unless the path is a directory (not a symlink), so arming is also the
// check, and because the watches are in place before each path is looked at, a removal after
// its check is an event, never a miss. Any event, or a root that is no longer the same directory
// (a rename above it), makes the skeleton unknown again; the next session open re-arms it.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>

#include "vrift/daemon/tree.h"
#include "vrift/util/fd.h"

namespace vrift {

class SkeletonWatch {
public:
  /// Trees with more directories are not watched (their runs check the skeleton themselves).
  static constexpr size_t kMaxDirs = 100000;

  /// Watches ROOT and every directory of TREE below it, dropping earlier watches first. Clean
  /// when every watch could be added; otherwise (a directory missing or not a directory, the
  /// inotify limits reached, too many directories) not, and nothing stays watched.
  void arm(const std::string& root, const Tree& tree);
  /// Whether the skeleton is as arm() found it: no event pending or seen since, and ROOT still
  /// names the directory it named then. Drops the watches when not.
  bool clean(const std::string& root);
  /// Forgets the skeleton (a mutation of the tree; an event).
  void reset();
  /// The inotify descriptor to poll, -1 when nothing is watched. Readable: call clean().
  int fd() const { return m_fd.get(); }
  size_t watched() const { return m_watched; }

private:
  UniqueFd m_fd;
  dev_t m_dev = 0;
  ino_t m_ino = 0;
  size_t m_watched = 0;
};

} // namespace vrift

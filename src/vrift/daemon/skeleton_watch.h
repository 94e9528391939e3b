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
//
// The tree too (zero-config runs, SESSION_OPEN's kOpenWatchTree): armed with a time T, the
// watches also take every change of a file or of a directory's entries (IN_MODIFY, IN_ATTRIB,
// IN_CLOSE_WRITE, IN_CREATE, IN_DELETE, IN_MOVED_FROM/TO), and once they are in place every
// entry of the tree is looked at: the same type, a file's size, and a ctime (which every change
// of an inode sets, and no one can set back) older than T less a margin, as are the root's and
// every directory's. T is when the walk that wrote the manifest began, so nothing changed between
// that walk and the watches; any event after them makes the tree unknown again. A file with a
// younger ctime is read instead, and must still have the tree's mode, mtime, size and bytes: the
// walk itself sets the ctime of every file it links into the store, i.e. of every file changed
// since the run before, and of every file of a first walk (past kMaxReread files or
// kMaxRereadBytes the tree is not vouched for, and the next run walks).
//
// A watch of the tree also follows it while the session lives (since 2026-11-23): the daemon
// polls fd() and drain()s the events as they come; an event still makes clean() false until the
// next arm, but the watches stay, and the entries the events name (changes()) are marked in the
// session's stale map, so that the shims ask the disk about a file an editor or any program
// outside the session changed (docs/shim.md, "Solid projections follow the disk").
//
// That look at the tree (an fstatat per entry, 40 ms for a 25,000-file node_modules, and the
// reads: ~0.1 s for the 9,500 files a first walk of dataset B linked) runs on a thread of its own
// over a copy of the entries, so that the daemon's loop goes on serving; an event or a new arm
// meanwhile makes its answer moot (it is dropped, and the thread stops at its next entry).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "vrift/daemon/tree.h"
#include "vrift/util/fd.h"

namespace vrift {

class SkeletonWatch {
public:
  /// Trees with more directories are not watched (their runs check the skeleton themselves).
  static constexpr size_t kMaxDirs = 100000;

  /// A ctime this close to the walk's start does not prove the entry older than the walk: the
  /// kernel stamps ctime from a clock that lags by up to a tick.
  static constexpr int64_t kCtimeMarginNs = 50'000'000;
  /// Files younger than the walk are read and compared with the tree (mode, mtime, size, bytes):
  /// at most this many, and this many bytes, or the tree is not vouched for.
  static constexpr size_t kMaxReread = 200000;
  static constexpr uint64_t kMaxRereadBytes = 1ull << 30;

  SkeletonWatch() = default;
  SkeletonWatch(SkeletonWatch&&) noexcept = default;
  SkeletonWatch& operator=(SkeletonWatch&& o) noexcept {
    if (this != &o) {
      reset(); // stops this one's look at its tree
      m_fd = std::move(o.m_fd);
      m_dev = o.m_dev;
      m_ino = o.m_ino;
      m_watched = o.m_watched;
      m_check = std::move(o.m_check);
      m_dirs = std::move(o.m_dirs);
      m_changes = std::move(o.m_changes);
      m_changed = o.m_changed;
    }
    return *this;
  }
  ~SkeletonWatch() { reset(); }

  /// Watches ROOT and every directory of TREE below it, dropping earlier watches first. Clean
  /// when every watch could be added; otherwise (a directory missing or not a directory, the
  /// inotify limits reached, too many directories) not, and nothing stays watched. With
  /// UNCHANGED_BEFORE_NS (CLOCK_REALTIME), the files too: a thread then looks at every entry of
  /// TREE (tree_pending() until it is done), and tree_unchanged() says whether each was found on
  /// disk as TREE has it and unchanged since that time. MANIFEST, the file the walk wrote, may be
  /// below ROOT: the walk's own change to the root is then no change. STORE is the store's root,
  /// whose blobs the walk may have linked tier1 files to (their mode and mtime then the blob's).
  void arm(const std::string& root, const Tree& tree, int64_t unchanged_before_ns = 0,
           const std::string& manifest = {}, const std::string& store = {});
  /// After clean() returned true: whether the last arm() watched the files too and its look at
  /// them is over and found every entry unchanged (any event since has made clean() false).
  bool tree_unchanged() const;
  /// Whether the last arm()'s look at the files is still going on.
  bool tree_pending() const;
  /// Waits at most TIMEOUT_MS for a look in progress to end; false if it has not, or will not in
  /// time at the rate it reads.
  bool wait_tree(int timeout_ms) const;
  /// Whether the skeleton is as arm() found it: no event pending or seen since, and ROOT still
  /// names the directory it named then. Drops the watches when not, except a watch of the tree
  /// whose root is still the same: that one goes on following the tree (drain()).
  bool clean(const std::string& root);
  /// Reads every event that has arrived (clean() is false from then until the next arm). For a
  /// watch of the tree, collects the entries they name for changes(): a file (or symlink)
  /// written, created, removed, moved or given new attributes; a directory removed or moved.
  void drain();
  /// One entry an event named: its path below the root, and whether it is a directory that went
  /// (removed or moved away: everything below it went too).
  struct Change {
    std::string path;
    bool gone_dir = false;
  };
  /// The changes drain() collected since the last call.
  std::vector<Change> take_changes() { return std::exchange(m_changes, {}); }
  /// Whether this is a watch of the tree, which the daemon then polls (fd()) and drains.
  bool follows() const { return m_fd.valid() && !m_dirs.empty(); }
  /// Forgets the skeleton (a mutation of the tree; an event), and stops a look at the tree.
  void reset();
  /// The inotify descriptor to poll, -1 when nothing is watched. Readable: call clean().
  int fd() const { return m_fd.get(); }
  size_t watched() const { return m_watched; }

  struct TreeCheck; // a look at the tree, shared with its thread

private:
  UniqueFd m_fd;
  dev_t m_dev = 0;
  ino_t m_ino = 0;
  size_t m_watched = 0;
  std::shared_ptr<TreeCheck> m_check;          // the last arm's look at the files (null: none)
  std::unordered_map<int, std::string> m_dirs; // a watch of the tree: wd -> directory below root
  std::vector<Change> m_changes;               // collected by drain(), for take_changes()
  bool m_changed = false;                      // an event came since the last arm
};

} // namespace vrift

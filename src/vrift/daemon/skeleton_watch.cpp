#include "vrift/daemon/skeleton_watch.h"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "vrift/util/fs.h"

namespace vrift {

namespace {

constexpr uint32_t kMask = IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT | IN_ONLYDIR | IN_DONT_FOLLOW;
// Every change to a directory's entries or to a file in it (reads and opens are not changes).
constexpr uint32_t kTreeMask =
    IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO;

int64_t ctime_ns(const struct stat& st) { return fs::ns(st.st_ctim); }

bool same_type(EntryType t, mode_t m) {
  switch (t) {
  case EntryType::File:
    return S_ISREG(m);
  case EntryType::Dir:
    return S_ISDIR(m);
  case EntryType::Symlink:
    return S_ISLNK(m);
  }
  return false;
}

} // namespace

void SkeletonWatch::reset() {
  m_fd.reset();
  m_watched = 0;
  m_tree_unchanged = false;
}

void SkeletonWatch::arm(const std::string& root, const Tree& tree, int64_t unchanged_before_ns) {
  reset();
  UniqueFd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd.valid()) return;
  const uint32_t mask = unchanged_before_ns > 0 ? kMask | kTreeMask : kMask;
  struct stat st {};
  if (::inotify_add_watch(fd.get(), root.c_str(), mask) < 0 || ::lstat(root.c_str(), &st) != 0 ||
      !S_ISDIR(st.st_mode))
    return;
  size_t watched = 1;
  std::string p = root == "/" ? "/" : root + "/";
  const size_t base = p.size();
  for (const auto& [path, e] : tree.entries()) {
    if (e.type != EntryType::Dir) continue;
    if (watched > kMaxDirs) return; // too many to watch: the client checks
    p.resize(base);
    p += path;
    if (::inotify_add_watch(fd.get(), p.c_str(), mask) < 0) return;
    ++watched;
  }
  m_fd = std::move(fd);
  m_dev = st.st_dev;
  m_ino = st.st_ino;
  m_watched = watched;
  if (unchanged_before_ns <= 0) return;
  // The watches are in place: from here on a change is an event, so an entry found unchanged
  // now stays known until one arrives.
  const int64_t limit = unchanged_before_ns - kCtimeMarginNs;
  if (ctime_ns(st) >= limit) return;
  // Each entry is looked at relative to its directory, opened once for the run of entries in
  // it (the tree is in path order): a one-component lookup, not the whole path's walk.
  UniqueFd root_fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd.valid()) return;
  std::string_view dir;
  UniqueFd dir_fd;
  for (const auto& [path, e] : tree.entries()) {
    const size_t slash = path.rfind('/');
    const std::string_view parent =
        slash == std::string::npos ? std::string_view() : std::string_view(path).substr(0, slash);
    if (parent.empty()) {
      dir = parent;
      dir_fd.reset();
    } else if (parent != dir || !dir_fd.valid()) {
      dir_fd.reset(::openat(root_fd.get(), std::string(parent).c_str(),
                            O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!dir_fd.valid()) return;
      dir = parent;
    }
    const int at = parent.empty() ? root_fd.get() : dir_fd.get();
    const char* name = path.c_str() + (slash == std::string::npos ? 0 : slash + 1);
    struct stat es {};
    if (::fstatat(at, name, &es, AT_SYMLINK_NOFOLLOW) != 0 || !same_type(e.type, es.st_mode) ||
        ctime_ns(es) >= limit)
      return;
    if (e.type == EntryType::File && static_cast<uint64_t>(es.st_size) != e.size) return;
  }
  m_tree_unchanged = true;
}

bool SkeletonWatch::clean(const std::string& root) {
  if (!m_fd.valid()) return false;
  // The events are queued by the system call that caused them, so one finished before this
  // read is seen here.
  alignas(struct inotify_event) char buf[4096];
  ssize_t n;
  do {
    n = ::read(m_fd.get(), buf, sizeof buf);
  } while (n < 0 && errno == EINTR);
  struct stat st {};
  if (n != -1 || errno != EAGAIN || ::stat(root.c_str(), &st) != 0 || st.st_dev != m_dev ||
      st.st_ino != m_ino) {
    reset();
    return false;
  }
  return true;
}

} // namespace vrift

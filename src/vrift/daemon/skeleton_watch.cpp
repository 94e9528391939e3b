#include "vrift/daemon/skeleton_watch.h"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "vrift/hash/blake3.h"
#include "vrift/util/fs.h"

namespace vrift {

namespace {

constexpr uint32_t kMask = IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT | IN_ONLYDIR | IN_DONT_FOLLOW;
// Every change to a directory's entries or to a file in it (reads and opens are not changes).
constexpr uint32_t kTreeMask =
    IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO;

int64_t ctime_ns(const struct stat& st) { return fs::ns(st.st_ctim); }

// A file whose ctime is younger than the walk but whose mode, mtime, size and bytes are still
// the tree's: what the walk itself does to a file it links into the store (the link, or moving
// an edited blob aside, sets the ctime of the inode the file shares with the store), and so
// what every file changed since the run before looks like once walked. Read after the watches
// are in place, so a change after the read is an event.
bool still_as_walked(const std::string& path, const ManifestEntry& e, std::vector<uint8_t>& buf) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
  struct stat st {};
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<uint64_t>(st.st_size) != e.size || (st.st_mode & 07777) != e.mode ||
      fs::ns(st.st_mtim) != e.mtime_ns)
    return false;
  if (buf.empty()) buf.resize(1 << 20);
  uint64_t n = 0;
  auto h = blake3_file(fd.get(), e.size, &n, buf.data(), buf.size());
  return h.ok() && n == e.size && *h == e.hash;
}

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
  std::vector<const std::pair<const std::string, ManifestEntry>*> recent; // files to read
  uint64_t recent_bytes = 0;
  for (const auto& entry : tree.entries()) {
    const auto& [path, e] = entry;
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
    if (::fstatat(at, name, &es, AT_SYMLINK_NOFOLLOW) != 0 || !same_type(e.type, es.st_mode))
      return;
    if (e.type == EntryType::File && static_cast<uint64_t>(es.st_size) != e.size) return;
    if (ctime_ns(es) >= limit) {
      // Younger than the walk: a file may still be as walked (still_as_walked), if there are
      // few enough to read; a directory or a symlink is not vouched for.
      recent_bytes += e.size;
      if (e.type != EntryType::File || recent.size() >= kMaxReread ||
          recent_bytes > kMaxRereadBytes)
        return;
      recent.push_back(&entry);
    }
  }
  std::vector<uint8_t> buf;
  for (const auto* entry : recent) {
    p.resize(base);
    p += entry->first;
    if (!still_as_walked(p, entry->second, buf)) return;
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

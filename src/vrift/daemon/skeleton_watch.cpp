#include "vrift/daemon/skeleton_watch.h"

#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace vrift {

namespace {

constexpr uint32_t kMask = IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT | IN_ONLYDIR | IN_DONT_FOLLOW;

} // namespace

void SkeletonWatch::reset() {
  m_fd.reset();
  m_watched = 0;
}

void SkeletonWatch::arm(const std::string& root, const Tree& tree) {
  reset();
  UniqueFd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd.valid()) return;
  struct stat st {};
  if (::inotify_add_watch(fd.get(), root.c_str(), kMask) < 0 || ::lstat(root.c_str(), &st) != 0 ||
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
    if (::inotify_add_watch(fd.get(), p.c_str(), kMask) < 0) return;
    ++watched;
  }
  m_fd = std::move(fd);
  m_dev = st.st_dev;
  m_ino = st.st_ino;
  m_watched = watched;
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

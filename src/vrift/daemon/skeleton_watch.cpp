#include "vrift/daemon/skeleton_watch.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "vrift/hash/blake3.h"
#include "vrift/store/store.h"
#include "vrift/util/fs.h"

namespace vrift {

namespace {

constexpr uint32_t kMask = IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT | IN_ONLYDIR | IN_DONT_FOLLOW;
// Every change to a directory's entries or to a file in it (reads and opens are not changes).
constexpr uint32_t kTreeMask =
    IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO;

// A second reader for the files younger than the walk past this many files and bytes (a first
// walk's: dataset B's 9,476 files, 130 MB, took 520 ms on one thread, 250 ms on two).
constexpr size_t kTwoReadersFiles = 64;
constexpr uint64_t kTwoReadersBytes = 8ull << 20;

int64_t ctime_ns(const struct stat& st) { return fs::ns(st.st_ctim); }

// A file whose ctime is younger than the walk but whose mode, mtime, size and bytes are still
// the tree's: what the walk itself does to a file it links into the store (the link, or moving
// an edited blob aside, sets the ctime of the inode the file shares with the store), and so
// what every file changed since the run before looks like once walked. Read after the watches
// are in place, so a change after the read is an event.
//
// Or, a tier1 file (InsertPolicy::ReadOnly) the walk replaced by a link to the blob the store
// already had, whose mtime it then has (the manifest has the mode after placement, the mtime
// before): it must be that blob's very inode (under STORE, the store's root), read-only, of the
// tree's mode; its bytes are read as well.
bool still_as_walked(const std::string& path, const ManifestEntry& e, const std::string& store,
                     std::vector<uint8_t>& buf) {
  // (O_NONBLOCK: a FIFO put in the file's place must not block the thread)
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  struct stat st {};
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<uint64_t>(st.st_size) != e.size || (st.st_mode & 07777) != e.mode)
    return false;
  if (fs::ns(st.st_mtim) != e.mtime_ns) {
    struct stat bs {};
    if (store.empty() || (st.st_mode & 0222) != 0 ||
        ::stat((store + "/" + Store::blob_relpath(e.hash, e.size)).c_str(), &bs) != 0 ||
        bs.st_dev != st.st_dev || bs.st_ino != st.st_ino)
      return false;
  }
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

// A directory younger than the walk (an entry came or went since it began) still as walked: each
// name in it is the tree's (and looked at as such), or older than LIMIT (there before the walk,
// which left it out: the project's filters), or OWN (the first component of the walk's own
// manifest, in the root: the first walk creates `.vrift/`). DIR ("" for the root) is relative to
// ROOT_FD; NAMES are the tree's entries in it.
bool listing_as_walked(int root_fd, const std::string& dir,
                       const std::unordered_set<std::string_view>& names, std::string_view own,
                       int64_t limit) {
  const int fd = ::openat(root_fd, dir.empty() ? "." : dir.c_str(),
                          O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return false;
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return false;
  }
  bool ok = true;
  errno = 0;
  while (const struct dirent* de = ::readdir(d)) {
    const std::string_view name = de->d_name;
    if (name == "." || name == ".." || names.count(name) || (dir.empty() && name == own)) continue;
    struct stat st {};
    if (::fstatat(::dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || ctime_ns(st) >= limit) {
      ok = false;
      break;
    }
  }
  if (ok && errno != 0) ok = false; // readdir failed
  ::closedir(d);
  return ok;
}

} // namespace

// A look at the tree, shared by SkeletonWatch and the thread making it.
struct SkeletonWatch::TreeCheck {
  enum class State { kRunning, kUnchanged, kChanged };
  std::atomic<bool> cancel{false};
  // The reads' progress, for wait_tree()'s estimate: the bytes to read (known once every entry
  // was looked at), those read so far, and when the reads began (steady clock; 0: not yet).
  std::atomic<uint64_t> to_read{0}, read{0};
  std::atomic<int64_t> reads_began_ns{0};
  // A wait that ended before the look did: the next one does not wait again (the fast path and
  // then the full path of one run both ask).
  mutable std::atomic<bool> waited_out{false};
  mutable std::mutex m;
  mutable std::condition_variable done;
  State state = State::kRunning; // guarded by m

  void finish(bool unchanged) {
    {
      std::lock_guard<std::mutex> l(m);
      state = unchanged ? State::kUnchanged : State::kChanged;
    }
    done.notify_all();
  }
  State get() const {
    std::lock_guard<std::mutex> l(m);
    return state;
  }
};

namespace {

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Every entry of ENTRIES (a tree's, in path order) under ROOT as the tree has it, and older than
// LIMIT (a ctime) or, for a file, still as walked, for a directory its listing (ROOT_CTIME_NS:
// the root's). Stops, with false, when CHECK is cancelled; publishes the reads' progress in it.
bool entries_unchanged(const std::string& root, dev_t root_dev, ino_t root_ino,
                       int64_t root_ctime_ns, const std::vector<ManifestEntry>& entries,
                       std::string_view own, const std::string& store, int64_t limit,
                       SkeletonWatch::TreeCheck& check) {
  const std::atomic<bool>& cancel = check.cancel;
  // Each entry is looked at relative to its directory, opened once for the run of entries in
  // it (the tree is in path order): a one-component lookup, not the whole path's walk.
  UniqueFd root_fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  struct stat rs {};
  if (!root_fd.valid() || ::fstat(root_fd.get(), &rs) != 0 || rs.st_dev != root_dev ||
      rs.st_ino != root_ino)
    return false; // not the root that was armed
  // A directory below the root younger than the walk may have been put there whole (a rename
  // keeps its entries' ctimes): everything below it counts as young too, and is read, listed or
  // read as a link. (The root is young after any first walk, which creates `.vrift/` in it.)
  std::unordered_set<std::string_view> young_below; // young directories other than the root
  std::string_view dir;
  UniqueFd dir_fd;
  std::vector<const ManifestEntry*> recent; // files to read
  uint64_t recent_bytes = 0;
  std::vector<std::string> young_dirs; // directories to list
  if (root_ctime_ns >= limit) young_dirs.emplace_back();
  for (const ManifestEntry& e : entries) {
    if (cancel.load(std::memory_order_relaxed)) return false;
    const std::string& path = e.path;
    const size_t slash = path.rfind('/');
    const std::string_view parent =
        slash == std::string::npos ? std::string_view() : std::string_view(path).substr(0, slash);
    if (parent.empty()) {
      dir = parent;
      dir_fd.reset();
    } else if (parent != dir || !dir_fd.valid()) {
      dir_fd.reset(::openat(root_fd.get(), std::string(parent).c_str(),
                            O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!dir_fd.valid()) return false;
      dir = parent;
    }
    const int at = parent.empty() ? root_fd.get() : dir_fd.get();
    const char* name = path.c_str() + (slash == std::string::npos ? 0 : slash + 1);
    struct stat es {};
    if (::fstatat(at, name, &es, AT_SYMLINK_NOFOLLOW) != 0 || !same_type(e.type, es.st_mode))
      return false;
    if (e.type == EntryType::File && static_cast<uint64_t>(es.st_size) != e.size) return false;
    if (ctime_ns(es) >= limit || (!parent.empty() && young_below.count(parent))) {
      // Younger than the walk, or below such a directory: a file may still be as walked
      // (still_as_walked), if there are few enough to read, a directory too (listing_as_walked:
      // the walk replaced files of it with links to blobs the store had), a symlink if it still
      // points where the tree says.
      if (e.type == EntryType::Dir) {
        young_dirs.push_back(e.path);
        young_below.insert(path);
        continue;
      }
      if (e.type == EntryType::Symlink) {
        char target[PATH_MAX];
        const ssize_t n = ::readlinkat(at, name, target, sizeof target);
        if (n < 0 || std::string_view(target, static_cast<size_t>(n)) != e.target) return false;
        continue;
      }
      recent_bytes += e.size;
      if (e.type != EntryType::File || recent.size() >= SkeletonWatch::kMaxReread ||
          recent_bytes > SkeletonWatch::kMaxRereadBytes)
        return false;
      recent.push_back(&e);
    }
  }
  if (!young_dirs.empty()) {
    // The tree's names in each of them, from one pass over the tree.
    std::unordered_map<std::string_view, std::unordered_set<std::string_view>> names;
    for (const std::string& d : young_dirs)
      names[d];
    for (const ManifestEntry& e : entries) {
      const size_t slash = e.path.rfind('/');
      const std::string_view path = e.path;
      auto it = names.find(slash == std::string::npos ? std::string_view() : path.substr(0, slash));
      if (it != names.end()) it->second.insert(path.substr(slash + 1));
    }
    for (const std::string& d : young_dirs) {
      if (cancel.load(std::memory_order_relaxed) ||
          !listing_as_walked(root_fd.get(), d, names[d], own, limit))
        return false;
    }
  }
  // The reads, on two threads when there is much to read (a first walk: every file), each taking
  // the next file to read.
  check.to_read.store(recent_bytes);
  check.reads_began_ns.store(steady_ns());
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto read_some = [&] {
    std::vector<uint8_t> buf;
    std::string p = root == "/" ? "/" : root + "/";
    const size_t base = p.size();
    for (size_t i; (i = next.fetch_add(1)) < recent.size();) {
      if (failed.load(std::memory_order_relaxed) || cancel.load(std::memory_order_relaxed)) return;
      const ManifestEntry& e = *recent[i];
      p.resize(base);
      p += e.path;
      if (!still_as_walked(p, e, store, buf)) {
        failed.store(true);
        return;
      }
      check.read.fetch_add(e.size, std::memory_order_relaxed);
    }
  };
  auto reader = [&]() noexcept {
    try {
      read_some();
    } catch (...) { // std::bad_alloc
      failed.store(true);
    }
  };
  std::thread helper;
  if (recent.size() >= kTwoReadersFiles && recent_bytes >= kTwoReadersBytes) {
    try {
      helper = std::thread(reader);
    } catch (...) {
      // one reader, then
    }
  }
  reader();
  if (helper.joinable()) helper.join();
  return !failed.load() && !cancel.load();
}

} // namespace

namespace {

// Starts F on a thread of its own, detached, with the asynchronous signals blocked (a thread
// inherits the mask it is created with: a SIGTERM must interrupt the loop's poll, on the main
// thread). The synchronous ones stay open: a fault raises them in the thread that made it, and
// one blocked there would kill the daemon (blake3_file turns a SIGBUS from a file truncated
// under its mapping into an error). False when no thread could be started (F, and what it
// holds, then destroyed here).
template <typename F> bool detach_thread(F&& f) {
  sigset_t mask, old;
  ::sigfillset(&mask);
  for (int sig : {SIGBUS, SIGSEGV, SIGFPE, SIGILL, SIGTRAP, SIGSYS})
    ::sigdelset(&mask, sig);
  ::pthread_sigmask(SIG_SETMASK, &mask, &old);
  struct Restore {
    sigset_t* old;
    ~Restore() { ::pthread_sigmask(SIG_SETMASK, old, nullptr); }
  } restore{&old};
  try {
    std::thread(std::forward<F>(f)).detach();
    return true;
  } catch (...) { // std::system_error, or std::bad_alloc for the thread's state
    return false;
  }
}

// Instances with more watches are closed on a thread of their own: closing one removes each of
// its watches, 21-33 ms for dataset A's 3,000, which the run whose open found the tree changed
// (and its edit-run loop) would otherwise wait for. How many such closes are under way: their
// watches still count against the user's inotify limits.
constexpr size_t kCloseAsideWatches = 256;
std::atomic<int> g_closing{0};

void close_aside(UniqueFd fd) {
  g_closing.fetch_add(1);
  if (!detach_thread([f = std::move(fd)]() mutable {
        f.reset();
        g_closing.fetch_sub(1);
      }))
    g_closing.fetch_sub(1); // closed here, with the lambda
}

// inotify_add_watch, once more after the closes under way ended (at most ~0.5 s) when it failed
// for the inotify limits (ENOSPC: watches; EMFILE: instances) while some were.
int add_watch(int fd, const char* path, uint32_t mask) {
  int w = ::inotify_add_watch(fd, path, mask);
  if (w >= 0 || (errno != ENOSPC && errno != EMFILE)) return w;
  for (int i = 0; i < 500 && g_closing.load() > 0; ++i)
    ::usleep(1000);
  return ::inotify_add_watch(fd, path, mask);
}

// Reads every event queued on FD (a watch whose descriptors name the directories DIRS, empty for
// a skeleton-only watch) and appends the entries they name to OUT (SkeletonWatch::drain).
// Returns the bytes read: 0 when nothing had come. A queue overflow loses what it lost.
size_t read_events(int fd, const std::unordered_map<int, std::string>& dirs,
                   std::vector<SkeletonWatch::Change>* out) {
  alignas(struct inotify_event) char buf[8192];
  size_t total = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return total; // EAGAIN: no more
    total += static_cast<size_t>(n);
    for (size_t off = 0; off + sizeof(struct inotify_event) <= static_cast<size_t>(n);) {
      struct inotify_event ev;
      std::memcpy(&ev, buf + off, sizeof ev);
      const char* name = buf + off + sizeof ev;
      off += sizeof ev + ev.len;
      if (ev.len == 0 || off > static_cast<size_t>(n)) continue; // about a watched directory
      const auto d = dirs.find(ev.wd);
      if (d == dirs.end()) continue;
      const bool dir = (ev.mask & IN_ISDIR) != 0;
      // A directory's own attributes, or one made, change no entry the VDir serves.
      if (dir && !(ev.mask & (IN_DELETE | IN_MOVED_FROM))) continue;
      SkeletonWatch::Change c;
      c.path = d->second.empty() ? std::string(name) : d->second + "/" + name;
      c.gone_dir = dir;
      out->push_back(std::move(c));
    }
  }
}

} // namespace

void SkeletonWatch::reset() {
  // The thread of a look in progress sees the cancel at its next entry and ends on its own (it
  // shares nothing with this object but the TreeCheck it holds a reference to).
  if (m_check) m_check->cancel.store(true, std::memory_order_relaxed);
  m_check.reset();
  if (m_watched > kCloseAsideWatches && m_fd.valid()) close_aside(std::move(m_fd));
  m_fd.reset();
  m_watched = 0;
  m_dirs.clear();
  m_changed = false;
}

bool SkeletonWatch::tree_unchanged() const {
  return m_fd.valid() && !m_changed && m_check && m_check->get() == TreeCheck::State::kUnchanged;
}

bool SkeletonWatch::tree_pending() const {
  return m_check && m_check->get() == TreeCheck::State::kRunning;
}

bool SkeletonWatch::wait_tree(int timeout_ms) const {
  if (!m_check) return true;
  const TreeCheck& c = *m_check;
  const int64_t deadline = steady_ns() + int64_t{timeout_ms} * 1'000'000;
  std::unique_lock<std::mutex> l(c.m);
  auto give_up = [&c] {
    c.waited_out.store(true);
    return false;
  };
  for (;;) {
    if (c.state != TreeCheck::State::kRunning) return true;
    if (c.waited_out.load()) return false;
    const int64_t now = steady_ns();
    if (now >= deadline) return give_up();
    // Reading: no longer than the rest takes at the rate so far, if that is within the time.
    const int64_t began = c.reads_began_ns.load();
    const uint64_t done = c.read.load(), total = c.to_read.load();
    if (began != 0 && done > 0 && now > began) {
      const double rest_ns = static_cast<double>(total - done) * static_cast<double>(now - began) /
                             static_cast<double>(done);
      if (static_cast<double>(now) + rest_ns > static_cast<double>(deadline)) return give_up();
    }
    c.done.wait_for(l, std::chrono::nanoseconds(std::min<int64_t>(deadline - now, 10'000'000)));
  }
}

void SkeletonWatch::arm(const std::string& root, const Tree& tree, int64_t unchanged_before_ns,
                        const std::string& manifest, const std::string& store) {
  // A watch of the tree that is re-armed (a session a program still runs in) keeps its old
  // watches until the new ones are in place, and what they saw is kept for take_changes(): a
  // change in between is marked, whichever instance has its event.
  struct OldWatches {
    SkeletonWatch& w;
    UniqueFd fd;
    std::unordered_map<int, std::string> dirs;
    size_t watched;
    ~OldWatches() {
      if (!fd.valid()) return;
      if (!dirs.empty()) (void)read_events(fd.get(), dirs, &w.m_changes);
      if (watched > kCloseAsideWatches) close_aside(std::move(fd));
    }
  } old{*this, std::move(m_fd), std::move(m_dirs), m_watched};
  reset();
  UniqueFd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd.valid() && errno == EMFILE && g_closing.load() > 0) {
    for (int i = 0; i < 500 && g_closing.load() > 0; ++i)
      ::usleep(1000);
    fd.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  }
  if (!fd.valid()) return;
  const bool follow = unchanged_before_ns > 0;
  const uint32_t mask = follow ? kMask | kTreeMask : kMask;
  struct stat st {};
  const int root_wd = add_watch(fd.get(), root.c_str(), mask);
  if (root_wd < 0 || ::lstat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return;
  std::unordered_map<int, std::string> dirs;
  if (follow) dirs.emplace(root_wd, std::string());
  size_t watched = 1;
  std::string p = root == "/" ? "/" : root + "/";
  const size_t base = p.size();
  for (const auto& [path, e] : tree.entries()) {
    if (e.type != EntryType::Dir) continue;
    if (watched > kMaxDirs) return; // too many to watch: the client checks
    p.resize(base);
    p += path;
    const int wd = add_watch(fd.get(), p.c_str(), mask);
    if (wd < 0) return;
    if (follow) dirs.emplace(wd, path);
    ++watched;
  }
  m_fd = std::move(fd);
  m_dirs = std::move(dirs);
  m_dev = st.st_dev;
  m_ino = st.st_ino;
  m_watched = watched;
  if (unchanged_before_ns <= 0) return;
  // The watches are in place: from here on a change is an event, so an entry found unchanged
  // now stays known until one arrives.
  auto check = std::make_shared<TreeCheck>();
  m_check = check;
  const int64_t limit = unchanged_before_ns - kCtimeMarginNs;
  // The first component of the manifest's path below the root, if it is there.
  std::string own;
  p.resize(base);
  if (manifest.size() > base && manifest.compare(0, base, p, 0, base) == 0)
    own = manifest.substr(base, manifest.find('/', base) - base);
  if (!detach_thread([check, root, dev = st.st_dev, ino = st.st_ino, root_ctime = ctime_ns(st),
                      entries = tree.to_vector(), own = std::move(own), store, limit] {
        bool unchanged = false;
        try {
          unchanged =
              entries_unchanged(root, dev, ino, root_ctime, entries, own, store, limit, *check);
        } catch (...) { // std::bad_alloc: not vouched for
        }
        check->finish(unchanged);
      }))
    check->finish(false); // no thread: not vouched for, and the next run walks
}

bool SkeletonWatch::clean(const std::string& root) {
  if (!m_fd.valid()) return false;
  // The events are queued by the system call that caused them, so one finished before this
  // read is seen here.
  drain();
  struct stat st {};
  const bool same_root = ::stat(root.c_str(), &st) == 0 && st.st_dev == m_dev && st.st_ino == m_ino;
  if (!m_changed && same_root) return true;
  if (!same_root || !follows()) reset();
  return false;
}

void SkeletonWatch::drain() {
  if (!m_fd.valid() || read_events(m_fd.get(), m_dirs, &m_changes) == 0) return;
  m_changed = true;
  // The look at the tree has no answer to give any more: its thread stops at its next entry.
  if (m_check) m_check->cancel.store(true, std::memory_order_relaxed);
}

} // namespace vrift

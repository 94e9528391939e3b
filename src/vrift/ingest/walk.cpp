#include "vrift/ingest/walk.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "vrift/util/fd.h"

namespace vrift {

namespace {

std::string fs_join(const std::string& a, const std::string& b) {
  return b.empty() ? a : a + "/" + b;
}

struct linux_dirent64 {
  ino64_t d_ino;
  off64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[256]; // the kernel sizes records by d_reclen; 256 covers NAME_MAX
};

class DirQueue {
public:
  void push(std::string rel, uint32_t tag) {
    {
      std::lock_guard lk(m_mu);
      m_dirs.push_back({std::move(rel), tag});
    }
    m_cv.notify_one();
  }
  // Waits for a directory; false once the walk is finished or aborted.
  bool pop(std::string& out, uint32_t& tag) {
    std::unique_lock lk(m_mu);
    m_cv.wait(lk, [&] { return m_abort || !m_dirs.empty() || m_active == 0; });
    if (m_abort || m_dirs.empty()) return false;
    out = std::move(m_dirs.back().rel); // LIFO: depth-first keeps the queue short
    tag = m_dirs.back().tag;
    m_dirs.pop_back();
    ++m_active;
    return true;
  }
  void done() {
    std::lock_guard lk(m_mu);
    if (--m_active == 0 && m_dirs.empty()) m_cv.notify_all();
  }
  void abort(Error e) {
    std::lock_guard lk(m_mu);
    if (!m_abort) m_error = std::move(e);
    m_abort = true;
    m_cv.notify_all();
  }
  bool aborted() {
    std::lock_guard lk(m_mu);
    return m_abort;
  }
  Error error() {
    std::lock_guard lk(m_mu);
    return m_error;
  }

private:
  std::mutex m_mu;
  std::condition_variable m_cv;
  struct Item {
    std::string rel;
    uint32_t tag;
  };
  std::deque<Item> m_dirs;
  size_t m_active = 0;
  bool m_abort = false;
  Error m_error;
};

Status walk_dir(int root_fd, const std::string& root, const std::string& rel, uint32_t tag,
                unsigned worker, const WalkVisitor& v, DirQueue& q, std::vector<char>& buf) {
  UniqueFd dfd(::openat(root_fd, rel.empty() ? "." : rel.c_str(),
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dfd.valid()) return fail_os("opening directory '" + fs_join(root, rel) + "'");
  std::string child;
  for (;;) {
    long n = ::syscall(SYS_getdents64, dfd.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_os("listing '" + fs_join(root, rel) + "'");
    }
    if (n == 0) break;
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<linux_dirent64*>(buf.data() + off);
      off += d->d_reclen;
      const char* name = d->d_name;
      if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
      struct stat st {};
      if (::fstatat(dfd.get(), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT)
          return fail("'" + fs_join(root, rel.empty() ? name : rel + "/" + name) +
                          "' vanished while being ingested",
                      ENOENT);
        return fail_os("stat '" + fs_join(root, rel.empty() ? name : rel + "/" + name) + "'");
      }
      child = rel.empty() ? std::string(name) : rel + "/" + name;
      uint32_t subdir_tag = tag;
      VRIFT_ASSIGN(bool descend,
                   v.visit(worker, WalkEntry{dfd.get(), name, child, st, tag, &subdir_tag}));
      if (descend && S_ISDIR(st.st_mode)) q.push(child, subdir_tag);
    }
  }
  return {};
}

} // namespace

Status parallel_walk(const std::string& root, unsigned threads, const WalkVisitor& visitor) {
  UniqueFd root_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd.valid()) return fail_os("opening directory '" + root + "'");
  DirQueue q;
  q.push(std::string(), 0);
  auto run = [&](unsigned worker) {
    std::vector<char> buf(1 << 15);
    std::string rel;
    uint32_t tag = 0;
    while (q.pop(rel, tag)) {
      Status s = walk_dir(root_fd.get(), root, rel, tag, worker, visitor, q, buf);
      if (!s.ok()) q.abort(std::move(s).error());
      q.done();
    }
  };
  if (threads <= 1) {
    run(0);
  } else {
    std::vector<std::thread> pool;
    for (unsigned i = 0; i < threads; ++i)
      pool.emplace_back(run, i);
    for (auto& t : pool)
      t.join();
  }
  if (q.aborted()) return fail(q.error());
  return {};
}

} // namespace vrift

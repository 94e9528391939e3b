#include "vrift/run/skeleton.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace vrift::run {

namespace {

const char* kind_of(mode_t m) {
  if (S_ISREG(m)) return "a file";
  if (S_ISDIR(m)) return "a directory";
  if (S_ISLNK(m)) return "a symlink";
  return "a special file";
}

// The fast check: if every directory without a subdirectory (a leaf) exists as a directory, so
// do all the others (its ancestors), and only the leaves need an fstatat: about half the
// directories of a node_modules tree. Any doubt sends ensure() down the full walk. (An ancestor
// replaced by a symlink to a tree that has the leaf passes this check; the full walk would
// refuse it.)
bool leaves_exist(int rfd, const Manifest& manifest) {
  std::unordered_set<std::string_view> parents;
  std::vector<std::string_view> dirs;
  for (size_t i = 0; i < manifest.size(); ++i) {
    const EntryView e = manifest.at(i);
    if (e.type != EntryType::Dir) continue;
    dirs.push_back(e.path);
    const size_t slash = e.path.rfind('/');
    if (slash != std::string_view::npos) parents.insert(e.path.substr(0, slash));
  }
  std::string path;
  for (std::string_view d : dirs) {
    if (parents.count(d)) continue;
    path.assign(d);
    struct stat st {};
    if (::fstatat(rfd, path.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
      return false;
  }
  return true;
}

} // namespace

Skeleton& Skeleton::operator=(Skeleton&& o) noexcept {
  if (this != &o) {
    remove();
    m_root = std::move(o.m_root);
    m_root_path = std::move(o.m_root_path);
    m_items = std::move(o.m_items);
    m_dirs = o.m_dirs;
    o.m_items.clear();
  }
  return *this;
}

Skeleton::~Skeleton() { remove(); }

Result<Skeleton> Skeleton::ensure(const std::string& root, const Manifest& manifest) {
  Skeleton s;
  s.m_root_path = root;
  s.m_root.reset(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!s.m_root.valid()) return fail_os("opening projection root '" + root + "'");
  int rfd = s.m_root.get();
  if (leaves_exist(rfd, manifest)) return s; // the usual case: nothing to create
  for (size_t i = 0; i < manifest.size(); ++i) {
    EntryView e = manifest.at(i);
    // Symlinks are the shim's (it resolves them from the VDir, so phantom ingest removes them
    // from disk): only directories need to exist physically.
    if (e.type != EntryType::Dir) continue;
    std::string path(e.path);
    struct stat st {};
    if (::fstatat(rfd, path.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      if (S_ISDIR(st.st_mode)) continue;
      return fail("'" + root + "/" + path + "' is " + kind_of(st.st_mode) +
                      ", the manifest has a directory there",
                  ENOTDIR);
    }
    if (errno != ENOENT) return fail_os("checking '" + root + "/" + path + "'");
    Item it;
    it.path = path;
    it.mode = e.mode & 07777;
    // Owner access until every child exists; the manifest's mode is applied afterwards.
    if (::mkdirat(rfd, path.c_str(), 0700) != 0) {
      // Another run at the same root made it between our check and here: it is theirs.
      if (errno == EEXIST && ::fstatat(rfd, path.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISDIR(st.st_mode))
        continue;
      return fail_os("creating '" + root + "/" + path + "'");
    }
    if (::fstatat(rfd, path.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      return fail_os("checking '" + root + "/" + path + "'");
    it.dev = st.st_dev;
    it.ino = st.st_ino;
    s.m_items.push_back(std::move(it));
    ++s.m_dirs;
    if (::fchmodat(rfd, path.c_str(), 0700, 0) != 0) // whatever the umask says
      return fail_os("setting the mode of '" + root + "/" + path + "'");
  }
  // Children first, so that a parent without write or search permission comes last.
  for (auto it = s.m_items.rbegin(); it != s.m_items.rend(); ++it) {
    if (::fchmodat(rfd, it->path.c_str(), it->mode, 0) != 0)
      return fail_os("setting the mode of '" + root + "/" + it->path + "'");
  }
  return s;
}

bool Skeleton::still_ours(const Item& it) const {
  struct stat st {};
  if (::fstatat(m_root.get(), it.path.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
  return st.st_dev == it.dev && st.st_ino == it.ino && S_ISDIR(st.st_mode);
}

size_t Skeleton::remove() {
  if (!m_root.valid() || m_items.empty()) return 0;
  int rfd = m_root.get();
  // Removing an entry needs write and search permission on its parent: open up the created
  // directories that lack them, and put their mode back on those that stay.
  std::map<std::string, const Item*> opened;
  for (const Item& it : m_items) {
    if ((it.mode & 0700) != 0700 && still_ours(it) &&
        ::fchmodat(rfd, it.path.c_str(), it.mode | 0700, 0) == 0)
      opened.emplace(it.path, &it);
  }
  size_t removed = 0;
  for (auto it = m_items.rbegin(); it != m_items.rend(); ++it) {
    if (!still_ours(*it)) continue;
    if (::unlinkat(rfd, it->path.c_str(), AT_REMOVEDIR) == 0) {
      ++removed;
      opened.erase(it->path);
    }
  }
  for (const auto& [path, item] : opened)
    (void)::fchmodat(rfd, path.c_str(), item->mode, 0);
  m_items.clear();
  m_root.reset();
  return removed;
}

} // namespace vrift::run

#include "vrift/daemon/tree.h"

#include <algorithm>
#include <cerrno>

namespace vrift {

namespace {
Error err(int e, const std::string& what) { return Error(what + ": " + std::strerror(e), e); }
} // namespace

std::string_view parent_path(std::string_view path) {
  auto pos = path.rfind('/');
  return pos == std::string_view::npos ? std::string_view() : path.substr(0, pos);
}

Tree::Tree(const Manifest& m) {
  for (ManifestEntry& e : m.entries()) { // a temporary vector: its entries can be moved from
    std::string key = e.path;
    m_entries.emplace_hint(m_entries.end(), std::move(key), std::move(e)); // already in order
  }
}

const ManifestEntry* Tree::find(std::string_view path) const {
  auto it = m_entries.find(path);
  return it == m_entries.end() ? nullptr : &it->second;
}

std::vector<ManifestEntry> Tree::to_vector() const {
  std::vector<ManifestEntry> out;
  out.reserve(m_entries.size());
  for (const auto& [p, e] : m_entries)
    out.push_back(e);
  return out;
}

Status Tree::check_parent(const std::string& path) const {
  VRIFT_TRY(validate_manifest_path(path));
  std::string_view parent = parent_path(path);
  if (parent.empty()) return {};
  const ManifestEntry* p = find(parent);
  if (!p) return fail(err(ENOENT, "'" + std::string(parent) + "'"));
  if (p->type != EntryType::Dir) return fail(err(ENOTDIR, "'" + std::string(parent) + "'"));
  return {};
}

bool Tree::has_children(const std::string& dir) const {
  std::string prefix = dir + "/";
  auto it = m_entries.lower_bound(prefix);
  return it != m_entries.end() && it->first.compare(0, prefix.size(), prefix) == 0;
}

Status Tree::put(ManifestEntry e) {
  VRIFT_TRY(check_parent(e.path));
  auto it = m_entries.find(e.path);
  if (it != m_entries.end() && it->second.type == EntryType::Dir) {
    return fail(err(EISDIR, "'" + e.path + "'"));
  }
  std::string key = e.path;
  m_entries.insert_or_assign(std::move(key), std::move(e));
  return {};
}

Status Tree::mkdir(const std::string& path, uint32_t mode, int64_t mtime_ns) {
  VRIFT_TRY(check_parent(path));
  if (find(path)) return fail(err(EEXIST, "'" + path + "'"));
  ManifestEntry e;
  e.path = path;
  e.type = EntryType::Dir;
  e.mode = mode & 07777;
  e.mtime_ns = mtime_ns;
  m_entries.emplace(path, std::move(e));
  return {};
}

Status Tree::rmdir(const std::string& path) {
  auto it = m_entries.find(path);
  if (it == m_entries.end()) return fail(err(ENOENT, "'" + path + "'"));
  if (it->second.type != EntryType::Dir) return fail(err(ENOTDIR, "'" + path + "'"));
  if (has_children(path)) return fail(err(ENOTEMPTY, "'" + path + "'"));
  m_entries.erase(it);
  return {};
}

Status Tree::unlink(const std::string& path) {
  auto it = m_entries.find(path);
  if (it == m_entries.end()) return fail(err(ENOENT, "'" + path + "'"));
  if (it->second.type == EntryType::Dir) return fail(err(EISDIR, "'" + path + "'"));
  m_entries.erase(it);
  return {};
}

Status Tree::rename(const std::string& from, const std::string& to,
                    std::vector<std::pair<std::string, std::string>>* moved) {
  auto src = m_entries.find(from);
  if (src == m_entries.end()) return fail(err(ENOENT, "'" + from + "'"));
  VRIFT_TRY(check_parent(to));
  if (from == to) return {};
  bool is_dir = src->second.type == EntryType::Dir;
  if (is_dir && to.compare(0, from.size() + 1, from + "/") == 0) {
    return fail(err(EINVAL, "'" + to + "' is inside '" + from + "'"));
  }
  if (auto dst = m_entries.find(to); dst != m_entries.end()) {
    bool dst_dir = dst->second.type == EntryType::Dir;
    if (is_dir && !dst_dir) return fail(err(ENOTDIR, "'" + to + "'"));
    if (!is_dir && dst_dir) return fail(err(EISDIR, "'" + to + "'"));
    if (dst_dir && has_children(to)) return fail(err(ENOTEMPTY, "'" + to + "'"));
  }
  // Every path below a renamed directory must still be a valid manifest path: checked before
  // anything changes (a longer name could push a descendant past the limit, and a manifest
  // with such a path could never be written or opened again).
  if (is_dir && to.size() > from.size()) {
    const std::string prefix = from + "/";
    size_t longest = 0;
    for (auto it = m_entries.lower_bound(prefix);
         it != m_entries.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it)
      longest = std::max(longest, it->first.size());
    if (longest - from.size() + to.size() > kMaxManifestPath) {
      return fail(err(ENAMETOOLONG,
                      "renaming '" + from + "' to '" + to + "' would make a path of " +
                          std::to_string(longest - from.size() + to.size()) +
                          " bytes below it (at most " + std::to_string(kMaxManifestPath) + ")"));
    }
  }
  if (auto dst = m_entries.find(to); dst != m_entries.end()) m_entries.erase(dst);
  // Collect the entry and, for a directory, everything below it; then re-key them.
  std::vector<ManifestEntry> moving;
  moving.push_back(std::move(src->second));
  m_entries.erase(src);
  if (is_dir) {
    std::string prefix = from + "/";
    auto it = m_entries.lower_bound(prefix);
    while (it != m_entries.end() && it->first.compare(0, prefix.size(), prefix) == 0) {
      moving.push_back(std::move(it->second));
      it = m_entries.erase(it);
    }
  }
  for (auto& e : moving) {
    std::string old = e.path;
    e.path = to + old.substr(from.size());
    if (moved) moved->emplace_back(old, e.path);
    std::string key = e.path;
    m_entries.insert_or_assign(std::move(key), std::move(e));
  }
  return {};
}

Status Tree::chmod(const std::string& path, uint32_t mode) {
  auto it = m_entries.find(path);
  if (it == m_entries.end()) return fail(err(ENOENT, "'" + path + "'"));
  it->second.mode = mode & 07777;
  return {};
}

Status Tree::set_mtime(const std::string& path, int64_t mtime_ns) {
  auto it = m_entries.find(path);
  if (it == m_entries.end()) return fail(err(ENOENT, "'" + path + "'"));
  it->second.mtime_ns = mtime_ns;
  return {};
}

} // namespace vrift

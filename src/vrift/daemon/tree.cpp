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
  if (it == m_entries.end()) return fail(err(missing_errno(path), "'" + path + "'"));
  if (it->second.type != EntryType::Dir) return fail(err(ENOTDIR, "'" + path + "'"));
  if (has_children(path)) return fail(err(ENOTEMPTY, "'" + path + "'"));
  m_entries.erase(it);
  return {};
}

Status Tree::unlink(const std::string& path) {
  auto it = m_entries.find(path);
  if (it == m_entries.end()) return fail(err(missing_errno(path), "'" + path + "'"));
  if (it->second.type == EntryType::Dir) return fail(err(EISDIR, "'" + path + "'"));
  m_entries.erase(it);
  return {};
}

Status Tree::rename(const std::string& from, const std::string& to,
                    std::vector<std::pair<std::string, std::string>>* moved) {
  auto src = m_entries.find(from);
  if (src == m_entries.end()) return fail(err(missing_errno(from), "'" + from + "'"));
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

int Tree::missing_errno(std::string_view path) const {
  for (std::string_view p = parent_path(path); !p.empty(); p = parent_path(p)) {
    if (const ManifestEntry* e = find(p)) return e->type == EntryType::Dir ? ENOENT : ENOTDIR;
  }
  return ENOENT;
}

namespace {

// Appends the components of S to PENDING (before what is there): a trailing '/' becomes an
// empty last component, which asks for a directory.
void push_front_components(std::string_view s, std::vector<std::string>* pending) {
  std::vector<std::string> parts;
  for (size_t i = 0; i <= s.size();) {
    size_t j = s.find('/', i);
    if (j == std::string_view::npos) j = s.size();
    std::string_view c = s.substr(i, j - i);
    if (!c.empty() || (j == s.size() && i > 0 && i == s.size())) parts.emplace_back(c);
    i = j + 1;
  }
  // PENDING is consumed from the back: push in reverse.
  pending->insert(pending->end(), parts.rbegin(), parts.rend());
}

std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& c : parts) {
    if (!out.empty()) out += '/';
    out += c;
  }
  return out;
}

} // namespace

Result<std::string> Tree::resolve(const std::string& path, bool follow_last,
                                  const std::string& root) const {
  // Component by component, as the kernel walks: DONE is the resolved prefix, PENDING what is
  // left (back first). A symlink's target is spliced in unresolved, so a ".." after it applies
  // to where the link led, not to the link's text.
  std::vector<std::string> done, pending;
  push_front_components(path, &pending);
  int hops = 0;
  while (!pending.empty()) {
    std::string c = std::move(pending.back());
    pending.pop_back();
    if (c.empty()) { // a trailing '/': what is resolved so far must be a directory
      if (done.empty()) continue;
      const ManifestEntry* e = find(joined(done));
      if (e && e->type != EntryType::Dir) return fail(err(ENOTDIR, "'" + path + "'"));
      continue;
    }
    if (c == ".") continue;
    if (c == "..") {
      if (done.empty()) return fail(err(EXDEV, "'" + path + "' leads outside the projection"));
      done.pop_back();
      continue;
    }
    done.push_back(std::move(c));
    const std::string here = joined(done);
    const ManifestEntry* e = find(here);
    if (!e) { // a missing component: the operation will say so
      while (!pending.empty()) {
        if (!pending.back().empty()) done.push_back(std::move(pending.back()));
        pending.pop_back();
      }
      return joined(done);
    }
    const bool last = pending.empty();
    if (e->type != EntryType::Symlink || (last && !follow_last)) continue;
    if (++hops > 40) return fail(err(ELOOP, "'" + path + "'"));
    done.pop_back();
    std::string_view target = e->target;
    if (!target.empty() && target[0] == '/') {
      if (target == root || target == root + "/") {
        target = target.substr(root.size());
      } else if (target.size() > root.size() && target.compare(0, root.size(), root) == 0 &&
                 target[root.size()] == '/') {
        target = target.substr(root.size() + 1);
      } else {
        return fail(err(EXDEV, "'" + here + "' points outside the projection"));
      }
      done.clear();
    }
    push_front_components(target, &pending);
  }
  if (done.empty()) return fail(err(EISDIR, "'" + path + "' is the projection's root"));
  return joined(done);
}

} // namespace vrift

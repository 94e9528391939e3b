// VdirWriter: the mutations a session makes (upsert, remove, rename), the fill from a manifest,
// and the writer-side views (get, list_children). Each mutation ends with publish_counters().
#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "vrift/manifest/manifest.h"
#include "vrift/vdir/vdir_writer.h"

namespace vrift::vdir {
namespace {

/// "." is the root's other spelling; everything else is taken as given.
std::string_view normalize(std::string_view p) { return p == "." ? std::string_view{} : p; }

Status check_path(std::string_view p) {
  if (p.empty()) return {}; // the projection root
  return validate_manifest_path(p);
}

std::string_view parent_of(std::string_view p) {
  const size_t slash = p.rfind('/');
  return slash == std::string_view::npos ? std::string_view{} : p.substr(0, slash);
}

uint32_t type_flags(uint32_t mode) {
  switch (mode & kModeTypeMask) {
  case kModeDir:
    return kFlagDir;
  case kModeLink:
    return kFlagSymlink;
  default:
    return 0;
  }
}

/// A record's fields from a VdirStat (path_len, key, ino and target are set by the caller).
Record fields_of(const VdirStat& st) {
  Record v{};
  v.flags =
      (st.flags & kFlagMask & ~(kFlagDeleted | kFlagDir | kFlagSymlink)) | type_flags(st.mode);
  v.mode = st.mode;
  v.size = st.size;
  v.mtime_ns = st.mtime_ns;
  v.ctime_ns = st.ctime_ns;
  v.atime_ns = st.atime_ns;
  v.uid = st.uid;
  v.gid = st.gid;
  v.nlink = st.nlink;
  std::memcpy(v.blob_hash, st.blob_hash, sizeof v.blob_hash);
  return v;
}

VdirStat stat_of(const Record& r) {
  VdirStat st;
  st.size = r.size;
  st.mtime_ns = r.mtime_ns;
  st.ctime_ns = r.ctime_ns;
  st.atime_ns = r.atime_ns;
  st.ino = r.ino;
  st.mode = r.mode;
  st.flags = r.flags;
  st.uid = r.uid;
  st.gid = r.gid;
  st.nlink = r.nlink;
  st.target_len = r.target_len;
  std::memcpy(st.blob_hash, r.blob_hash, sizeof st.blob_hash);
  return st;
}

std::string quoted(std::string_view p) { return "'" + std::string(p) + "'"; }

} // namespace

void VdirWriter::index_child(uint64_t off) {
  const std::string_view p = record_path(off);
  if (!p.empty()) m_children[std::string(parent_of(p))].push_back(off);
}

// Reuses the current target when it is unchanged; otherwise appends the new one (the arena is
// append-only: readers may still be copying the old bytes).
Result<uint64_t> VdirWriter::place_target(std::string_view target, const Record* old) {
  if (target.empty()) return uint64_t{0};
  if (target.size() > kMaxPath) return fail("symlink target longer than 4096 bytes", ENAMETOOLONG);
  if (old && old->target_len == target.size() &&
      std::memcmp(m_map.base + old->target_off, target.data(), target.size()) == 0)
    return old->target_off;
  VRIFT_ASSIGN(const uint64_t off, append(target.size() + 1, 8));
  std::memcpy(m_map.base + off, target.data(), target.size());
  m_map.base[off + target.size()] = '\0';
  return off;
}

Status VdirWriter::upsert(std::string_view path, const VdirStat& st, std::string_view target) {
  path = normalize(path);
  const std::string ctx = "updating VDir entry " + quoted(path);
  VRIFT_TRY(check_path(path).context(ctx));
  const uint64_t key = key_of(path);
  Record v = fields_of(st);
  v.target_len = static_cast<uint32_t>(target.size());
  if (const uint64_t off = find(key, path); off != 0) {
    Record* r = record(off);
    VRIFT_ASSIGN(v.target_off, place_target(target, r).context(ctx));
    v.ino = st.ino ? st.ino : r->ino ? r->ino : m_next_ino++; // a bare tombstone has none
    v.path_len = r->path_len;
    v.key = r->key;
    if (r->flags & kFlagDeleted) ++m_live;
    write_fields(r, v);
  } else {
    VRIFT_TRY(ensure_room_for_one().context(ctx));
    VRIFT_ASSIGN(v.target_off, place_target(target, nullptr).context(ctx));
    v.ino = st.ino ? st.ino : m_next_ino;
    VRIFT_TRY(insert_record(path, key, v).context(ctx));
    if (!st.ino) ++m_next_ino;
    ++m_live;
  }
  publish_counters();
  return {};
}

Status VdirWriter::remove(std::string_view path) {
  path = normalize(path);
  const std::string ctx = "removing VDir entry " + quoted(path);
  VRIFT_TRY(check_path(path).context(ctx));
  const uint64_t key = key_of(path);
  if (const uint64_t off = find(key, path); off != 0) {
    Record* r = record(off);
    if (r->flags & kFlagDeleted) return {};
    Record v = *r;
    v.flags |= kFlagDeleted;
    write_fields(r, v);
    --m_live;
  } else {
    Record v{};
    v.flags = kFlagDeleted;
    v.nlink = 0;
    VRIFT_TRY(insert_record(path, key, v).context(ctx));
  }
  publish_counters();
  return {};
}

bool VdirWriter::get(std::string_view path, VdirStat* out, std::string* target) const {
  path = normalize(path);
  const uint64_t off = find(key_of(path), path);
  if (off == 0) return false;
  const Record* r = record(off);
  *out = stat_of(*r);
  if (target) {
    const char* p = static_cast<const char*>(static_cast<const void*>(m_map.base + r->target_off));
    target->assign(r->target_len ? p : "", r->target_len);
  }
  return true;
}

std::vector<VdirChild> VdirWriter::list_children(std::string_view dir) const {
  std::vector<VdirChild> out;
  auto it = m_children.find(std::string(normalize(dir)));
  if (it == m_children.end()) return out;
  for (uint64_t off : it->second) {
    const Record* r = record(off);
    if (r->flags & kFlagDeleted) continue;
    std::string_view p = record_path(off);
    const size_t slash = p.rfind('/');
    out.push_back({std::string(slash == std::string_view::npos ? p : p.substr(slash + 1)), r->mode,
                   r->flags, r->ino});
  }
  std::sort(out.begin(), out.end(),
            [](const VdirChild& a, const VdirChild& b) { return a.name < b.name; });
  return out;
}

Status VdirWriter::rename(std::string_view from_in, std::string_view to_in) {
  const std::string from(normalize(from_in));
  const std::string to(normalize(to_in));
  const std::string ctx = "renaming VDir entry " + quoted(from) + " to " + quoted(to);
  VRIFT_TRY(check_path(from).context(ctx));
  VRIFT_TRY(check_path(to).context(ctx));
  if (from.empty() || to.empty()) return fail(ctx + ": the projection root cannot move", EBUSY);
  struct Item {
    std::string path;
    VdirStat st;
    std::string target;
  };
  std::vector<Item> items(1);
  items[0].path = from;
  if (!get(from, &items[0].st, &items[0].target) || (items[0].st.flags & kFlagDeleted))
    return fail(ctx + ": no such entry", ENOENT);
  if (from == to) return {};
  if (to.size() > from.size() && to.compare(0, from.size(), from) == 0 && to[from.size()] == '/')
    return fail(ctx + ": cannot move a directory into itself", EINVAL);
  // Collect the live subtree first (upserts below change the directory index).
  for (size_t i = 0; i < items.size(); ++i) {
    if ((items[i].st.mode & kModeTypeMask) != kModeDir) continue;
    auto it = m_children.find(items[i].path);
    if (it == m_children.end()) continue;
    for (uint64_t off : it->second) {
      if (record(off)->flags & kFlagDeleted) continue;
      Item c;
      c.path = std::string(record_path(off));
      get(c.path, &c.st, &c.target);
      items.push_back(std::move(c));
    }
  }
  for (Item& item : items) {
    item.st.flags = (item.st.flags & ~kFlagFromManifest) | kFlagDirty;
    VRIFT_TRY(upsert(to + item.path.substr(from.size()), item.st, item.target).context(ctx));
  }
  for (auto it = items.rbegin(); it != items.rend(); ++it)
    VRIFT_TRY(remove(it->path).context(ctx));
  return {};
}

Status VdirWriter::fill_from_manifest(const Manifest& m, const VdirRoot& root) {
  const std::string ctx = "filling VDir from manifest";
  VRIFT_TRY(reserve(m_count + m.size() + 1).context(ctx));
  std::unordered_map<std::string_view, uint32_t> subdirs; // directory -> subdirectories
  for (size_t i = 0; i < m.size(); ++i)
    if (const EntryView e = m.at(i); e.type == EntryType::Dir) ++subdirs[parent_of(e.path)];
  auto nlink_of = [&](std::string_view dir) {
    auto it = subdirs.find(dir);
    return 2 + (it == subdirs.end() ? 0 : it->second);
  };
  VdirStat st;
  st.mode = kModeDir | (root.mode & 07777);
  st.uid = root.uid;
  st.gid = root.gid;
  st.mtime_ns = st.ctime_ns = st.atime_ns = root.mtime_ns;
  st.size = root.size;
  st.nlink = nlink_of("");
  st.flags = kFlagFromManifest;
  VRIFT_TRY(upsert("", st).context(ctx));
  for (size_t i = 0; i < m.size(); ++i) {
    const EntryView e = m.at(i);
    VdirStat s;
    const uint32_t type = e.type == EntryType::Dir       ? kModeDir
                          : e.type == EntryType::Symlink ? kModeLink
                                                         : kModeReg;
    s.mode = type | (e.mode & 07777);
    s.size = e.size;
    s.mtime_ns = s.ctime_ns = s.atime_ns = e.mtime_ns;
    s.uid = root.uid;
    s.gid = root.gid;
    s.nlink = e.type == EntryType::Dir ? nlink_of(e.path) : 1;
    s.flags = kFlagFromManifest;
    if (e.type == EntryType::File) std::memcpy(s.blob_hash, e.hash, sizeof s.blob_hash);
    VRIFT_TRY(upsert(e.path, s, e.type == EntryType::Symlink ? e.target : std::string_view{})
                  .context(ctx));
  }
  return {};
}

} // namespace vrift::vdir

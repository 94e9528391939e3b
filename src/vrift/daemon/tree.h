// The live, mutable view of one projected tree: what the manifest said, plus every commit and
// mutation since. Sorted by path so a checkpoint serialises it directly into a manifest.
// Paths are relative to the projection root ("" is the root itself, never stored).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "vrift/manifest/manifest.h"
#include "vrift/util/result.h"

namespace vrift {

class Tree {
public:
  Tree() = default;
  explicit Tree(const Manifest& m);

  const ManifestEntry* find(std::string_view path) const;
  size_t size() const { return m_entries.size(); }
  const std::map<std::string, ManifestEntry, std::less<>>& entries() const { return m_entries; }
  std::vector<ManifestEntry> to_vector() const;

  /// Sets a file or symlink entry (creating or replacing); the parent must be a directory.
  /// Replacing a directory with a file is EISDIR. Errors carry an errno value.
  Status put(ManifestEntry e);
  /// mkdir: EEXIST if present, ENOENT/ENOTDIR for a bad parent.
  Status mkdir(const std::string& path, uint32_t mode, int64_t mtime_ns);
  /// rmdir: ENOENT, ENOTDIR, ENOTEMPTY.
  Status rmdir(const std::string& path);
  /// unlink of a file or symlink: ENOENT, EISDIR.
  Status unlink(const std::string& path);
  /// rename(2) semantics inside the tree, including whole directories: ENOENT, EINVAL (into
  /// itself), EISDIR / ENOTDIR / ENOTEMPTY for incompatible targets. Fills MOVED with the
  /// (old, new) path of every entry that moved, for the caller's index.
  Status rename(const std::string& from, const std::string& to,
                std::vector<std::pair<std::string, std::string>>* moved = nullptr);
  Status chmod(const std::string& path, uint32_t mode);
  Status set_mtime(const std::string& path, int64_t mtime_ns);
  /// PATH with the symlinks among its components followed inside the tree (the final one only
  /// when FOLLOW_LAST), as the kernel would: at most 40 links (ELOOP). ROOT is the projection's
  /// absolute root, for absolute targets; a link that leaves the projection is EXDEV (the
  /// daemon cannot change a file it does not hold). A missing component ends the resolution:
  /// the caller's operation then reports it.
  Result<std::string> resolve(const std::string& path, bool follow_last,
                              const std::string& root) const;
  /// The errno for a PATH that is not in the tree: ENOTDIR when an existing ancestor is not a
  /// directory (as the kernel reports "file/x"), else ENOENT.
  int missing_errno(std::string_view path) const;

private:
  Status check_parent(const std::string& path) const;
  bool has_children(const std::string& dir) const;
  std::map<std::string, ManifestEntry, std::less<>> m_entries;
};

/// The parent of a relative path ("" for a top-level entry).
std::string_view parent_path(std::string_view path);

} // namespace vrift

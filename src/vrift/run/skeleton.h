// The physical skeleton of a projection. The shim serves metadata, content and symlinks from the
// VDir and the store, but the directories of a projected tree exist on disk (a phantom ingest
// leaves them in place; docs/shim.md, "Directories"). Before CMD starts, every directory of the
// manifest must exist under the root; what is missing is created, remembered, and removed again
// afterwards if nobody changed it (only while empty, bottom-up). Symlinks are never created:
// the shim resolves them, and creating and removing them around every run would cost time.
//
// Everything is done relative to a descriptor of the root, in manifest order (a parent comes
// before its children), and every existing component is checked with lstat before anything is
// created below it, so nothing is created through a symlink that is not part of the manifest.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "vrift/manifest/manifest.h"
#include "vrift/util/fd.h"
#include "vrift/util/result.h"

namespace vrift::run {

class Skeleton {
public:
  Skeleton() = default;
  Skeleton(Skeleton&&) noexcept = default;
  Skeleton& operator=(Skeleton&&) noexcept;
  Skeleton(const Skeleton&) = delete;
  Skeleton& operator=(const Skeleton&) = delete;
  /// Removes what is still there (remove()).
  ~Skeleton();

  /// Makes every directory of MANIFEST exist under ROOT (a canonical directory), with the
  /// manifest's mode. Errors: a path in the way with the wrong type
  /// ("'a/b' is a file, the manifest has a directory"), or a failing mkdir/symlink; whatever was
  /// created before the error is removed again.
  static Result<Skeleton> ensure(const std::string& root, const Manifest& manifest);

  size_t created_dirs() const { return m_dirs; }

  /// Removes what ensure() created, children first, if still unchanged: an empty directory with
  /// the same inode. Best effort; returns how many were removed. Later calls do nothing.
  size_t remove();

private:
  struct Item {       ///< a directory ensure() created
    std::string path; ///< relative to the root
    uint32_t mode = 0;
    dev_t dev = 0;
    ino_t ino = 0;
  };
  bool still_ours(const Item& it) const;

  UniqueFd m_root;
  std::string m_root_path;
  std::vector<Item> m_items; ///< in creation order
  size_t m_dirs = 0;
};

} // namespace vrift::run

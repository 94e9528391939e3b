// Garbage collection of the store: orphans are blobs no registered manifest references.
// Protocol (docs/gc.md): every writer holds the store lock shared from its first blob to its
// registration; gc --delete holds it exclusively while it re-reads the registry and deletes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vrift/config/paths.h"
#include "vrift/util/result.h"

namespace vrift {

struct GcOptions {
  bool do_delete = false;
  std::optional<int64_t> older_than_s; ///< only orphans whose blob changed longer ago
  bool prune_stale = false;
  int lock_timeout_ms = 30000;
};

struct GcReport {
  std::string store;
  uint64_t manifests = 0, stale = 0, unloadable = 0;
  uint64_t blobs = 0, blob_bytes = 0;
  uint64_t referenced = 0;
  uint64_t orphans = 0, orphan_bytes = 0;    ///< all orphans
  uint64_t eligible = 0, eligible_bytes = 0; ///< orphans passing --older-than
  uint64_t deleted = 0, freed_bytes = 0;     ///< bytes actually released (nlink was 1)
  uint64_t deleted_linked = 0;               ///< deleted names whose inode a project file keeps
  uint64_t dirs_removed = 0;
  std::vector<std::string> pruned; ///< "root (manifest gone)" lines
  std::vector<std::string> unloadable_names;
  bool store_missing = false;
};

/// Runs gc on the store PATHS names. Refuses to delete when a registered manifest cannot be read
/// (its references are unknown) unless that registration is pruned as stale.
Result<GcReport> run_gc(const Paths& paths, const GcOptions& opts);

} // namespace vrift

// The registry: every manifest vrift has written for a store, so that status and gc can find
// every live manifest. SQLite (WAL, busy timeout) under ~/.vrift/registry.db; one row per
// (store, manifest path). Each registration also leaves a copy of the manifest and a sidecar
// under <store>/manifests/ from which `vrift registry --rebuild` recovers the list.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vrift/util/result.h"

struct sqlite3;

namespace vrift {

struct ProjectRecord {
  int64_t seq = 0;           ///< registration order (first registration)
  std::string store;         ///< store root the manifest's blobs live in
  std::string root;          ///< directory that was ingested
  std::string manifest_path; ///< the user's manifest file
  std::string copy_path;     ///< vrift's own copy under <store>/manifests/
  std::string manifest_id;   ///< hex
  std::string mode;          ///< "solid" | "phantom"
  std::string tier;          ///< "tier1" | "tier2"
  std::string prefix;
  uint64_t files = 0;
  uint64_t bytes = 0;
  int64_t registered_ns = 0;
  int64_t updated_ns = 0;
};

class Registry {
public:
  Registry() = default;
  Registry(Registry&&) noexcept;
  Registry& operator=(Registry&&) noexcept;
  ~Registry();

  /// Opens (creating if needed) the database at PATH. Errors: a file that is not a registry
  /// ("registry '...' is corrupt: ..."), an unwritable directory.
  static Result<Registry> open(const std::string& path);

  /// Inserts or updates the row for (store, manifest_path); keeps seq and registered_ns of an
  /// existing row. Fills REC.seq.
  Status upsert(ProjectRecord& rec);
  /// Rows of STORE in registration order.
  Result<std::vector<ProjectRecord>> list(const std::string& store) const;
  Status remove(int64_t seq);
  Status remove_store(const std::string& store);
  /// "ok" or SQLite's description of what is wrong.
  Result<std::string> integrity_check() const;

private:
  explicit Registry(sqlite3* db) : m_db(db) {}
  Status exec(const char* sql) const;
  bool has_schema() const;
  sqlite3* m_db = nullptr;
};

/// Where vrift keeps its copy of the manifest at MANIFEST_PATH (".json" beside it: the sidecar).
std::string manifest_copy_path(const std::string& copies_dir, const std::string& manifest_path);

/// Registers a manifest whose bytes are BYTES: keeps vrift's copy and sidecar under
/// COPIES_DIR (named after the manifest path) and upserts REC (copy_path filled in).
Status register_manifest(Registry& reg, const std::string& copies_dir, ProjectRecord& rec,
                         std::string_view bytes);

/// The sidecar JSON kept next to a manifest copy (what a rebuild needs besides the manifest).
std::string project_sidecar_json(const ProjectRecord& rec);
Result<ProjectRecord> parse_project_sidecar(const std::string& json);

} // namespace vrift

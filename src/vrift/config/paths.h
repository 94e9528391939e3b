// The path authority: the one place that computes every path vrift uses (store root, registry,
// config, manifest copies, ingest caches, and later sockets, VDir files and staging).
// Precedence for the store root: CLI flag > VR_THE_SOURCE > config file > ~/.vrift/the_source.
#pragma once

#include <optional>
#include <string>

#include "vrift/util/result.h"

namespace vrift {

/// Where each value came from, for `doctor` and `-v` output.
enum class Origin { Flag, Env, Config, Default };
const char* origin_name(Origin o);

struct Paths {
  std::string home;        ///< ~/.vrift (or $VRIFT_HOME): registry, config, caches.
  std::string config_file; ///< home/config.toml
  std::string store_root;  ///< TheSource, absolute, no trailing slash.
  Origin store_origin = Origin::Default;

  std::string registry_db() const { return home + "/registry.db"; }
  std::string ingest_cache_dir() const { return home + "/cache"; }
  /// Copies of registered manifests live with the store whose blobs they reference.
  std::string manifest_copies_dir() const { return store_root + "/manifests"; }
};

struct PathOverrides {
  std::optional<std::string> the_source_root; ///< --the-source-root
};

/// Resolves every path from the overrides, the environment and the config file.
/// Errors: no HOME, an unreadable or malformed config file.
Result<Paths> resolve_paths(const PathOverrides& overrides);

/// Expands a leading "~/" with HOME and makes a relative path absolute against the cwd.
std::string expand_path(const std::string& p);

} // namespace vrift

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

  std::string runtime_dir; ///< per-user daemon files: $VRIFT_RUNTIME_DIR, else
                           ///< $XDG_RUNTIME_DIR/vrift, else /tmp/vrift-<uid> (mode 0700)
  std::string vdir_dir;    ///< VDir shared-memory files: $VRIFT_VDIR_DIR, else
                           ///< /dev/shm/vrift-<uid> (tmpfs), else runtime_dir/vdir

  std::string registry_db() const { return home + "/registry.db"; }
  /// The daemon's Unix socket: a file on disk (sandboxes in a new network namespace can reach
  /// it; an abstract socket they cannot).
  std::string daemon_socket() const { return runtime_dir + "/vriftd.sock"; }
  std::string daemon_lock() const { return runtime_dir + "/vriftd.lock"; }
  std::string daemon_journal_dir() const { return home + "/journal"; }
  /// Writes staged by the shim live beside the project (same filesystem: commit is a link).
  static std::string staging_dir(const std::string& project_root) {
    return project_root + "/.vrift/staging";
  }
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

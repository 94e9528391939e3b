// Project detection: which ecosystems a directory belongs to (by their marker files), and where
// the project root is when a command runs somewhere inside it.
//
// find_root walks up from the start directory and stops below a ceiling: the user's home
// directory when the start is inside it (a stray package.json in ~ is common, and ingesting
// a whole home directory is never what a zero-config `vrift run` meant), else `/`. Neither the
// home directory nor `/` is ever a root. The nearest directory with a marker wins, except that
// an explicit project config (vrift.toml) further up wins over ecosystem markers below it: a
// monorepo initialised at its top keeps that root when a command runs in one of its packages.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vrift/util/result.h"

namespace vrift::project {

enum class Kind : uint8_t { Npm, Cargo, Pip, Go };

/// "npm", "cargo", "pip", "go".
const char* kind_name(Kind k);
/// The kind named NAME (as kind_name spells it), or nullopt.
std::optional<Kind> kind_from_name(std::string_view name);

/// The project config file and the default manifest, both at the project root.
inline constexpr const char* kConfigFile = "vrift.toml";
inline constexpr const char* kManifestFile = "vrift.manifest";

struct Marker {
  Kind kind;
  const char* file; ///< e.g. "package.json"
};

/// Every ecosystem marker, in detection order: package.json (npm), Cargo.toml (cargo),
/// pyproject.toml, requirements.txt, setup.py (pip), go.mod (go).
const std::vector<Marker>& all_markers();

struct Detection {
  std::vector<Kind> kinds;     ///< each kind once, in marker order; empty: a generic project
  std::vector<Marker> markers; ///< the marker files present (regular files, or links to one)

  bool has(Kind k) const;
  /// The marker files of kind K, comma-separated ("pyproject.toml, requirements.txt").
  std::string markers_of(Kind k) const;
};

/// Which kinds DIR is. Errors: DIR missing, not a directory, or not readable.
Result<Detection> detect(const std::string& dir);

struct Root {
  std::string dir;    ///< canonical project root
  std::string marker; ///< the file that made it one, e.g. "package.json" or "vrift.toml"
};

/// The project root for START_DIR (see the top of this file): nullopt when no directory up to
/// the ceiling has a marker (ecosystem markers, vrift.toml or vrift.manifest). HOME is read from
/// the environment. Errors: START_DIR cannot be resolved or is not a directory.
Result<std::optional<Root>> find_root(const std::string& start_dir);

} // namespace vrift::project

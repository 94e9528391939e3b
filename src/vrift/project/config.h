// The project config: <root>/vrift.toml (every key in docs/project-config.md). A key the file
// leaves out takes its default, and the defaults follow the project's kinds (`[project] kinds`,
// else what detection finds): cargo ignores target/, npm ingests node_modules/ as tier1, pip
// ignores __pycache__/ and makes an existing .venv/ or venv/ tier1.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "vrift/ingest/ingest.h"
#include "vrift/project/detect.h"
#include "vrift/util/result.h"

namespace vrift::project {

struct ProjectConfig {
  std::vector<Kind> kinds;         ///< [project] kinds
  std::vector<std::string> ignore; ///< [ingest] ignore: patterns left out of the manifest
  std::vector<std::string> tier1;  ///< [ingest] tier1: patterns ingested as tier1
  IngestMode mode = IngestMode::Solid;
  bool security_filter = true;
  std::string manifest = kManifestFile; ///< as written: relative to the root, or absolute
  std::string file;                     ///< the vrift.toml this came from; empty: defaults, no file
};

/// The defaults for a project of KINDS at ROOT (ROOT is looked at for .venv/ and venv/).
ProjectConfig default_config(const std::vector<Kind>& kinds, const std::string& root);

/// Parses TEXT, the contents of FILE (named in errors), for the project at ROOT. Absent keys
/// take default_config(kinds) where kinds is `[project] kinds` if given, else DETECTED. Errors
/// are one line naming FILE and the key: a TOML syntax error (with its line), an unknown table
/// or key, a wrong type, an unknown kind or mode, an invalid pattern, an empty manifest path.
Result<ProjectConfig> parse_config(std::string_view text, const std::string& file,
                                   const std::string& root, const std::vector<Kind>& detected);

/// The config of the project at ROOT: its vrift.toml if there is one (errors: unreadable or
/// invalid, see parse_config), else the defaults for what DETECTED found.
Result<ProjectConfig> load_config(const std::string& root, const Detection& detected);

/// The vrift.toml text for CONFIG, with a comment per key (what `vrift init` writes). DETECTED
/// names the marker files in a comment. parse_config of the result gives CONFIG back.
std::string render_config(const ProjectConfig& config, const Detection& detected);

/// The manifest path CONFIG names, made absolute against ROOT.
std::string manifest_path(const ProjectConfig& config, const std::string& root);

} // namespace vrift::project

// What zero-config `vrift run -- CMD` does before it runs CMD: ingest the project it was started
// in with the project's config (vrift.toml, else the defaults for what detection finds), through
// the re-ingest cache, so that a repeated run on an unchanged project costs milliseconds.
//
//   auto root = vrift::project::find_root(cwd);          // nullopt: not inside a project
//   auto prep = vrift::project::prepare_transient(paths, root->dir);
//   // run CMD over prep->manifest_path
#pragma once

#include <string>

#include "vrift/config/paths.h"
#include "vrift/ingest/ingest.h"
#include "vrift/project/config.h"
#include "vrift/project/detect.h"
#include "vrift/util/result.h"

namespace vrift::project {

struct Prepared {
  std::string root;          ///< canonical project root
  std::string manifest_path; ///< absolute path of the manifest written
  Detection detection;
  ProjectConfig config; ///< what the ingest used (config.file empty: no vrift.toml, defaults)
  IngestTier tier = IngestTier::Tier2; ///< tier2, or an adopted vrift.manifest's
  IngestReport report;
  /// Passed on to the ingest (IngestOptions::cache_in_background).
  bool cache_in_background = false;
};

/// The ingest of the project at ROOT under CONFIG into MANIFEST (registered, so gc keeps its
/// blobs): solid or phantom per CONFIG, tier2 except the tier1 patterns.
IngestOptions ingest_options(const ProjectConfig& config, const std::string& root,
                             const std::string& manifest);

/// Where prepare_transient(PATHS, ROOT) would write its manifest, without ingesting: the
/// canonical root, detection, config and manifest path of a Prepared (no report).
Result<Prepared> transient_target(const Paths& paths, const std::string& root);

/// Ingests the project at ROOT for a zero-config `vrift run` and returns the manifest to run
/// over. The manifest goes to the vrift.toml's `manifest`; without a vrift.toml, to
/// <root>/vrift.manifest when that is an earlier ingest of this root (its registered mode and
/// tier are kept), else to <root>/.vrift/run.manifest (and when the project is not writable, to
/// ~/.vrift/run/<id>.manifest). Prints nothing on stdout; a summary on stderr with -v.
/// PROGRESS may be null. Errors: ROOT unreadable, an invalid vrift.toml, any ingest error.
Result<Prepared> prepare_transient(const Paths& paths, const std::string& root,
                                   IngestProgress* progress = nullptr);
/// The same with the target already chosen (TARGET from transient_target).
Result<Prepared> prepare_transient(const Paths& paths, Prepared target,
                                   IngestProgress* progress = nullptr);

} // namespace vrift::project

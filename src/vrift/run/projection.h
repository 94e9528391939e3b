// From a --manifest (and its --at) to a projection: the loaded manifest, its canonical path and
// the canonical directory it is projected at.
#pragma once

#include <string>

#include "vrift/config/paths.h"
#include "vrift/manifest/manifest.h"
#include "vrift/run/plan.h"
#include "vrift/util/result.h"

namespace vrift::run {

struct PlannedProjection {
  Manifest manifest;         ///< opened lazily: load_entries() before looking past the first entry
  std::string manifest_path; ///< canonical
  std::string root;          ///< canonical projection root (an existing directory)
  std::string prefix;        ///< the --prefix it was ingested with ("" if none or unknown)
};

/// The --prefix the manifest at MANIFEST_PATH was ingested with, from the registry of PATHS'
/// store ("" when it is not registered or no registry exists; the registry is not created).
/// Errors: an unreadable registry.
Result<std::string> registered_prefix(const Paths& paths, const std::string& manifest_path);

/// Loads and validates REQ's manifest and decides its root: REQ.at if given, else
/// default_root(origin, registered prefix); canonicalised once. Errors (one line each): a
/// missing or corrupt manifest, a manifest without origin, a root that does not exist or is
/// not a directory.
Result<PlannedProjection> plan_projection(const Paths& paths, const ProjectionRequest& req);

/// Checks the entries of every manifest of PS (Manifest::load_entries), for the steps that read
/// them: a command found inside a projection, a skeleton to check. Errors name the manifest.
Status load_entries(std::vector<PlannedProjection>& ps);

} // namespace vrift::run

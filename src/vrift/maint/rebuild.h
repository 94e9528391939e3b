// Recovering the registry from the manifest copies the store keeps (<store>/manifests/).
#pragma once

#include <string>
#include <vector>

#include "vrift/config/paths.h"
#include "vrift/util/result.h"

namespace vrift {

struct RebuildReport {
  std::string moved_aside;            ///< where a corrupt registry was moved ("" if none)
  std::vector<std::string> recovered; ///< project roots, in registration order
  std::vector<std::string> skipped;   ///< "file: reason"
};

/// Rebuilds this store's registrations from its manifest copies. A registry that cannot be opened
/// is moved aside (registry.db.corrupt-<time>) and a new one created; rows of other stores in a
/// readable registry are kept.
Result<RebuildReport> rebuild_registry(const Paths& paths);

} // namespace vrift

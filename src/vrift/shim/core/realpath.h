// realpath(3) that sees projections: resolves every component, asking the VDir for those inside
// a projection and the kernel (raw lstat/readlink) for the others, so that a symlink from
// outside into a projection, or a projected symlink, resolves as it would on the real tree.
#pragma once

#include "vrift/shim/core/lookup.h"

namespace vrift::shim {

/// Canonical absolute path of PATH (relative to the cwd) into OUT. Returns 0 or an errno.
int resolve_realpath(const char* path, PathBuf* out, Scratch* s);

} // namespace vrift::shim

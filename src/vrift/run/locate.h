// Where the shim library is: $VRIFT_SHIM (tests), beside the vrift binary (the build tree), or
// in ../lib/vrift/ relative to it (an installed prefix).
#pragma once

#include <string>
#include <vector>

#include "vrift/util/result.h"

namespace vrift::run {

inline constexpr const char* kShimName = "libvrift_shim.so";

/// The running binary (/proc/self/exe), or "vrift" when it cannot be read.
std::string self_exe();

/// Where to look for the shim, in order: ENV_OVERRIDE (the value of $VRIFT_SHIM, may be null or
/// empty), dirname(SELF_EXE)/libvrift_shim.so, dirname(SELF_EXE)/../lib/vrift/libvrift_shim.so.
std::vector<std::string> shim_candidates(const char* env_override, const std::string& self_exe);

/// The first candidate that is a readable regular file, canonical. $VRIFT_SHIM, when set, is
/// the only candidate and must be absolute. Errors: ENOENT naming what was tried; EINVAL for a
/// relative $VRIFT_SHIM or a path with ':' or ' ' (LD_PRELOAD separators).
Result<std::string> find_shim(const char* env_override, const std::string& self_exe);

} // namespace vrift::run

// What `vrift run` computes before it starts anything, as plain data (bubblewrap's "plan, then
// execute"): which manifest goes where, and the environment CMD gets. Pure functions: no file
// system, no process state, so the unit tests cover them exhaustively.
//
// The environment contract with the shim (docs/run.md):
//   LD_PRELOAD         the shim, in front of any inherited entries (not repeated)
//   VRIFT_PROJECTIONS  one record per session, '\n' between records, '\t' between fields:
//                      <root>\t<vdir_path>\t<manifest_path>\t<session id, decimal>
//   VRIFT_STORE        the canonical store root
//   UV_USE_IO_URING    0 (libuv must not bypass libc, LESSONS 16)
//   VRIFT_LOG          1 with `vrift -v run`; otherwise inherited as it is
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vrift/hash/blake3.h"
#include "vrift/util/result.h"

namespace vrift::run {

/// The shim reads at most this many projections.
inline constexpr size_t kMaxProjections = 8;

/// One --manifest and where to project it (`at` empty: where it was ingested from).
struct ProjectionRequest {
  std::string manifest;
  std::string at;
};

/// Pairs MANIFESTS with the --at values in order. ATS must be empty or as many as MANIFESTS;
/// otherwise an error (a usage error for the caller).
Result<std::vector<ProjectionRequest>> pair_at(const std::vector<std::string>& manifests,
                                               const std::vector<std::string>& ats);

/// Where a manifest is projected by default: its ORIGIN (the directory it was ingested from),
/// or, when it was ingested with --prefix PREFIX and ORIGIN ends in "/PREFIX", ORIGIN without
/// "/PREFIX" (its entries are "PREFIX/..."). Errors: no origin, a relative origin.
Result<std::string> default_root(std::string_view origin, std::string_view prefix);

/// One projection as the shim sees it.
struct Projection {
  std::string root;          ///< canonical, absolute, no trailing '/'
  std::string vdir_path;     ///< from SESSION_REPLY ("" until the session is open)
  std::string manifest_path; ///< canonical, absolute
  uint64_t session = 0;
  bool skeleton_clean = false; ///< SESSION_REPLY: the daemon vouches for the skeleton
  /// Zero-config, after a walk: ask the daemon to watch the files too, the walk having begun at
  /// this time (CLOCK_REALTIME ns; SESSION_OPEN's kOpenWatchTree). 0: do not ask.
  int64_t watch_tree_since_ns = 0;
  /// The id of the manifest that walk produced (written, or found on disk identical): the
  /// daemon takes the walk's time only for a tree that is this manifest (SESSION_OPEN's
  /// walked_id).
  std::optional<Hash> walked_manifest_id{};
};

/// Checks what can be checked before any session exists: at most kMaxProjections, no '\t' or
/// '\n' in a root or manifest path, absolute paths, no two projections with the same root.
Status check_projections(const std::vector<Projection>& ps);

/// The VRIFT_PROJECTIONS value (check_projections, plus the VDir paths and session ids).
Result<std::string> format_projections(const std::vector<Projection>& ps);

/// LD_PRELOAD with SHIM in front of EXISTING (entries are separated by ':' or ' ', as the
/// loader reads them); EXISTING unchanged when it already names SHIM.
std::string prepend_preload(std::string_view existing, std::string_view shim);

struct EnvInputs {
  std::string shim;        ///< absolute path of libvrift_shim.so
  std::string projections; ///< format_projections()
  std::string store;       ///< canonical store root
  bool log = false;        ///< set VRIFT_LOG=1
};

/// CMD's environment: INHERITED ("NAME=value" strings, as environ) with the contract's
/// variables set or replaced; everything else unchanged and in its order.
std::vector<std::string> child_environment(const std::vector<std::string>& inherited,
                                           const EnvInputs& in);

} // namespace vrift::run

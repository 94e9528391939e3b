// The shim's process-wide state: the projections vrift run handed over in the environment, each
// with its read-only VDir mapping. Plain aggregates in static storage (no constructor runs), set
// up once by init() before the program's main and only read afterwards.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vrift/vdir/vdir_reader.h"

namespace vrift::shim {

inline constexpr int kMaxProjections = 8;
inline constexpr uint32_t kPathMax = 4096;

/// One projected manifest: the directory it appears at and its VDir.
struct Projection {
  char root[kPathMax]; ///< canonical absolute path, no trailing '/'
  uint32_t root_len;
  uint64_t session;
  char vdir_path[kPathMax];
  vdir::VdirMapping map;
  vdir::VdirReader reader;
  vdir::VdirMapping stale; ///< the session's stale map, read-write (none: nothing is marked)
  uint64_t dev;            ///< st_dev of the root directory (what projected entries report)
  uint64_t parent_ino;     ///< st_ino of the root's parent (the root's ".." in listings)
  // The listing (docs/shim.md, "Directories"): mapped on the first opendir, published once.
  const unsigned char* listing; ///< accessed atomically
  size_t listing_len;
};

struct State {
  int nproj; ///< projections attached, sorted by root_len, longest first
  Projection proj[kMaxProjections];
  char store[kPathMax]; ///< the store root (blobs are opened under it)
  uint32_t store_len;
  bool log;  ///< VRIFT_LOG: report fallbacks on stderr
  int ready; ///< accessed atomically: 1 once init() finished
  int pid;   ///< the pid init() or the last fork saw (detects vfork children)
  uint32_t uid, gid, euid, egid;
};

extern State g_state;

inline bool active() { return __atomic_load_n(&g_state.ready, __ATOMIC_ACQUIRE) && g_state.nproj; }

/// Parses the VRIFT_PROJECTIONS value (records "root\tvdir\tmanifest\tsession" separated by
/// '\n') into ST's projections without attaching them. Records that break the format are
/// skipped; returns how many were taken.
int parse_projections(const char* text, State* st);

/// The path of the file beside projection P's VDir with extension EXT (".listing", ".stale"
/// for its ".vdir") into OUT (kPathMax bytes); false if it does not fit.
bool vdir_sibling(const Projection& p, const char* ext, char* out);

/// Maps and attaches every parsed projection's VDir and stats its root; drops the ones that
/// fail (logging why when ST->log), then sorts the rest longest root first.
void attach_projections(State* st);

/// Reads the environment (envp as given to ELF constructors) and sets up g_state. Cold.
void init_from_env(char** envp);

/// Writes "vrift-shim: <a><b><c>\n" on stderr when logging is on (raw write, no allocation).
void log3(const char* a, const char* b = "", const char* c = "");

} // namespace vrift::shim

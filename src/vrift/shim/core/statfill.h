// Turning a VDir entry into what stat(2) and statx(2) report. Inode numbers are the VDir's
// synthetic ones offset into a range no ext4/xfs/btrfs inode of a normal tree reaches
// (kInoBase), so they never collide with a real inode on the projection's device; the device is
// the projection root's, so `find -xdev`, `du` and `df` treat the projection like its directory.
#pragma once

#include <sys/stat.h>

#include <cstdint>

#include "vrift/shim/core/state.h"
#include "vrift/vdir/vdir_layout.h"

struct statx;

namespace vrift::shim {

inline constexpr uint64_t kInoBase = uint64_t{1} << 40;

inline uint64_t projected_ino(const vdir::VdirStat& st) { return kInoBase + st.ino; }

void fill_stat(const Projection& p, const vdir::VdirStat& v, struct stat* out);
/// Fills the basic fields (STATX_BASIC_STATS; no birth time) whatever MASK asks, as the kernel
/// may; MASK only matters for what the caller reads.
void fill_statx(const Projection& p, const vdir::VdirStat& v, struct statx* out);

/// access(2) semantics for MODE (F_OK or R_OK|W_OK|X_OK) against V; EFFECTIVE: use the
/// effective ids (AT_EACCESS). Returns 0 or an errno.
int check_access(const vdir::VdirStat& v, int mode, bool effective);

} // namespace vrift::shim

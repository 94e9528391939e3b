#include "vrift/shim/core/statfill.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "vrift/util/raw_syscall.h"

namespace vrift::shim {
namespace {

// A directory's size is what the filesystem said when it was ingested (manifests record it);
// one made through the daemon, or listed in a manifest written before they did, says 4096.
uint64_t size_of(const vdir::VdirStat& v) {
  return (v.mode & vdir::kModeTypeMask) == vdir::kModeDir && v.size == 0 ? 4096 : v.size;
}

uint64_t blocks_of(const vdir::VdirStat& v) {
  if ((v.mode & vdir::kModeTypeMask) == vdir::kModeLink) return 0;
  return (size_of(v) + 4095) / 4096 * 8;
}

// Nanoseconds since the epoch as (seconds, nanoseconds in [0, 1e9)), the kernel's form for
// times before 1970 too. Unsigned division by a constant is a multiply and a shift; the signed
// one, taken only for negative times, needs the floor correction.
struct SecNsec {
  int64_t sec;
  int64_t nsec;
};
inline SecNsec split_ns(int64_t ns) {
  constexpr int64_t kBillion = 1000000000;
  if (ns >= 0) {
    const uint64_t u = static_cast<uint64_t>(ns);
    const uint64_t sec = u / kBillion;
    return SecNsec{static_cast<int64_t>(sec), static_cast<int64_t>(u - sec * kBillion)};
  }
  int64_t sec = ns / kBillion;
  int64_t nsec = ns % kBillion;
  if (nsec < 0) {
    nsec += kBillion;
    --sec;
  }
  return SecNsec{sec, nsec};
}

} // namespace

void fill_stat(const Projection& p, const vdir::VdirStat& v, struct stat* out) {
#if defined(__x86_64__)
  // Every member written once, the padding ones by name, instead of a memset and then again.
  out->__pad0 = 0;
  out->st_rdev = 0;
  for (auto& r : out->__glibc_reserved)
    r = 0;
#else
  std::memset(out, 0, sizeof *out);
#endif
  out->st_dev = p.dev;
  out->st_ino = projected_ino(v);
  out->st_mode = v.mode;
  out->st_nlink = v.nlink;
  out->st_uid = v.uid;
  out->st_gid = v.gid;
  out->st_size = static_cast<off_t>(size_of(v));
  out->st_blksize = 4096;
  out->st_blocks = static_cast<blkcnt_t>(blocks_of(v));
  const SecNsec a = split_ns(v.atime_ns), m = split_ns(v.mtime_ns), c = split_ns(v.ctime_ns);
  out->st_atim.tv_sec = a.sec;
  out->st_atim.tv_nsec = a.nsec;
  out->st_mtim.tv_sec = m.sec;
  out->st_mtim.tv_nsec = m.nsec;
  out->st_ctim.tv_sec = c.sec;
  out->st_ctim.tv_nsec = c.nsec;
}

void fill_statx(const Projection& p, const vdir::VdirStat& v, struct statx* out) {
  std::memset(out, 0, sizeof *out);
  out->stx_mask = STATX_BASIC_STATS;
  out->stx_blksize = 4096;
  out->stx_nlink = v.nlink;
  out->stx_uid = v.uid;
  out->stx_gid = v.gid;
  out->stx_mode = static_cast<uint16_t>(v.mode);
  out->stx_ino = projected_ino(v);
  out->stx_size = size_of(v);
  out->stx_blocks = blocks_of(v);
  const SecNsec a = split_ns(v.atime_ns), m = split_ns(v.mtime_ns), c = split_ns(v.ctime_ns);
  out->stx_atime.tv_sec = a.sec;
  out->stx_atime.tv_nsec = static_cast<uint32_t>(a.nsec);
  out->stx_mtime.tv_sec = m.sec;
  out->stx_mtime.tv_nsec = static_cast<uint32_t>(m.nsec);
  out->stx_ctime.tv_sec = c.sec;
  out->stx_ctime.tv_nsec = static_cast<uint32_t>(c.nsec);
  out->stx_dev_major = major(p.dev);
  out->stx_dev_minor = minor(p.dev);
}

namespace {

// Whether GID is one of the process's supplementary groups, as the kernel's permission check
// counts them (raw getgroups into 4 KiB of stack; more than 1,024 groups count as none).
bool in_supplementary_groups(uint32_t gid) {
  gid_t groups[1024];
  const long n = sys::call6(SYS_getgroups, 1024, sys::arg(groups));
  if (sys::failed(n)) return false;
  for (long i = 0; i < n; ++i)
    if (groups[i] == gid) return true;
  return false;
}

} // namespace

int check_access(const vdir::VdirStat& v, int mode, bool effective) {
  if ((mode & ~(R_OK | W_OK | X_OK)) != 0) return EINVAL;
  if (mode == F_OK) return 0;
  const uint32_t uid = effective ? g_state.euid : g_state.uid;
  const uint32_t gid = effective ? g_state.egid : g_state.gid;
  const bool dir = (v.mode & vdir::kModeTypeMask) == vdir::kModeDir;
  if (uid == 0) {
    // root: read and write always; execute if some x bit is set (or a directory).
    if ((mode & X_OK) && !dir && !(v.mode & 0111)) return EACCES;
    return 0;
  }
  const uint32_t want =
      static_cast<uint32_t>((mode & R_OK ? 4 : 0) | (mode & W_OK ? 2 : 0) | (mode & X_OK ? 1 : 0));
  uint32_t bits;
  if (uid == v.uid) {
    bits = (v.mode >> 6) & 7;
  } else if (gid == v.gid) {
    bits = (v.mode >> 3) & 7;
  } else {
    // The owner's group may still be one of ours: asked only when the answer depends on it.
    bits = v.mode & 7;
    const uint32_t group_bits = (v.mode >> 3) & 7;
    if ((group_bits & want) != (bits & want) && in_supplementary_groups(v.gid)) bits = group_bits;
  }
  return (bits & want) == want ? 0 : EACCES;
}

} // namespace vrift::shim

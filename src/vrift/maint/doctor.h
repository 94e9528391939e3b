// `vrift doctor`: a read-only health check of one store and the registry entries that name it.
// Each check yields one line (ok, warning or error), optional detail lines and the
// recommendations that would fix what it found; the CLI renders them as text or JSON.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "vrift/config/paths.h"

namespace vrift {

enum class CheckStatus : uint8_t { Ok, Warning, Error };
const char* check_status_name(CheckStatus s); ///< "ok", "warning", "error"

struct DoctorCheck {
  std::string name; ///< "Registry", "Disk space", ...
  CheckStatus status = CheckStatus::Ok;
  std::string message;                      ///< "valid (3 manifests)"
  std::vector<std::string> details;         ///< one line per affected blob, project or file
  std::vector<std::string> recommendations; ///< what to run or do, most useful first
};

struct DoctorOptions {
  bool verify_all = false;  ///< --verify: re-hash every blob instead of a sample
  size_t sample_size = 256; ///< blobs re-hashed at random without --verify
  unsigned threads = 0;     ///< hashing threads (0: number of CPUs, at most 16)
};

struct DoctorReport {
  std::string store_root;
  std::vector<DoctorCheck> checks;
  size_t count(CheckStatus s) const;
};

/// Runs every check against the store and registry named by PATHS. Never fails: a problem
/// reading the store or the registry is itself reported as an error line. Writes nothing but
/// two short-lived probe files in <store>/tmp (reflink and xattr support); Store::open recreates
/// a missing tmp/, quarantine/ or manifests/ directory, and a registry that exists is opened
/// read-write (SQLite).
DoctorReport run_doctor(const Paths& paths, const DoctorOptions& opts);

/// Disk-space verdict for AVAIL of TOTAL bytes: error below 100 MB, warning below 1 GB or 5%.
CheckStatus disk_space_status(uint64_t avail, uint64_t total);

} // namespace vrift

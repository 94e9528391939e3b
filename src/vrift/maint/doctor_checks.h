// The checks of `vrift doctor` that need only the store (its files, filesystem and lock), each
// turning what it finds into one DoctorCheck. The registry- and manifest-level checks, and the
// order of the report, are in doctor.cpp.
#pragma once

#include <string>
#include <vector>

#include "vrift/maint/doctor.h"
#include "vrift/maint/doctor_scan.h"
#include "vrift/maint/projects.h"

namespace vrift::doctor {

/// S quoted for a POSIX shell when it holds anything but safe characters.
std::string sh_quote(const std::string& s);
/// "cmd 'p1' 'p2' ..." over the kept examples, noting how many more there are.
std::string command_over(const std::string& cmd, const Examples& e);

/// Owned blobs must be read-only; store directories ours with owner rwx.
DoctorCheck check_permissions(const BlobScan& scan);
/// Entries under blake3/ that are not blobs (stray temp files, misplaced or non-canonical names).
DoctorCheck check_layout(const BlobScan& scan);
/// Files in <root>/tmp older than an hour: crash leftovers.
DoctorCheck check_tmp(const std::string& root);
/// Blobs close to ext4's hard-link limit.
DoctorCheck check_links(const BlobScan& scan);
/// Store and every live project root on one filesystem; reflink and xattr support as info.
DoctorCheck check_filesystems(const std::string& root, const std::vector<LiveProject>& projects);
/// Free space on the store's filesystem (disk_space_status).
DoctorCheck check_disk(const std::string& root);
/// Whether <root>/lock is held (tested with a non-blocking exclusive flock; never created).
DoctorCheck check_lock(const std::string& root);

} // namespace vrift::doctor

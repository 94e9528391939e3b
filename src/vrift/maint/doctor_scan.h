// What `vrift doctor` learns from the store's files: one pass over blake3/ (layout, permissions,
// link counts, fingerprints), the contents of tmp/ and quarantine/, and re-hashing of blobs.
// Everything here only reads, except the reflink/xattr probe which removes its own files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vrift/maint/projects.h"
#include "vrift/store/store.h"

namespace vrift::doctor {

/// Blobs whose link count is above this are close to ext4's limit of 65,000 links per inode.
inline constexpr uint64_t kNearLinkLimit = 60000;
/// At most this many examples are kept per kind of problem (counts are always exact).
inline constexpr size_t kMaxExamples = 20;

/// A list of problem paths that keeps an exact count but only the first kMaxExamples entries.
struct Examples {
  uint64_t count = 0;
  std::vector<std::string> items;
  void add(std::string s) {
    if (count++ < kMaxExamples) items.push_back(std::move(s));
  }
};

struct BlobScan {
  std::vector<BlobKey> blobs;    ///< every regular file with a valid name in the right shard
  std::vector<BlobKey> suspects; ///< linked blobs whose mtime no longer equals the fingerprint
  std::vector<BlobKey> bad_size; ///< blobs whose size differs from the size in their name
  uint64_t bytes = 0;            ///< total size of BLOBS
  uint64_t linked = 0;           ///< blobs carrying the fingerprint xattr (shared with a user file)
  uint64_t max_links = 0;        ///< highest st_nlink seen
  Examples writable_owned;       ///< owned blobs (no fingerprint) with write permission
  Examples shared_unmarked;      ///< blobs with nlink > 1 but no fingerprint
  Examples near_link_limit;      ///< blobs with nlink > kNearLinkLimit
  Examples bad_dirs;             ///< shard directories that are not owner-rwx directories of ours
  Examples stray;                ///< anything under blake3/ that is not a blob or a shard
  std::string error;             ///< blake3/ itself could not be listed ("" when it could)
};

/// One pass over <root>/blake3: stats every entry and reads fingerprints.
BlobScan scan_blobs(const std::string& root);

struct TempScan {
  Examples old; ///< files older than an hour (crash leftovers)
  uint64_t old_bytes = 0;
  uint64_t recent = 0; ///< younger files (probably an ingest in progress)
};
TempScan scan_tmp(const std::string& root);

struct QuarantinedBlob {
  std::string name; ///< file name under quarantine/
  BlobKey key;      ///< parsed from "<hex>_<size>.bin.<time>" (valid when parsed)
  bool parsed = false;
};
std::vector<QuarantinedBlob> scan_quarantine(const std::string& root);

struct VerifyResult {
  std::vector<BlobKey> bad;            ///< bytes differ from the name
  std::vector<std::string> unreadable; ///< "hex_size: reason"
  std::vector<BlobKey> vanished;       ///< gone between listing and hashing
  uint64_t blobs = 0;                  ///< blobs re-hashed
  uint64_t bytes = 0;
  double seconds = 0;
};
/// Re-hashes KEYS on THREADS threads (at least one).
VerifyResult verify_blobs(const Store& store, const std::vector<BlobKey>& keys, unsigned threads);

struct FsProbe {
  bool reflink = false; ///< FICLONE works inside the store
  bool xattr = false;   ///< user xattrs work (needed to hard-link user files safely)
  bool probed = false;  ///< the probe files could be created
};
/// Creates two small files in <root>/tmp, tries FICLONE and a user xattr, removes them.
FsProbe probe_filesystem(const std::string& root);

} // namespace vrift::doctor

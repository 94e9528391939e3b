// The re-ingest cache: for every file of the last ingest of a tree, the stat identity it had
// after placement (dev, inode, size, mtime ns, ctime ns, mode) and its content hash. A file whose
// identity is unchanged is not read again. The cache is only trusted for the store it was made
// with (store id) and is rebuilt from scratch otherwise; losing it costs time, never correctness.
#pragma once

#include <sys/stat.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vrift/hash/blake3.h"
#include "vrift/util/result.h"

namespace vrift {

struct CacheRecord {
  uint64_t dev = 0, ino = 0, size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  uint32_t mode = 0;
  Hash hash;
  std::string path;

  bool matches(const struct stat& st) const;
  static CacheRecord from_stat(std::string path, const struct stat& st, const Hash& h);
};

/// What the last ingest left on disk as its manifest, so that the ingest of an unchanged tree
/// can tell without building the manifest again that the file already holds it: the digest of
/// the entries that manifest was built from (entries_digest, ingest.cpp), the header of the
/// bytes they built (its body checksum covers the rest), and the identity of the file holding
/// exactly those bytes. Any rewrite of the file (vrift writes by rename: a new inode) changes
/// the identity; a file that does not start with that header is never stamped.
struct ManifestStamp {
  static constexpr size_t kHeaderBytes = 128; ///< kManifestHeaderSize (checked in cache.cpp)
  bool valid = false;
  Hash tree; ///< entries_digest of the entries and origin the manifest was built from
  std::array<uint8_t, kHeaderBytes> header{}; ///< the first bytes of the manifest they built
  uint64_t dev = 0, ino = 0, size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;

  /// The stamp of the file at PATH now, if it is a regular file that starts with HEADER (read
  /// and identified through one descriptor); invalid otherwise.
  static ManifestStamp of(const std::string& path, const Hash& tree,
                          const std::array<uint8_t, kHeaderBytes>& header);
  /// Same file (identity), same tree, same header; both must be valid.
  bool same(const ManifestStamp& o) const;
};

class IngestCache {
public:
  /// Loads PATH; a missing, foreign (other store id) or damaged file gives an empty cache.
  static IngestCache load(const std::string& path, const std::string& store_id);
  /// Writes RECORDS and STAMP atomically (temp + rename; no fsync: it is only a cache).
  static Status save(const std::string& path, const std::string& store_id,
                     const std::vector<CacheRecord>& records, const ManifestStamp& stamp);

  /// The record for PATH, or nullptr.
  const CacheRecord* find(std::string_view path) const;
  /// Record I (0 <= I < size()), e.g. `find(p) - &at(0)`.
  const CacheRecord& at(size_t i) const { return m_records[i]; }
  size_t size() const { return m_records.size(); }
  const ManifestStamp& stamp() const { return m_stamp; }

private:
  std::vector<CacheRecord> m_records;
  // Open addressing over record indices + 1 (0 = empty), capacity a power of two >= 2 x size:
  // one allocation instead of a node per record (25,000 of them for dataset A).
  std::vector<uint32_t> m_slots;
  ManifestStamp m_stamp;
  uint64_t m_seed = 0; ///< random per load: crafted names cannot aim at one slot
  uint64_t key_of(std::string_view path) const;
};

} // namespace vrift

// The session journal: every change to a projected tree is appended here *before* it is
// acknowledged, so a daemon killed at any moment loses nothing it acknowledged. Records are
// after-images (the entry as it is now), each with a checksum; replay stops at the first torn
// or damaged record (a write cut short by the kill) and truncates the file there.
//
// File: "VRJRNL01" | base manifest id (32 bytes) | records...
// Record: u32 payload length | u8 op | payload | 8 bytes of BLAKE3(op | payload)
//
// A checkpoint writes the tree as the new manifest and then starts a new journal whose base is
// that manifest's id. A journal whose base id differs from the manifest on disk was already
// folded into it (crash between the two steps) and is discarded on open.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "vrift/daemon/tree.h"
#include "vrift/hash/blake3.h"
#include "vrift/util/fd.h"
#include "vrift/util/result.h"

namespace vrift {

enum class JournalOp : uint8_t {
  Put = 1,
  Unlink = 2,
  Mkdir = 3,
  Rmdir = 4,
  Rename = 5,
  Chmod = 6,
  Mtime = 7
};

struct JournalRecord {
  JournalOp op = JournalOp::Put;
  ManifestEntry entry; ///< Put: the whole entry; others: path (+ mode / mtime_ns)
  std::string to;      ///< Rename: destination
};

class Journal {
public:
  /// Opens (creating) the journal at PATH for a tree whose manifest has id BASE. Existing
  /// records for the same base are returned in REPLAY; a journal for another base is reset.
  static Result<Journal> open(const std::string& path, const Hash& base,
                              std::vector<JournalRecord>* replay);
  /// Appends one record (one write(2)); with SYNC also fdatasync.
  Status append(const JournalRecord& rec, bool sync);
  /// Starts over for a new base (after a checkpoint).
  Status reset(const Hash& base);
  uint64_t records() const { return m_records; }
  const std::string& path() const { return m_path; }

private:
  std::string m_path;
  UniqueFd m_fd;
  uint64_t m_records = 0;
};

/// Applies a replayed record to TREE; operations that no longer apply are skipped (false).
bool apply_record(Tree& tree, const JournalRecord& rec);

/// Encodes / decodes records (exposed for tests and gc, which reads journals for references).
std::string encode_record(const JournalRecord& rec);
/// Reads every intact record of the journal file at PATH (no base check).
Result<std::vector<JournalRecord>> read_journal(const std::string& path, Hash* base = nullptr);

} // namespace vrift

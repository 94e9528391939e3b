// `vrift ingest`: walk a tree, hash every file with BLAKE3, place new content in the store, write
// the manifest and register it. Parallel (a shared queue of directories, one walker-hasher per
// thread), with a re-ingest cache that skips files whose stat identity did not change.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "vrift/config/paths.h"
#include "vrift/hash/blake3.h"
#include "vrift/store/store.h"
#include "vrift/util/result.h"

namespace vrift {

enum class IngestMode { Solid, Phantom };
enum class IngestTier { Tier1, Tier2 };

struct IngestOptions {
  std::string dir; ///< tree to ingest
  std::string output = "vrift.manifest";
  IngestMode mode = IngestMode::Solid;
  IngestTier tier = IngestTier::Tier2;
  std::string prefix; ///< entries placed under this relative path
  unsigned jobs = 0;  ///< 0 = number of CPUs
  bool force_hash = false;
  bool security_filter = true;
  bool register_project = true;
  /// Left out of the manifest (docs/project-config.md, "Patterns"); a directory that matches is
  /// left out with everything below it. Invalid patterns make ingest fail before it starts.
  std::vector<std::string> ignore;
  /// Entries ingested as tier1 whatever TIER says; a directory that matches makes its whole
  /// subtree tier1 (e.g. "node_modules/"). Same syntax as IGNORE; ignore wins over tier1.
  std::vector<std::string> tier1_paths;
  /// Writes the re-ingest cache on a thread of its own after the manifest is registered, and
  /// returns meanwhile (IngestReport::cache_writer): `vrift run` opens its sessions while it is
  /// written (~7 ms for 25,000 files), and must drop the report's writer before an exec.
  bool cache_in_background = false;
};

/// Live counters, readable from another thread (progress bar).
struct IngestProgress {
  std::atomic<uint64_t> files{0};
  std::atomic<uint64_t> bytes{0};
};

struct Excluded {
  std::string path;
  std::string reason;
};

/// A native module that makes file-system system calls of its own (ingest/rawcall.h).
struct RawCaller {
  std::string path; ///< as in the manifest
  std::vector<std::string> calls;
};

/// An ELF program in a phantom tree. The kernel starts programs from files on disk, so a
/// phantom projection cannot start it; a static one would not see the projection either.
struct PhantomProgram {
  std::string path; ///< as in the manifest
  bool is_static = false;
};

struct IngestReport {
  std::string root;          ///< canonical directory ingested
  std::string manifest_path; ///< absolute
  Hash manifest_id;
  uint64_t files = 0, dirs = 0, symlinks = 0, bytes = 0;
  uint64_t new_blobs = 0, new_bytes = 0; ///< content the store did not have before
  uint64_t cached = 0;                   ///< files not read thanks to the re-ingest cache
  uint64_t placed_link = 0, placed_copy = 0, placed_reflink = 0;
  uint64_t removed = 0;     ///< phantom: project files removed after commit
  uint64_t carried = 0;     ///< phantom re-ingest: entries kept from before
  uint64_t tier1_files = 0; ///< files ingested as tier1 (all of them with --tier tier1)
  std::vector<Excluded> excluded;
  std::vector<std::string> mismatches; ///< --force-hash: content changed behind the cache
  /// Phantom: native modules read by this run whose own system calls bypass the shim.
  std::vector<RawCaller> raw_callers;
  /// Phantom: ELF programs (an execute bit, not named like a module) read by this run.
  std::vector<PhantomProgram> programs;
  double seconds = 0;
  /// With IngestOptions::cache_in_background: the thread writing the re-ingest cache, joined
  /// when the last copy of this pointer goes (an exec would cut the write short).
  std::shared_ptr<std::thread> cache_writer;
};

/// Runs an ingest. PROGRESS may be null. Errors leave no new manifest and no wrong blob.
Result<IngestReport> ingest(const Paths& paths, const IngestOptions& opts,
                            IngestProgress* progress);

/// Canonical relative prefix ("a/b"), or an error for absolute / ".." / empty components.
Result<std::string> normalize_prefix(const std::string& prefix);

} // namespace vrift

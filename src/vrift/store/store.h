// TheSource: the content-addressable store.
//
// Layout (docs/store-format.md):
//   <root>/blake3/<h0h1>/<h2h3>/<64 hex>_<size>.bin   blobs
//   <root>/tmp/          temp files (same filesystem, so placing a blob is a link or rename)
//   <root>/quarantine/   blobs found changed after insert, kept for inspection, never served
//   <root>/manifests/    copies of registered manifests (registry rebuild)
//   <root>/lock          flock: shared by writers (ingest), exclusive by gc --delete
//   <root>/STORE         format version and the store's random id
//
// A blob is either *owned* (nobody else holds its inode: mode 0444, nlink 1) or *linked* (it
// shares its inode with a user's file because hard-linking is the only way to ingest at
// cp -al speed on a filesystem without reflink). A linked blob carries an xattr fingerprint
// (user.vrift.fp = mtime_ns at insert); a blob whose size or mtime no longer matches is
// re-hashed before it is trusted and quarantined when its bytes changed.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "vrift/hash/blake3.h"
#include "vrift/util/fd.h"
#include "vrift/util/result.h"

namespace vrift {

/// How a blob came to be in the store.
enum class Placement : uint8_t {
  Existing, ///< the content was already there (dedup)
  Reflink,  ///< FICLONE: a private copy sharing extents
  Link,     ///< hard link to the user's file (linked blob, fingerprinted)
  Copy,     ///< a full copy (owned blob)
  Move,     ///< the user's file itself became the blob (phantom)
};
const char* placement_name(Placement p);

/// What a caller wants for the source file (see docs/store-format.md, "Tiers and modes").
enum class InsertPolicy : uint8_t {
  Shared,   ///< tier2: blob may share the user's inode (fingerprinted); user file untouched
  ReadOnly, ///< tier1: the shared inode becomes read-only (0444); user file may become a link
  Private,  ///< never share the inode with the user's file: reflink or copy
};

/// Freshness of a blob as seen by a cheap check (fstat + fingerprint xattr).
enum class BlobState : uint8_t { Ok, Missing, Suspect };

struct BlobInfo {
  Hash hash;
  uint64_t size = 0;
  std::string path; ///< absolute path of the blob file
};

class Store;

/// An flock on <root>/lock, released on destruction.
class StoreLock {
public:
  StoreLock() = default;
  explicit StoreLock(UniqueFd fd) : m_fd(std::move(fd)) {}
  bool held() const { return m_fd.valid(); }

private:
  UniqueFd m_fd;
};

class Store {
public:
  /// Opens the store at ROOT (absolute). With CREATE, makes the layout if missing.
  /// Errors: missing store without CREATE, not a directory, unreadable STORE file.
  static Result<std::unique_ptr<Store>> open(const std::string& root, bool create);
  ~Store() { (void)finish_shard_maker(); }
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& root() const { return m_root; }
  const std::string& id() const { return m_id; }
  std::string blob_path(const Hash& h, uint64_t size) const;
  /// "blake3/ab/cd/<hex>_<size>.bin"
  static std::string blob_relpath(const Hash& h, uint64_t size);
  /// Parses a blob file name "<hex>_<size>.bin".
  static bool parse_blob_name(std::string_view name, Hash& h, uint64_t& size);

  /// Whether a blob exists and passes the cheap freshness check.
  BlobState check(const Hash& h, uint64_t size) const;

  /// Inserts the content of FD (an open regular file at PATH whose bytes hash to H, SIZE bytes,
  /// with fstat ST taken before hashing) following POLICY. FD may be -1: the file is then linked
  /// by path and the blob's inode, size and mtime are checked against ST afterwards. Verifies after
  /// linking that the inode was not modified since it was hashed; on a change the blob name is
  /// withdrawn and the error says "changed while being read". "Already exists" is success
  /// (Existing). FINAL (optional) receives the file's stat after placement (ctime moves when
  /// linking).
  Result<Placement> insert_file(int fd, const std::string& path, const struct stat& st,
                                const Hash& h, uint64_t size, InsertPolicy policy,
                                struct stat* final_st = nullptr);

  /// Inserts bytes held in memory (owned blob). Used by tests and later the daemon.
  Result<Placement> insert_bytes(std::string_view data);

  /// Makes the blob for H an owned blob, taking SRC_PATH (a file with the same content on the
  /// same filesystem) into the store if needed. Afterwards the caller may unlink SRC_PATH
  /// (if it still exists) without losing the content. Used by phantom ingest.
  Status make_owned(const Hash& h, uint64_t size, const std::string& src_path);

  /// Re-hashes a blob. Ok(true) when its bytes match its name; Ok(false) when not.
  Result<bool> verify(const Hash& h, uint64_t size) const;

  /// Re-hashes a suspect blob: refreshes its fingerprint if the bytes still match (and held
  /// still while read), moves it into quarantine/ if not. Returns the state afterwards (Ok or
  /// Missing); EAGAIN when the name changed hands three times while being checked.
  Result<BlobState> revalidate(const Hash& h, uint64_t size);
  /// A new name in quarantine/ for BLOB: "<blob name>.<unix time>.<pid>[.<serial>]".
  std::string quarantine_path(const std::string& blob) const;

  /// Calls FN for every blob file (names that do not parse are skipped and counted).
  /// With WITH_STAT false the stat passed to FN is zeroed (names carry hash and size; skipping
  /// 100k fstatat calls keeps `vrift status` fast).
  Status for_each_blob(const std::function<void(const BlobInfo&, const struct stat&)>& fn,
                       uint64_t* bad_names = nullptr, bool with_stat = true) const;

  /// Shared lock for writers; exclusive for gc. Blocks.
  Result<StoreLock> lock(bool exclusive) const;
  /// Like lock() but gives up after TIMEOUT_MS with an error saying the store is busy.
  Result<StoreLock> lock_for(bool exclusive, int timeout_ms) const;
  /// The lock file, opened once for a long-lived writer that takes the lock per operation
  /// (flock LOCK_SH / LOCK_UN on it) instead of per process.
  Result<UniqueFd> open_lock_file() const;
  /// Forgets which shard directories exist (after gc removed empty ones).
  void forget_shards();

  /// Shard directories for a burst of inserts. Ingest asks for shards as it discovers hashes
  /// and one background thread creates them in shard order while the workers go on hashing
  /// (a worker never waits for a mkdir). The thread starts with the first request (an
  /// unchanged tree, all from the re-ingest cache, needs none).
  void start_shard_maker();
  void request_shard(const Hash& h);
  bool shard_ready(const Hash& h) const;
  /// Creates every requested shard, stops the thread; the first mkdir error, if any.
  Status finish_shard_maker();
  /// Stops the thread without creating the shards still requested (their callers make them
  /// with ensure_shard_dir); the first mkdir error, if any.
  Status abandon_shard_maker();
  /// Creates the shard directory of H now, in this thread (a no-op when it is known to exist).
  /// Threads making shards under different <h0h1> directories run in parallel.
  Status ensure_shard_dir(const Hash& h) const;

  /// Whether reflinks work from files under DIR into the store (probed once, cached).
  bool reflink_supported() const { return m_reflink.load() == 1; }

  /// Changes whenever a blob may have left the store other than through gc (a quarantine):
  /// caches that trust "this blob is there" must not outlive it.
  std::string generation() const;

  /// A unique temp path under <root>/tmp.
  std::string temp_path() const;

private:
  explicit Store(std::string root) : m_root(std::move(root)) {}
  Status make_shard(unsigned leaf) const;
  void shard_maker_loop();
  Result<Placement> place_private(int fd, const Hash& h, uint64_t size);
  Result<Placement> insert_file_opened(const std::string& path, const struct stat& st,
                                       const Hash& h, uint64_t size, InsertPolicy policy,
                                       struct stat* final_st);
  // Applies POLICY to the user's file once the blob exists; returns HOW.
  Result<Placement> on_existing(int fd, const std::string& path, const struct stat& st,
                                const Hash& h, uint64_t size, InsertPolicy policy, Placement how);
  Status publish_temp(const std::string& tmp, const Hash& h, uint64_t size, bool* existed) const;
  static Status set_fingerprint(const std::string& blob, int64_t mtime_ns);
  /// The same through an open descriptor of the blob's inode (no path lookup).
  static Status set_fingerprint(int fd, const std::string& blob, int64_t mtime_ns);

  std::string m_root;
  std::string m_id;
  std::atomic<int> m_xattr_ok{1};
  // linkat(fd, "", AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; without it, /proc/self/fd/N.
  std::atomic<bool> m_empty_path_ok{true};
  mutable std::atomic<int> m_reflink{-1}; // -1 unknown, 0 no, 1 yes
  std::once_flag m_reflink_probe;
  void probe_reflink();
  // 65536 leaf shard directories known to exist (bit per <h0h1h2h3>); 256 top-level ones.
  mutable std::unique_ptr<std::atomic<uint64_t>[]> m_leaf_known;
  mutable std::unique_ptr<std::atomic<uint64_t>[]> m_top_known;
  std::unique_ptr<std::atomic<uint64_t>[]> m_leaf_wanted;
  std::thread m_maker;                 // started by the first request_shard (under m_maker_mu)
  std::atomic<bool> m_maker_on{false}; // m_maker is running
  bool m_maker_enabled = false;        // start_shard_maker() was called
  std::mutex m_maker_mu;
  std::condition_variable m_maker_cv;
  bool m_maker_stop = false;
  std::atomic<bool> m_maker_abandon{false}; // stop now, leaving requests unmade
  bool m_maker_kick = false;
  Status m_maker_status;
};

/// Name of the fingerprint xattr carried by linked blobs.
inline constexpr const char* kFingerprintXattr = "user.vrift.fp";
/// The store's directory of lock files, one per directory tree ingested (and each directory
/// above one): ingests of one tree, or of nested trees, take turns (ingest.cpp, lock_tree).
inline constexpr const char* kTreeLocksDir = "treelocks";

/// A tier1 placement links the blob to "<file><kLinkTempMark><pid>" beside the user's file, then
/// renames it over the file; an ingest never takes such a name for a project file.
inline constexpr std::string_view kLinkTempMark = ".vrift-link.";

} // namespace vrift

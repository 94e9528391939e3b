// A session: one project root projected from one manifest, owned by the daemon. Every change
// (a commit of a file the shim staged, or a mutation) is validated against the live tree,
// journaled, applied to the tree and the index (VDir), and only then acknowledged. A checkpoint
// writes the tree back as the manifest and registers it.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "vrift/config/paths.h"
#include "vrift/daemon/journal.h"
#include "vrift/daemon/tree.h"
#include "vrift/manifest/manifest.h"
#include "vrift/store/store.h"
#include "vrift/util/result.h"

namespace vrift {

/// Where the session mirrors its tree for readers (the VDir writer; a no-op in tests).
class IndexSink {
public:
  virtual ~IndexSink() = default;
  virtual Status upsert(const ManifestEntry& e) = 0;
  virtual Status remove(const std::string& path) = 0;
};

/// Which file a path named: device, inode, size and mtime (what the daemon keys sessions by).
struct FileIdentity {
  uint64_t dev = 0, ino = 0, size = 0;
  int64_t mtime_ns = 0;
  static FileIdentity of(const struct stat& st);
  bool operator==(const FileIdentity&) const = default;
  std::string str() const; ///< "dev:ino:size:mtime_ns"
};

struct CommitResult {
  Hash hash;
  uint64_t size = 0;
};

/// TRUNCATE rebuilds and hashes the file's new content: longer lengths are refused (EFBIG).
inline constexpr uint64_t kMaxTruncateLength = uint64_t{1} << 30;

struct SessionOptions {
  bool sync_journal = false; ///< fdatasync every record (power-loss safety; slower)
  /// Records between automatic checkpoints (0: never; the daemon checkpoints when idle and
  /// when the session ends, which keeps fsyncs off the commit path).
  uint64_t checkpoint_every = 0;
};

class Session {
public:
  /// Opens the session of ROOT (canonical, absolute) and MANIFEST_PATH; replays the journal of
  /// an earlier daemon that was killed, and folds it into the manifest.
  static Result<std::unique_ptr<Session>> open(const Paths& paths, Store& store,
                                               const std::string& root,
                                               const std::string& manifest_path, IndexSink* sink,
                                               SessionOptions opts = {});

  /// COMMIT: the file staged at STAGING becomes the content of REL. The staging file must lie
  /// under <root>/.vrift/staging/ and be a regular file of the daemon's uid. MODE 0 takes the
  /// staging file's mode (what the protocol's COMMIT does).
  Result<CommitResult> commit(const std::string& rel, const std::string& staging, uint32_t mode);
  Status unlink(const std::string& rel);
  Status mkdir(const std::string& rel, uint32_t mode);
  Status rmdir(const std::string& rel);
  Status rename(const std::string& from, const std::string& to);
  /// CHMOD and UTIMENS act on what a final symlink points to unless NO_FOLLOW, as chmod(2) and
  /// utimensat(2) do; TRUNCATE always follows; LINK follows a final symlink of FROM only when
  /// FOLLOW (linkat's AT_SYMLINK_FOLLOW). Links inside the tree only (Tree::resolve).
  Status chmod(const std::string& rel, uint32_t mode, bool no_follow = false);
  Status utimens(const std::string& rel, int64_t mtime_ns, bool no_follow = false);
  Status truncate(const std::string& rel, uint64_t length);
  Status symlink(const std::string& target, const std::string& rel);
  Status link(const std::string& from, const std::string& to, bool follow = false);

  /// Writes the tree as the manifest (atomically), registers it, starts a new journal.
  Status checkpoint();

  const Tree& tree() const { return m_tree; }
  /// The manifest file the tree was loaded from, when open() found no journal to replay (the
  /// tree is then exactly its entries); empty otherwise, and after the first call.
  std::optional<Manifest> take_opened_manifest() { return std::exchange(m_opened, std::nullopt); }
  /// The id of the manifest whose entries the tree exactly is: the file open() loaded when it
  /// found no journal to replay; empty otherwise, and after any change to the tree.
  const std::optional<Hash>& file_tree_id() const { return m_file_tree_id; }
  /// Where changes are mirrored from now on (the daemon fills its VDir first, then sets it).
  void set_sink(IndexSink* sink) { m_sink = sink; }
  const std::string& root() const { return m_root; }
  const std::string& manifest_path() const { return m_manifest_path; }
  uint64_t commits() const { return m_commits; }
  uint64_t replayed() const { return m_replayed; }
  uint64_t stale_staging_removed() const { return m_stale_staging_removed; }
  /// The manifest file this session's last checkpoint wrote (empty before the first one): the
  /// daemon keys sessions by the file's identity, and its own rewrite is still this session.
  const std::optional<FileIdentity>& written_manifest() const { return m_written; }

private:
  Session(const Paths& paths, Store& store) : m_paths(paths), m_store(store) {}
  /// Journals REC, then applies it to the tree and the index.
  Status record(const JournalRecord& rec);
  Status maybe_checkpoint();
  /// Holds the store lock shared for its lifetime (gc --delete waits).
  class SharedLock {
  public:
    explicit SharedLock(int fd);
    ~SharedLock();
    bool ok() const { return m_ok; }

  private:
    int m_fd;
    bool m_ok;
  };

  Paths m_paths;
  Store& m_store;
  std::string m_root, m_manifest_path;
  Tree m_tree;
  std::optional<Manifest> m_opened;   ///< see take_opened_manifest()
  std::optional<Hash> m_file_tree_id; ///< see file_tree_id()
  Journal m_journal;
  UniqueFd m_lock_fd; // <store>/lock, held shared around each placement + journal append
  IndexSink* m_sink = nullptr;
  SessionOptions m_opts;
  uint64_t m_commits = 0, m_replayed = 0, m_stale_staging_removed = 0;
  std::optional<FileIdentity> m_written;
};

/// Removes staging files not modified for OLDER_THAN_S seconds: writes a process staged and
/// never got acknowledged (it died, or the daemon died before the commit). Returns the count.
uint64_t remove_stale_staging(const std::string& dir, int64_t older_than_s);

/// The journal file of a session (one per store and manifest).
std::string session_journal_path(const Paths& paths, const std::string& manifest_path);

} // namespace vrift

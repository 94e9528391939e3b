#include "vrift/daemon/session.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <ctime>

#include "vrift/registry/registry.h"
#include "vrift/util/fs.h"
#include "vrift/util/scratch.h"

namespace vrift {

namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Error errno_error(int e, const std::string& what) {
  return Error(what + ": " + std::strerror(e), e);
}

} // namespace

Session::SharedLock::SharedLock(int fd) : m_fd(fd) {
  int rc;
  do {
    rc = ::flock(m_fd, LOCK_SH);
  } while (rc != 0 && errno == EINTR);
  m_ok = rc == 0;
}

Session::SharedLock::~SharedLock() {
  if (m_ok) ::flock(m_fd, LOCK_UN);
}

std::string session_journal_path(const Paths& paths, const std::string& manifest_path) {
  return paths.daemon_journal_dir() + "/" +
         blake3(paths.store_root + '\0' + manifest_path).hex().substr(0, 32) + ".journal";
}

uint64_t remove_stale_staging(const std::string& dir, int64_t older_than_s) {
  uint64_t removed = 0;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  int64_t now = static_cast<int64_t>(::time(nullptr));
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    struct stat st {};
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
      continue;
    if (now - st.st_mtim.tv_sec < older_than_s) continue;
    if (::unlinkat(::dirfd(d), e->d_name, 0) == 0) ++removed;
  }
  ::closedir(d);
  return removed;
}

FileIdentity FileIdentity::of(const struct stat& st) {
  return {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
          static_cast<uint64_t>(st.st_size), fs::ns(st.st_mtim)};
}

std::string FileIdentity::str() const {
  return std::to_string(dev) + ':' + std::to_string(ino) + ':' + std::to_string(size) + ':' +
         std::to_string(mtime_ns);
}

Result<std::unique_ptr<Session>> Session::open(const Paths& paths, Store& store,
                                               const std::string& root,
                                               const std::string& manifest_path, IndexSink* sink,
                                               SessionOptions opts) {
  std::unique_ptr<Session> s(new Session(paths, store));
  s->m_root = root;
  s->m_manifest_path = manifest_path;
  s->m_sink = sink;
  s->m_opts = opts;
  VRIFT_ASSIGN(s->m_lock_fd, store.open_lock_file());
  Hash base;
  if (::access(manifest_path.c_str(), F_OK) == 0) {
    VRIFT_ASSIGN(Manifest m, Manifest::open(manifest_path));
    base = m.id();
    s->m_file_tree_id = base;
    s->m_tree = Tree(m);
    s->m_opened = std::move(m);
  }
  s->m_stale_staging_removed = remove_stale_staging(Paths::staging_dir(root), 600);
  std::vector<JournalRecord> replay;
  VRIFT_ASSIGN(s->m_journal,
               Journal::open(session_journal_path(paths, manifest_path), base, &replay));
  for (const auto& r : replay) {
    if (apply_record(s->m_tree, r)) ++s->m_replayed;
  }
  if (sink) {
    for (const auto& [path, e] : s->m_tree.entries())
      VRIFT_TRY(sink->upsert(e));
  }
  if (!replay.empty()) {
    s->m_opened.reset(); // the tree is no longer just the file's entries
    s->m_file_tree_id.reset();
    VRIFT_TRY(s->checkpoint().context("folding the journal of an earlier daemon"));
  }
  return s;
}

Status Session::record(const JournalRecord& rec) {
  // Every Tree operation validates before it changes anything, so the callers apply first (to
  // learn whether the change is valid) and journal before acknowledging. If the journal cannot
  // take the record, the tree goes back to what is durable: the manifest plus the journal.
  m_file_tree_id.reset();
  Status appended = m_journal.append(rec, m_opts.sync_journal);
  if (!appended.ok()) {
    Tree durable;
    if (auto m = Manifest::open(m_manifest_path); m.ok()) durable = Tree(*m);
    if (auto recs = read_journal(m_journal.path()); recs.ok()) {
      for (const auto& r : *recs)
        apply_record(durable, r);
    }
    if (m_sink) {
      for (const auto& [path, e] : m_tree.entries()) {
        if (!durable.find(path)) (void)m_sink->remove(path);
      }
      for (const auto& [path, e] : durable.entries())
        (void)m_sink->upsert(e);
    }
    m_tree = std::move(durable);
  }
  return appended;
}

Status Session::maybe_checkpoint() {
  if (m_opts.checkpoint_every && m_journal.records() >= m_opts.checkpoint_every)
    return checkpoint();
  return {};
}

Result<CommitResult> Session::commit(const std::string& rel, const std::string& staging,
                                     uint32_t mode) {
  VRIFT_TRY(validate_manifest_path(rel));
  std::string staging_dir = Paths::staging_dir(m_root) + "/";
  if (staging.compare(0, staging_dir.size(), staging_dir) != 0 ||
      staging.find("/../") != std::string::npos) {
    return fail(errno_error(EACCES, "staging file '" + staging + "' is not under " + staging_dir));
  }
  UniqueFd fd(::open(staging.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return fail_os("opening staging file '" + staging + "'");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return fail(errno_error(EINVAL, "staging file '" + staging + "' is not a regular file"));
  }
  if (st.st_uid != ::geteuid()) {
    return fail(errno_error(EACCES, "staging file '" + staging + "' belongs to uid " +
                                        std::to_string(st.st_uid) + ", not the daemon's"));
  }
  uint64_t n = 0;
  VRIFT_ASSIGN(Hash h, blake3_fd(fd.get(), &n, scratch_buffer<struct CommitTag>(), kScratchSize)
                           .context("hashing '" + staging + "'"));
  // The store's shared lock keeps gc away between placing the blob and journaling it.
  SharedLock lock(m_lock_fd.get());
  if (!lock.ok()) return fail_os("locking the store");
  VRIFT_TRY(m_store.insert_file(fd.get(), staging, st, h, n, InsertPolicy::Shared)
                .context("storing '" + rel + "'"));
  ManifestEntry e;
  e.path = rel;
  e.type = EntryType::File;
  e.mode = (mode ? mode : st.st_mode) & 07777;
  e.size = n;
  e.mtime_ns = fs::ns(st.st_mtim);
  e.hash = h;
  VRIFT_TRY(m_tree.put(e));
  VRIFT_TRY(record(JournalRecord{JournalOp::Put, e, {}}));
  if (m_sink) VRIFT_TRY(m_sink->upsert(e));
  ++m_commits;
  VRIFT_TRY(maybe_checkpoint());
  return CommitResult{h, n};
}

Status Session::unlink(const std::string& rel) {
  VRIFT_TRY(m_tree.unlink(rel));
  ManifestEntry e;
  e.path = rel;
  VRIFT_TRY(record(JournalRecord{JournalOp::Unlink, e, {}}));
  if (m_sink) VRIFT_TRY(m_sink->remove(rel));
  return maybe_checkpoint();
}

Status Session::mkdir(const std::string& rel, uint32_t mode) {
  int64_t now = now_ns();
  VRIFT_TRY(m_tree.mkdir(rel, mode, now));
  const ManifestEntry* e = m_tree.find(rel);
  VRIFT_TRY(record(JournalRecord{JournalOp::Mkdir, *e, {}}));
  if (m_sink) VRIFT_TRY(m_sink->upsert(*e));
  return maybe_checkpoint();
}

Status Session::rmdir(const std::string& rel) {
  VRIFT_TRY(m_tree.rmdir(rel));
  ManifestEntry e;
  e.path = rel;
  VRIFT_TRY(record(JournalRecord{JournalOp::Rmdir, e, {}}));
  if (m_sink) VRIFT_TRY(m_sink->remove(rel));
  return maybe_checkpoint();
}

Status Session::rename(const std::string& from, const std::string& to) {
  std::vector<std::pair<std::string, std::string>> moved;
  VRIFT_TRY(m_tree.rename(from, to, &moved));
  ManifestEntry e;
  e.path = from;
  VRIFT_TRY(record(JournalRecord{JournalOp::Rename, e, to}));
  if (m_sink) {
    for (const auto& [o, n] : moved) {
      VRIFT_TRY(m_sink->remove(o));
      VRIFT_TRY(m_sink->upsert(*m_tree.find(n)));
    }
  }
  return maybe_checkpoint();
}

Status Session::chmod(const std::string& path, uint32_t mode, bool no_follow) {
  VRIFT_ASSIGN(const std::string rel, m_tree.resolve(path, !no_follow, m_root));
  VRIFT_TRY(m_tree.chmod(rel, mode));
  const ManifestEntry* e = m_tree.find(rel);
  VRIFT_TRY(record(JournalRecord{JournalOp::Chmod, *e, {}}));
  if (m_sink) VRIFT_TRY(m_sink->upsert(*e));
  return maybe_checkpoint();
}

Status Session::utimens(const std::string& path, int64_t mtime_ns, bool no_follow) {
  VRIFT_ASSIGN(const std::string rel, m_tree.resolve(path, !no_follow, m_root));
  VRIFT_TRY(m_tree.set_mtime(rel, mtime_ns));
  const ManifestEntry* e = m_tree.find(rel);
  VRIFT_TRY(record(JournalRecord{JournalOp::Mtime, *e, {}}));
  if (m_sink) VRIFT_TRY(m_sink->upsert(*e));
  return maybe_checkpoint();
}

Status Session::truncate(const std::string& path, uint64_t length) {
  VRIFT_ASSIGN(const std::string rel, m_tree.resolve(path, true, m_root));
  const ManifestEntry* old = m_tree.find(rel);
  if (!old) return fail(errno_error(m_tree.missing_errno(rel), "'" + rel + "'"));
  if (old->type != EntryType::File) return fail(errno_error(EISDIR, "'" + rel + "'"));
  // The new content is built in a temp file of the store (the old bytes cut, or extended with a
  // hole) and hashed: never in memory, and never more than the daemon can hash without keeping
  // every other client waiting for long.
  if (length > kMaxTruncateLength) {
    return fail(errno_error(EFBIG, "'" + rel + "': truncating to " + std::to_string(length) +
                                       " bytes (vrift hashes the new content; at most " +
                                       std::to_string(kMaxTruncateLength) + ")"));
  }
  const std::string tmp = m_store.temp_path();
  UniqueFd out(::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!out.valid()) return fail_os("creating '" + tmp + "'");
  struct Unlink {
    const std::string& path;
    ~Unlink() { ::unlink(path.c_str()); }
  } unlink_tmp{tmp};
  if (const uint64_t keep = std::min(length, old->size); keep > 0) {
    UniqueFd in(::open(m_store.blob_path(old->hash, old->size).c_str(), O_RDONLY | O_CLOEXEC));
    if (!in.valid()) return fail_os("opening the blob of '" + rel + "'");
    VRIFT_ASSIGN(
        const uint64_t copied,
        fs::copy_fd(in.get(), out.get(), keep).context("copying the blob of '" + rel + "'"));
    if (copied != keep) return fail(errno_error(EIO, "the blob of '" + rel + "' is short"));
  }
  if (::ftruncate(out.get(), static_cast<off_t>(length)) != 0 ||
      ::lseek(out.get(), 0, SEEK_SET) != 0)
    return fail_os("sizing '" + tmp + "'");
  struct stat st {};
  if (::fstat(out.get(), &st) != 0) return fail_os("checking '" + tmp + "'");
  uint64_t n = 0;
  VRIFT_ASSIGN(Hash h, blake3_fd(out.get(), &n, scratch_buffer<struct CommitTag>(), kScratchSize)
                           .context("hashing the new content of '" + rel + "'"));
  {
    SharedLock lock(m_lock_fd.get());
    if (!lock.ok()) return fail_os("locking the store");
    VRIFT_TRY(m_store.insert_file(out.get(), tmp, st, h, n, InsertPolicy::Shared)
                  .context("storing '" + rel + "'"));
    ManifestEntry e = *old;
    e.size = n;
    e.hash = h;
    e.mtime_ns = now_ns();
    VRIFT_TRY(m_tree.put(e));
    VRIFT_TRY(record(JournalRecord{JournalOp::Put, e, {}}));
    if (m_sink) VRIFT_TRY(m_sink->upsert(e));
  }
  return maybe_checkpoint();
}

Status Session::symlink(const std::string& target, const std::string& rel) {
  if (target.empty() || target.size() > kMaxManifestPath) {
    return fail(errno_error(EINVAL, "symlink target of '" + rel + "'"));
  }
  if (m_tree.find(rel)) return fail(errno_error(EEXIST, "'" + rel + "'"));
  ManifestEntry e;
  e.path = rel;
  e.type = EntryType::Symlink;
  e.mode = 0777;
  e.size = target.size();
  e.mtime_ns = now_ns();
  e.target = target;
  VRIFT_TRY(m_tree.put(e));
  VRIFT_TRY(record(JournalRecord{JournalOp::Put, e, {}}));
  if (m_sink) VRIFT_TRY(m_sink->upsert(e));
  return maybe_checkpoint();
}

Status Session::link(const std::string& path, const std::string& to, bool follow) {
  VRIFT_ASSIGN(const std::string from, m_tree.resolve(path, follow, m_root));
  const ManifestEntry* src = m_tree.find(from);
  if (!src) return fail(errno_error(m_tree.missing_errno(from), "'" + from + "'"));
  if (m_tree.find(to)) return fail(errno_error(EEXIST, "'" + to + "'")); // before EPERM: Linux
  if (src->type == EntryType::Dir) return fail(errno_error(EPERM, "'" + from + "' is a directory"));
  ManifestEntry e = *src;
  e.path = to;
  VRIFT_TRY(m_tree.put(e));
  VRIFT_TRY(record(JournalRecord{JournalOp::Put, e, {}}));
  if (m_sink) VRIFT_TRY(m_sink->upsert(e));
  return maybe_checkpoint();
}

Status Session::checkpoint() {
  VRIFT_ASSIGN(std::string bytes, serialize_manifest(m_tree.to_vector(), m_root));
  VRIFT_ASSIGN(Manifest m, Manifest::from_bytes(bytes));
  // The registry's copy first, then the project's file, then the journal. gc trusts the copy: a
  // daemon killed after rewriting the file but before registering it would leave the copy of
  // the old tree registered, and the next open would find the journal already folded (its base
  // is the old id) and not register either, so gc would delete the blobs of every change since.
  // In this order a kill at any point leaves the registered copy naming at least what the file
  // and journal name: the new tree, or the old tree plus the journal that gc also reads.
  VRIFT_ASSIGN(Registry reg, Registry::open(m_paths.registry_db()));
  ProjectRecord rec;
  rec.store = m_store.root();
  rec.root = m_root;
  rec.manifest_path = m_manifest_path;
  rec.manifest_id = m.id().hex();
  rec.mode = "session";
  rec.tier = "tier2";
  for (const auto& [p, e] : m_tree.entries()) {
    if (e.type == EntryType::File) {
      ++rec.files;
      rec.bytes += e.size;
    }
  }
  rec.registered_ns = rec.updated_ns = now_ns();
  VRIFT_TRY(register_manifest(reg, m_paths.manifest_copies_dir(), rec, bytes));
  struct stat written {};
  VRIFT_TRY(
      fs::write_file_atomic(m_manifest_path, bytes, 0644, true, &written).context("checkpoint"));
  m_written = FileIdentity::of(written);
  return m_journal.reset(m.id());
}

} // namespace vrift

// Ingest, as a list of passes:
//   1. Resolve and check inputs (directory, output location, prefix) before touching anything.
//   2. Take the store's shared lock (gc --delete takes it exclusively), load the re-ingest cache.
//   3. Walk + hash + place in parallel; each worker keeps its own entries, no shared state but
//      the directory queue and the counters.
//   4. Build the manifest; an unchanged tree whose manifest is registered writes nothing.
//   5. Every blob placed is durable before a manifest names it: an fsync of each (and of its
//      directories) when there are a few, as after an edit (a re-ingest's begin on a thread of
//      their own as each is placed, during pass 3: EarlySync); else one syncfs(store).
//   6. Write the manifest atomically, keep a copy in the store, register it.
//   7. Phantom only: now that blobs and manifest are durable, move ownership of the content to
//      the store and remove the project's files (directories stay as an empty skeleton).
//   8. Save the re-ingest cache (best effort).
#include "vrift/ingest/ingest.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "vrift/ingest/cache.h"
#include "vrift/ingest/filter.h"
#include "vrift/ingest/pattern.h"
#include "vrift/ingest/rawcall.h"
#include "vrift/ingest/walk.h"
#include "vrift/manifest/manifest.h"
#include "vrift/registry/registry.h"
#include "vrift/util/elf.h"
#include "vrift/util/fs.h"
#include "vrift/util/log.h"

namespace vrift {

namespace {

// Up to this many new blobs, step 5 makes each durable by itself (fsync of the blob and of its
// shard directories) rather than with syncfs, whose cost is every dirty page of the whole
// filesystem: ~1 ms on a quiet machine, but 75 ms measured with a build's output pending, where
// the fsyncs of the one blob of an edit stay at 1-4 ms (docs/benchmarks.md, session 13).
constexpr size_t kSyncEachMax = 64;

Status sync_blob(const std::string& b) {
  UniqueFd fd(::open(b.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid() || ::fsync(fd.get()) != 0) return fail_os("syncing blob '" + b + "'");
  return {};
}

// The fsync of each blob as it is placed, on a thread of its own, while the walk goes on: the
// one blob of an edit is then durable by the time the walk of the rest of the tree (40 ms for
// dataset A) is over, rather than waited for after it (4-25 ms of the disk's journal commit).
// Only for a tree walked before (a re-ingest: few new blobs, if any); past kSyncEachMax blobs it
// takes no more (step 5 then syncs the filesystem). Thread-safe.
class EarlySync {
public:
  explicit EarlySync(bool on) : m_on(on) {}
  EarlySync(const EarlySync&) = delete;
  EarlySync& operator=(const EarlySync&) = delete;
  ~EarlySync() { (void)finish(); }

  void add(const std::string& blob) {
    if (!m_on) return;
    std::lock_guard<std::mutex> l(m_mu);
    if (m_closed || m_no_thread || m_added >= kSyncEachMax) return;
    ++m_added;
    m_queue.push_back(blob);
    if (!m_thread.joinable()) {
      try {
        m_thread = std::thread([this] { loop(); });
      } catch (const std::system_error&) {
        m_no_thread = true; // step 5 syncs them all itself
        m_queue.clear();
        return;
      }
    }
    m_wake.notify_one();
  }
  /// Waits for every blob added to be synced. The blobs synced; the first error.
  Result<std::vector<std::string>> finish() {
    {
      std::lock_guard<std::mutex> l(m_mu);
      m_closed = true;
    }
    m_wake.notify_one();
    if (m_thread.joinable()) m_thread.join();
    if (!m_error.ok()) return fail(m_error.error());
    return m_synced;
  }

private:
  void loop() {
    std::unique_lock<std::mutex> l(m_mu);
    for (;;) {
      m_wake.wait(l, [this] { return m_closed || !m_queue.empty(); });
      if (m_queue.empty()) return; // closed
      std::string b = std::move(m_queue.front());
      m_queue.pop_front();
      l.unlock();
      Status s = sync_blob(b);
      l.lock();
      if (!s.ok()) {
        if (m_error.ok()) m_error = std::move(s);
      } else {
        m_synced.push_back(std::move(b));
      }
    }
  }

  const bool m_on;
  std::mutex m_mu;
  std::condition_variable m_wake;
  std::deque<std::string> m_queue;   // guarded by m_mu
  size_t m_added = 0;                // guarded by m_mu
  bool m_closed = false;             // guarded by m_mu
  bool m_no_thread = false;          // guarded by m_mu
  std::vector<std::string> m_synced; // guarded by m_mu (read after the join)
  Status m_error;                    // guarded by m_mu (read after the join)
  std::thread m_thread;
};

// fsync of each blob of PLACED (but those of SYNCED, an EarlySync's), then of each directory
// they are in and its two parents (the shard directories and blake3/, which this run may have
// created).
Status sync_each(const std::vector<std::string>& placed, const std::vector<std::string>& synced) {
  std::vector<std::string> dirs;
  for (const std::string& b : placed) {
    if (std::find(synced.begin(), synced.end(), b) == synced.end()) VRIFT_TRY(sync_blob(b));
    std::string d = fs::dirname(b);
    for (int up = 0; up < 3; ++up, d = fs::dirname(d)) {
      if (std::find(dirs.begin(), dirs.end(), d) == dirs.end()) dirs.push_back(d);
    }
  }
  for (const std::string& d : dirs) {
    UniqueFd fd(::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid() || ::fsync(fd.get()) != 0) return fail_os("syncing directory '" + d + "'");
  }
  return {};
}

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A digest of the manifest that ENTRIES and ORIGIN make, without building it: BLAKE3 over
// every field the manifest stores for every entry, length-prefixed, in path order (entries
// arrive in walk order, which depends on threads), then the origin and the format version.
// serialize_manifest is a function of exactly these inputs, so equal digests mean equal
// manifests (ManifestStamp). A change to what serialize_manifest writes for the same entries
// must change kStampVersion. (A multiset sum of per-entry 64-bit hashes was cheaper, but a
// non-cryptographic hash can be made to forget its input by a crafted file name.)
Hash entries_digest(const std::vector<ManifestEntry>& entries, const std::string& origin) {
  constexpr uint32_t kStampVersion = 1;
  std::vector<const ManifestEntry*> order;
  order.reserve(entries.size());
  for (const ManifestEntry& e : entries)
    order.push_back(&e);
  std::sort(order.begin(), order.end(),
            [](const ManifestEntry* x, const ManifestEntry* y) { return x->path < y->path; });
  Blake3 h;
  std::string buf;
  const auto put = [&buf](const auto& v) {
    buf.append(reinterpret_cast<const char*>(&v), sizeof v);
  };
  for (const ManifestEntry* e : order) {
    put(static_cast<uint8_t>(e->type));
    put(e->mode);
    put(e->size);
    put(e->mtime_ns);
    buf.append(reinterpret_cast<const char*>(e->hash.bytes.data()), e->hash.bytes.size());
    put(static_cast<uint64_t>(e->path.size()));
    buf += e->path;
    put(static_cast<uint64_t>(e->target.size()));
    buf += e->target;
    if (buf.size() >= 1 << 16) {
      h.update(buf.data(), buf.size());
      buf.clear();
    }
  }
  put(static_cast<uint64_t>(entries.size()));
  put(static_cast<uint64_t>(origin.size()));
  buf += origin;
  put(kManifestVersion);
  put(kStampVersion);
  h.update(buf.data(), buf.size());
  return h.finish();
}

// A name native code is loaded under: a Node addon (.node), a shared object (.so, .so.N).
bool native_module_name(const char* name) {
  const std::string_view n(name);
  return n.ends_with(".node") || n.ends_with(".so") || n.find(".so.") != std::string_view::npos;
}

// The file-system calls the ELF file open as FD (SIZE bytes) makes by itself; nothing for a
// file that is not ELF or cannot be read (it was just hashed: a failure here changes nothing).
std::vector<std::string> raw_calls_of(int fd, uint64_t size) {
  constexpr uint64_t kMaxScan = uint64_t{1} << 30;
  unsigned char magic[4];
  if (size < 64 || size > kMaxScan || ::pread(fd, magic, 4, 0) != 4 ||
      std::memcmp(magic,
                  "\x7f"
                  "ELF",
                  4) != 0)
    return {};
  std::vector<uint8_t> bytes(size);
  uint64_t got = 0;
  while (got < size) {
    const ssize_t r = ::pread(fd, bytes.data() + got, size - got, static_cast<off_t>(got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return {};
    got += static_cast<uint64_t>(r);
  }
  return raw_fs_syscalls(bytes.data(), bytes.size());
}

// Whether the file open as FD (SIZE bytes, with an execute bit) is an ELF program, and which
// kind: ElfKind::Dynamic, ElfKind::Static, or NotElf for anything else (a script, a library-like
// object the loader could not start, an unreadable or truncated file).
ElfKind program_kind(int fd, uint64_t size) {
  auto head = [&](size_t n) {
    std::string b(static_cast<size_t>(std::min<uint64_t>(n, size)), '\0');
    if (::pread(fd, b.data(), b.size(), 0) != static_cast<ssize_t>(b.size())) b.clear();
    return b;
  };
  ElfCheck c = check_elf(head(4096));
  if (c.kind == ElfKind::NeedMore && c.need <= size) c = check_elf(head(c.need));
  return c.kind == ElfKind::Dynamic || c.kind == ElfKind::Static ? c.kind : ElfKind::NotElf;
}

// A file hashed while its shard directory did not exist yet: placed after the walk, through
// the descriptor it was hashed from when the descriptor budget allowed keeping it open.
struct Deferred {
  std::string rel;
  struct stat st;
  Hash hash;
  uint64_t size;
  ManifestEntry entry;
  bool tier1;
  UniqueFd fd;
};

// Raises the soft limit on open files to the hard one (at most 1 << 16) for the life of the
// object, so that deferred files keep their descriptors; restored for whatever vrift runs next
// (`vrift run` executes CMD after a zero-config ingest).
class FdBudget {
public:
  FdBudget() {
    if (::getrlimit(RLIMIT_NOFILE, &m_old) != 0) return;
    m_saved = true;
    struct rlimit want = m_old;
    rlim_t cap = std::min<rlim_t>(m_old.rlim_max, 1 << 16);
    if (want.rlim_cur < cap) {
      want.rlim_cur = cap;
      if (::setrlimit(RLIMIT_NOFILE, &want) != 0) want = m_old;
    }
    // Headroom for the walk's directories, the hashing descriptors, the registry and the store;
    // never more than 1 << 16 kept, whatever the limit.
    const rlim_t usable = std::min<rlim_t>(want.rlim_cur, 1 << 16);
    m_left = usable > 256 ? static_cast<int64_t>(usable) - 256 : 0;
  }
  ~FdBudget() {
    if (m_saved) ::setrlimit(RLIMIT_NOFILE, &m_old);
  }
  FdBudget(const FdBudget&) = delete;
  FdBudget& operator=(const FdBudget&) = delete;
  /// Whether one more descriptor may stay open (then it counts against the budget).
  bool take() { return m_left.fetch_sub(1, std::memory_order_relaxed) > 0; }

private:
  struct rlimit m_old {};
  bool m_saved = false;
  std::atomic<int64_t> m_left{0};
};

// The walk tag of a directory whose whole subtree is tier1 (IngestOptions::tier1_paths).
constexpr uint32_t kTier1Tag = 1;

struct PhantomItem {
  std::string abs;
  Hash hash;
  uint64_t size = 0;
  bool is_file = true;
};

// Everything one worker thread produces.
// Below this many files (by the re-ingest cache), a re-ingest walks with one thread.
constexpr size_t kSmallTreeFiles = 2000;

struct WorkerState {
  std::vector<ManifestEntry> entries;
  std::vector<CacheRecord> cache; ///< new records (files hashed by this run)
  std::vector<uint32_t> hits;     ///< loaded records used as they were (indices)
  std::vector<Excluded> excluded;
  std::vector<std::string> mismatches;
  std::vector<RawCaller> raw_callers;
  std::vector<PhantomProgram> programs;
  std::vector<PhantomItem> phantom;
  std::vector<Deferred> deferred;
  std::vector<std::string> placed; ///< the blobs placed, while there are few (kSyncEachMax)
  // The read buffer for hashing, allocated (not zeroed) by the first file that needs it: an
  // unchanged tree hashes nothing, and zeroing 256 KiB per worker was most of a zero-config
  // re-ingest's system time.
  std::unique_ptr<uint8_t[]> buf;
  static constexpr size_t kBufSize = 1 << 18;
  uint8_t* hash_buf() {
    if (!buf) buf.reset(new uint8_t[kBufSize]);
    return buf.get();
  }
  uint64_t files = 0, dirs = 0, symlinks = 0, bytes = 0, new_blobs = 0, new_bytes = 0, cached = 0;
  uint64_t link = 0, copy = 0, reflink = 0, tier1 = 0;
};

class Ingester {
public:
  Ingester(const IngestOptions& o, Store& store, const IngestCache& cache, IngestProgress* prog,
           std::string root, std::string prefix, std::string skip_rel, const PathPatterns& ignore,
           const PathPatterns& tier1)
      : m_opts(o), m_store(store), m_cache(cache), m_prog(prog), m_root(std::move(root)),
        m_prefix(std::move(prefix)), m_skip_rel(std::move(skip_rel)), m_ignore(ignore),
        m_tier1(tier1) {}

  void add_skip_dir(dev_t dev, ino_t ino) { m_skip_dirs.emplace_back(dev, ino); }
  /// Each new blob placed goes to EARLY too (its fsync while the walk goes on).
  void set_early_sync(EarlySync* early) { m_early = early; }

  Status run(unsigned threads) {
    m_workers.resize(threads);
    WalkVisitor v;
    v.visit = [this](unsigned w, const WalkEntry& e) { return visit(m_workers[w], e); };
    auto t0 = std::chrono::steady_clock::now();
    auto ms = [&] {
      return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
          .count();
    };
    m_store.start_shard_maker();
    FdBudget budget;
    m_budget = &budget;
    Status walked = parallel_walk(m_root, threads, v);
    log::debug("ingest: walk and hash took {:.1f} ms", ms());
    // What waited for a shard directory is placed now (the threads take over from the maker).
    Status placed = walked.ok() ? place_deferred(threads) : Status();
    Status shards = m_store.finish_shard_maker();
    for (auto& w : m_workers)
      w.deferred.clear(); // closes what an error left open, before the budget goes
    m_budget = nullptr;
    log::debug("ingest: walk, hash and placement took {:.1f} ms", ms());
    VRIFT_TRY(walked);
    VRIFT_TRY(std::move(shards).context("creating shard directories"));
    return placed;
  }

  std::vector<WorkerState>& workers() { return m_workers; }

private:
  std::string manifest_path_of(const std::string& rel) const {
    return m_prefix.empty() ? rel : m_prefix + "/" + rel;
  }

  // Whether the ignore patterns leave E out (recorded as excluded, with the pattern).
  bool ignored(WorkerState& w, const WalkEntry& e, bool is_dir) const {
    if (m_ignore.empty()) return false;
    const char* pat = m_ignore.match(e.rel, e.name, is_dir);
    if (pat) w.excluded.push_back({e.rel, std::string("ignored: ") + pat});
    return pat != nullptr;
  }

  // The pid in the name of E, of status ST, if it is a tier1 placement's temporary link, else
  // 0. The name alone ("<file>.vrift-link.<pid>") could be a user's file, which must be
  // ingested, and never removed: the temporary is also a second link of a read-only inode (the
  // blob's), and <file> is beside it.
  static pid_t link_temp_pid(const WalkEntry& e, const struct stat& st) {
    if (!S_ISREG(st.st_mode) || st.st_nlink < 2 || (st.st_mode & 0222) != 0) return 0;
    const std::string_view n(e.name);
    const size_t at = n.rfind(kLinkTempMark);
    if (at == std::string_view::npos || at == 0 || at + kLinkTempMark.size() == n.size()) return 0;
    long pid = 0;
    for (char c : n.substr(at + kLinkTempMark.size())) {
      if (c < '0' || c > '9' || pid > 99999999) return 0;
      pid = pid * 10 + (c - '0');
    }
    const std::string file(n.substr(0, at));
    struct stat fst {};
    if (::fstatat(e.dirfd, file.c_str(), &fst, AT_SYMLINK_NOFOLLOW) != 0) return 0;
    return static_cast<pid_t>(pid);
  }

  // Whether the file E gets tier1 treatment: --tier tier1, a tier1 subtree or a tier1 pattern.
  bool tier1_file(const WalkEntry& e) const {
    if (m_opts.mode != IngestMode::Solid) return false; // phantom: the store owns everything
    return m_opts.tier == IngestTier::Tier1 || e.tag == kTier1Tag ||
           (!m_tier1.empty() && m_tier1.match(e.rel, e.name, false));
  }

  Result<bool> visit(WorkerState& w, const WalkEntry& e) {
    const struct stat& st = e.st;
    if (S_ISDIR(st.st_mode)) {
      if (is_skipped_dir(e.name)) return false;
      for (auto& [dev, ino] : m_skip_dirs) {
        if (st.st_dev == dev && st.st_ino == ino) return false; // the store or ~/.vrift itself
      }
      if (ignored(w, e, true)) return false;
      if (e.tag != kTier1Tag && !m_tier1.empty() && m_tier1.match(e.rel, e.name, true))
        *e.subdir_tag = kTier1Tag;
      ManifestEntry me;
      me.path = manifest_path_of(e.rel);
      me.type = EntryType::Dir;
      me.mode = st.st_mode & 07777;
      me.size = static_cast<uint64_t>(st.st_size); // what stat says of it in a projection
      me.mtime_ns = fs::ns(st.st_mtim);
      w.entries.push_back(std::move(me));
      ++w.dirs;
      return true;
    }
    if (e.rel == m_skip_rel) return false; // the manifest being written
    if (const pid_t pid = link_temp_pid(e, st); pid != 0) {
      // A tier1 placement's temporary name (Store::on_existing links the blob there, then
      // renames it over the file): never a project file. One whose ingest is gone (killed
      // between the two steps) is removed; a live one is another ingest's (of an enclosing or
      // nested root: the tree locks keep those out).
      if (::kill(pid, 0) != 0 && errno == ESRCH) ::unlinkat(e.dirfd, e.name, 0);
      return false;
    }
    if (ignored(w, e, false)) return false;
    if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlinkat(e.dirfd, e.name, target.data(), target.size());
      if (n < 0) return fail_os("reading link '" + abs(e.rel) + "'");
      if (static_cast<size_t>(n) >= target.size())
        return fail("'" + abs(e.rel) + "' changed while being read");
      target.resize(static_cast<size_t>(n));
      if (target.empty()) {
        w.excluded.push_back({e.rel, "empty symlink target"});
        return false;
      }
      ManifestEntry me;
      me.path = manifest_path_of(e.rel);
      me.type = EntryType::Symlink;
      me.mode = st.st_mode & 07777;
      me.size = target.size();
      me.mtime_ns = fs::ns(st.st_mtim);
      me.target = std::move(target);
      w.entries.push_back(std::move(me));
      ++w.symlinks;
      if (m_opts.mode == IngestMode::Phantom) w.phantom.push_back({abs(e.rel), Hash{}, 0, false});
      return false;
    }
    if (!S_ISREG(st.st_mode)) {
      w.excluded.push_back({e.rel, "special file (device, fifo or socket)"});
      return false;
    }
    if (m_opts.security_filter) {
      if (const char* pat = security_match(e.name)) {
        w.excluded.push_back({e.rel, std::string("security filter: ") + pat});
        return false;
      }
    }
    VRIFT_TRY(ingest_file(w, e));
    return false;
  }

  std::string abs(const std::string& rel) const { return m_root + "/" + rel; }

  static InsertPolicy policy(bool tier1) {
    return tier1 ? InsertPolicy::ReadOnly : InsertPolicy::Shared;
  }

  // Places the files whose shard directory did not exist when they were hashed. The shard
  // maker stops where it is; the threads share out the rest by <h0h1> directory, each making
  // the shards of its own and linking their files: directory creations under different
  // parents run in parallel, and links fill the time between them.
  Status place_deferred(unsigned threads) {
    std::vector<Deferred*> all;
    for (auto& w : m_workers) {
      for (auto& d : w.deferred)
        all.push_back(&d);
    }
    if (all.empty()) return {};
    std::sort(all.begin(), all.end(),
              [](const Deferred* a, const Deferred* b) { return a->hash.bytes < b->hash.bytes; });
    std::vector<size_t> groups; // where each <h0h1> starts in ALL, then the end
    for (size_t i = 0; i < all.size(); ++i) {
      if (i == 0 || all[i]->hash.bytes[0] != all[i - 1]->hash.bytes[0]) groups.push_back(i);
    }
    groups.push_back(all.size());
    VRIFT_TRY(m_store.abandon_shard_maker().context("creating shard directories"));
    log::debug("ingest: {} files in {} <h0h1> groups wait for a shard directory", all.size(),
               groups.size() - 1);
    std::atomic<size_t> next{0};
    std::mutex mu;
    Status first;
    auto run = [&](WorkerState& mine) {
      for (;;) {
        size_t g = next.fetch_add(1);
        if (g + 1 >= groups.size()) return;
        for (size_t i = groups[g]; i < groups[g + 1]; ++i) {
          Deferred& d = *all[i];
          Status s = m_store.ensure_shard_dir(d.hash).context("creating shard directories");
          if (s.ok()) {
            s = place(mine, d.fd.get(), d.rel, d.st, d.hash, d.size, std::move(d.entry), d.tier1);
          }
          d.fd.reset();
          if (!s.ok()) {
            std::lock_guard lk(mu);
            if (first.ok()) first = std::move(s);
            next = groups.size();
            return;
          }
        }
      }
    };
    std::vector<WorkerState> extra(threads);
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < threads; ++t)
      pool.emplace_back(run, std::ref(extra[t]));
    run(extra[0]);
    for (auto& t : pool)
      t.join();
    for (auto& e : extra)
      m_workers.push_back(std::move(e));
    return first;
  }

  // Puts one hashed file into the store (FD may be -1: linked by path) and records it.
  Status place(WorkerState& w, int fd, const std::string& rel, const struct stat& st, const Hash& h,
               uint64_t n, ManifestEntry me, bool tier1) {
    struct stat fin {};
    VRIFT_ASSIGN(Placement how, m_store.insert_file(fd, abs(rel), st, h, n, policy(tier1), &fin)
                                    .context("storing '" + abs(rel) + "'"));
    switch (how) {
    case Placement::Existing:
      break;
    case Placement::Link:
      ++w.link;
      break;
    case Placement::Copy:
      ++w.copy;
      break;
    case Placement::Reflink:
      ++w.reflink;
      break;
    case Placement::Move:
      break;
    }
    if (how != Placement::Existing) {
      ++w.new_blobs;
      w.new_bytes += n;
      if (w.placed.size() <= kSyncEachMax) {
        w.placed.push_back(m_store.blob_path(h, n));
        if (m_early) m_early->add(w.placed.back());
      }
    }
    // The identity after placement (linking changes ctime; tier1 may change mode or inode).
    if (tier1 && how == Placement::Existing && ::lstat(abs(rel).c_str(), &fin) != 0) {
      fin = st;
    }
    me.mode = fin.st_mode & 07777;
    me.hash = h;
    me.size = n;
    w.cache.push_back(CacheRecord::from_stat(rel, fin, h));
    count(w, n);
    if (m_opts.mode == IngestMode::Phantom) w.phantom.push_back({abs(rel), h, n, true});
    w.entries.push_back(std::move(me));
    return {};
  }

  Status ingest_file(WorkerState& w, const WalkEntry& e) {
    const CacheRecord* rec = m_cache.find(e.rel);
    const bool tier1 = tier1_file(e);
    w.tier1 += tier1 ? 1 : 0;
    ManifestEntry me;
    me.path = manifest_path_of(e.rel);
    me.type = EntryType::File;
    me.mode = e.st.st_mode & 07777;
    me.size = static_cast<uint64_t>(e.st.st_size);
    me.mtime_ns = fs::ns(e.st.st_mtim);
    if (rec && !m_opts.force_hash && rec->matches(e.st)) {
      me.hash = rec->hash;
      w.hits.push_back(static_cast<uint32_t>(rec - &m_cache.at(0)));
      ++w.cached;
      count(w, me.size);
      if (m_opts.mode == IngestMode::Phantom)
        w.phantom.push_back({abs(e.rel), me.hash, me.size, true});
      w.entries.push_back(std::move(me));
      return {};
    }

    int fd = ::openat(e.dirfd, e.name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
    if (fd < 0 && errno == EPERM) fd = ::openat(e.dirfd, e.name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT)
        return fail("'" + abs(e.rel) + "' vanished while being ingested", ENOENT);
      return fail_os("opening '" + abs(e.rel) + "'");
    }
    UniqueFd guard(fd);
    const struct stat& st = e.st;
    uint64_t n = 0;
    VRIFT_ASSIGN(Hash h, blake3_file(fd, static_cast<uint64_t>(e.st.st_size), &n, w.hash_buf(),
                                     WorkerState::kBufSize)
                             .context("'" + abs(e.rel) + "'"));
    // Same inode, size and mtime after reading as the walk saw: nothing changed underneath.
    struct stat st2 {};
    if (::fstat(fd, &st2) != 0 || st2.st_ino != st.st_ino ||
        n != static_cast<uint64_t>(st.st_size) || st2.st_size != st.st_size ||
        fs::ns(st2.st_mtim) != fs::ns(st.st_mtim)) {
      return fail("'" + abs(e.rel) + "' changed while being read", EAGAIN);
    }
    if (m_opts.mode == IngestMode::Phantom && native_module_name(e.name)) {
      std::vector<std::string> calls = raw_calls_of(fd, n);
      if (!calls.empty()) w.raw_callers.push_back({manifest_path_of(e.rel), std::move(calls)});
    } else if (m_opts.mode == IngestMode::Phantom && (st.st_mode & 0111) != 0) {
      if (const ElfKind k = program_kind(fd, n); k != ElfKind::NotElf)
        w.programs.push_back({manifest_path_of(e.rel), k == ElfKind::Static});
    }
    if (rec && rec->hash != h) {
      // --force-hash: the stat data a cache relies on (size, mtime) said "unchanged", the bytes
      // did not (tools that restore mtimes, coarse timestamps, filesystems without ctime).
      if (m_opts.force_hash && rec->size == n && rec->mtime_ns == fs::ns(st.st_mtim)) {
        w.mismatches.push_back(e.rel);
      }
      // This inode may be a linked blob of the old bytes, edited in place: re-hash that blob
      // now (a same-size edit with a restored mtime escapes the fingerprint).
      if (rec->dev == st.st_dev && rec->ino == st.st_ino) {
        VRIFT_TRY(m_store.revalidate(rec->hash, rec->size)
                      .context("checking the previous content of '" + abs(e.rel) + "'"));
      }
    }
    if (!m_store.shard_ready(h)) {
      // Its shard directory is still being made: link it after the walk.
      m_store.request_shard(h);
      w.deferred.push_back({e.rel, st2, h, n, std::move(me), tier1, UniqueFd()});
      if (m_budget && m_budget->take()) w.deferred.back().fd = std::move(guard);
      return {};
    }
    return place(w, fd, e.rel, st2, h, n, std::move(me), tier1);
  }

  void count(WorkerState& w, uint64_t bytes) {
    ++w.files;
    w.bytes += bytes;
    if (m_prog) {
      m_prog->files.fetch_add(1, std::memory_order_relaxed);
      m_prog->bytes.fetch_add(bytes, std::memory_order_relaxed);
    }
  }

  const IngestOptions& m_opts;
  Store& m_store;
  const IngestCache& m_cache;
  IngestProgress* m_prog;
  std::string m_root, m_prefix, m_skip_rel;
  const PathPatterns& m_ignore;
  const PathPatterns& m_tier1;
  std::vector<std::pair<dev_t, ino_t>> m_skip_dirs;
  std::vector<WorkerState> m_workers;
  FdBudget* m_budget = nullptr; // while run() walks and places
  EarlySync* m_early = nullptr;
};

// What vouches for a registration without opening the registry: the manifest's path and id, the
// identity of vrift's copy of it in the store, and the identity and times of the registry's
// files. Saved after the ingest found or made its row, with the registry closed. Any write to
// the registry (by anyone: another registration, gc's prune, a rebuild) changes its file or its
// WAL, and a registry deleted and created again has a new birth time even where the inode
// number comes back: so while the witness holds, nothing has touched the row. Empty when a file
// it needs is missing.
std::string registration_witness(const std::string& manifest_path, const std::string& id,
                                 const std::string& copy, const std::string& db) {
  std::string w = "vrift-registered 2\n" + manifest_path + "\n" + id + "\n";
  auto add = [&w](const std::string& path, bool may_be_missing) {
    struct statx x {};
    if (::statx(AT_FDCWD, path.c_str(), 0, STATX_BASIC_STATS | STATX_BTIME, &x) != 0)
      return may_be_missing && errno == ENOENT ? (w += "-\n", true) : false;
    w += std::to_string(x.stx_dev_major) + ":" + std::to_string(x.stx_dev_minor) + " " +
         std::to_string(x.stx_ino) + " " + std::to_string(x.stx_size) + " " +
         std::to_string(x.stx_mtime.tv_sec) + "." + std::to_string(x.stx_mtime.tv_nsec) + " " +
         std::to_string(x.stx_ctime.tv_sec) + "." + std::to_string(x.stx_ctime.tv_nsec) + " " +
         ((x.stx_mask & STATX_BTIME)
              ? std::to_string(x.stx_btime.tv_sec) + "." + std::to_string(x.stx_btime.tv_nsec)
              : std::string("?")) +
         "\n";
    return true;
  };
  if (!add(copy, false) || !add(db, false) || !add(db + "-wal", true)) return {};
  return w;
}

// One cache per (store, tree, prefix, mode, tier, filters, output): ingests of one tree with
// other filters (a zero-config run's project config against a plain `vrift ingest`) or into
// another manifest keep their own, instead of each replacing the other's and hashing everything
// again every time they alternate.
std::string cache_key(const std::string& store, const std::string& root, const std::string& prefix,
                      const IngestOptions& o, const std::string& filters,
                      const std::string& manifest) {
  std::string k = store + '\0' + root + '\0' + prefix + '\0' +
                  (o.mode == IngestMode::Phantom ? "p" : "s") +
                  (o.tier == IngestTier::Tier1 ? "1" : "2") + filters + '\0' + manifest;
  return blake3(k).hex().substr(0, 32);
}

// What the ignore and tier1 patterns contribute to the re-ingest cache's validity: a cache made
// under other filters is not trusted (a file that became tier1 must be placed again). Empty
// without patterns, so caches made before patterns existed stay valid.
std::string filter_fingerprint(const IngestOptions& o) {
  if (o.ignore.empty() && o.tier1_paths.empty()) return {};
  std::string f = "filters";
  for (const auto& p : o.ignore)
    f.append(1, '\0').append("i").append(p);
  for (const auto& p : o.tier1_paths)
    f.append(1, '\0').append("t").append(p);
  return std::string(1, '\0') + f;
}

// Phantom re-ingest: entries of the previous manifest whose files are gone (moved into the
// store by the last phantom ingest) stay in the tree; what is physically present wins. Entries
// the ignore patterns now leave out are not carried (PREFIX: where the tree sits in the manifest).
// A directory keeps the larger of its recorded and its present size: moving the files out
// shrinks it on tmpfs, btrfs and xfs (not on ext4), and the projection still lists them.
uint64_t carry_phantom_entries(const std::string& copy_path, const std::string& prefix,
                               const PathPatterns& ignore, std::vector<ManifestEntry>& entries) {
  auto prev = Manifest::open(copy_path);
  if (!prev.ok()) return 0;
  std::unordered_map<std::string_view, size_t> present;
  present.reserve(entries.size() * 2);
  for (size_t i = 0; i < entries.size(); ++i)
    present.emplace(entries[i].path, i);
  std::vector<ManifestEntry> add;
  for (size_t i = 0; i < prev->size(); ++i) {
    EntryView v = prev->at(i);
    if (auto it = present.find(v.path); it != present.end()) {
      ManifestEntry& now = entries[it->second];
      if (now.type == EntryType::Dir && v.type == EntryType::Dir)
        now.size = std::max(now.size, v.size);
      continue;
    }
    if (!ignore.empty()) {
      std::string_view rel = v.path;
      if (!prefix.empty() && rel.substr(0, prefix.size() + 1) == prefix + "/")
        rel.remove_prefix(prefix.size() + 1);
      else if (!prefix.empty())
        rel = {}; // the prefix's own directories
      if (!rel.empty() && ignore.match_path(rel, v.type == EntryType::Dir)) continue;
    }
    ManifestEntry me;
    me.path = std::string(v.path);
    me.type = v.type;
    me.mode = v.mode;
    me.size = v.size;
    me.mtime_ns = v.mtime_ns;
    me.hash = v.hash_value();
    me.target = std::string(v.target);
    add.push_back(std::move(me));
  }
  uint64_t n = add.size();
  for (auto& e : add)
    entries.push_back(std::move(e));
  return n;
}

} // namespace

Result<std::string> normalize_prefix(const std::string& prefix) {
  std::string p = prefix;
  while (!p.empty() && p.back() == '/')
    p.pop_back();
  while (p.rfind("./", 0) == 0)
    p.erase(0, 2);
  if (p.empty() || p == ".") return std::string();
  VRIFT_TRY(validate_manifest_path(p).context("--prefix '" + prefix + "'"));
  return p;
}

namespace {

// How an flock went: taken (perhaps after waiting), refused by the file system (some network
// ones have none: the ingest goes on unlocked), or failed while waiting (errno set).
enum class Flock { kTaken, kUnsupported, kFailed };

// flock(FD, OP), waiting while another process holds a conflicting lock: saying WAITING at once
// with -v, and in any case once the wait has lasted a second (another ingest may be long, or
// stopped with ^Z: a run that waits says why).
Flock take_flock(int fd, int op, const std::string& waiting,
                 std::chrono::steady_clock::time_point t0) {
  if (::flock(fd, op | LOCK_NB) == 0) return Flock::kTaken;
  if (errno != EWOULDBLOCK) return Flock::kUnsupported;
  log::info("ingest: {}", waiting);
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  std::thread notice([&] {
    std::unique_lock<std::mutex> l(m);
    if (!cv.wait_for(l, std::chrono::seconds(1), [&] { return done; }) && log::level() < 1)
      log::warn("{} (a second so far)", waiting);
  });
  int r;
  while ((r = ::flock(fd, op)) != 0 && errno == EINTR) {
  }
  const int err = errno;
  {
    std::lock_guard<std::mutex> l(m);
    done = true;
  }
  cv.notify_one();
  notice.join();
  errno = err;
  if (r != 0) return Flock::kFailed;
  log::debug("ingest: the other ingest is done at {:.1f} ms", since(t0));
  return Flock::kTaken;
}

// The lock file that stands for directory DIR (canonical) in the store at STORE_ROOT: created
// on first use, never removed (a few bytes of inode each), opened read-only (flock needs no
// more, so users sharing a store share its locks). Invalid when it cannot be had.
UniqueFd tree_lock_file(const std::string& store_root, const std::string& dir) {
  const std::string locks = store_root + "/" + kTreeLocksDir;
  const std::string path = locks + "/" + blake3(dir).hex().substr(0, 32);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd.valid() && errno == ENOENT && (::mkdir(locks.c_str(), 0755) == 0 || errno == EEXIST))
    fd.reset(::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd.valid()) log::debug("ingest: no lock file for '{}': {}", dir, std::strerror(errno));
  return fd;
}

// The locks one ingest of ROOT holds: exclusive for ROOT, shared for each directory above it.
// Nested roots then take turns too (`vrift ingest /a` and a zero-config run ingesting /a/b walk
// the same files): an ingest of /a/b waits for the exclusive lock of an ingest of /a, and one of
// /a for the shared locks ingests below it hold, while ingests of /a/b and /a/c share /a's.
// Every ingest takes its locks from the top down, so none waits for one that waits for it. The
// locks are files in the store (store-format.md), not the directories themselves: until session
// 16 the root directory was flocked, and `flock . vrift run -- make` in a project (flock(1) as a
// script's mutex) waited for itself forever. A lock that cannot be had (a read-only store, a file
// system without flock) is passed over, as it was without locks.
Result<std::vector<UniqueFd>> lock_tree(const std::string& store_root, const std::string& root,
                                        std::chrono::steady_clock::time_point t0) {
  // ROOT is canonical: "/a/b" has "/" and "/a" above it, and comes last itself.
  std::vector<std::string> dirs;
  if (root != "/") dirs.emplace_back("/");
  for (size_t end = root.find('/', 1); end != std::string::npos; end = root.find('/', end + 1))
    dirs.push_back(root.substr(0, end));
  dirs.push_back(root);
  std::vector<UniqueFd> locks;
  for (const std::string& dir : dirs) {
    const bool mine = &dir == &dirs.back();
    UniqueFd fd = tree_lock_file(store_root, dir);
    if (!fd.valid()) continue;
    const std::string waiting =
        mine ? "waiting for another ingest of '" + root + "'"
             : "waiting for an ingest of '" + dir + "' (it holds '" + root + "')";
    switch (take_flock(fd.get(), mine ? LOCK_EX : LOCK_SH, waiting, t0)) {
    case Flock::kFailed:
      return fail_os("locking the store's lock file for '" + dir + "'");
    case Flock::kUnsupported:
      log::debug("ingest: '{}' cannot be locked ({}); going on", dir, std::strerror(errno));
      break;
    case Flock::kTaken:
      locks.push_back(std::move(fd));
      break;
    }
  }
  return locks;
}

} // namespace

Result<IngestReport> ingest(const Paths& paths, const IngestOptions& opts,
                            IngestProgress* progress) {
  auto t0 = std::chrono::steady_clock::now();
  IngestReport rep;

  // 1. Inputs.
  struct stat dst {};
  if (::stat(opts.dir.c_str(), &dst) != 0) return fail_os("cannot ingest '" + opts.dir + "'");
  if (!S_ISDIR(dst.st_mode))
    return fail("cannot ingest '" + opts.dir + "': not a directory", ENOTDIR);
  if (::access(opts.dir.c_str(), R_OK | X_OK) != 0)
    return fail_os("cannot ingest '" + opts.dir + "'");
  VRIFT_ASSIGN(rep.root, fs::canonical(opts.dir));
  std::string out = expand_path(opts.output);
  std::string out_dir = fs::dirname(out);
  struct stat ost {};
  if (::stat(out_dir.c_str(), &ost) != 0 || !S_ISDIR(ost.st_mode)) {
    return fail("output directory '" + out_dir + "' does not exist", ENOENT);
  }
  VRIFT_ASSIGN(std::string out_dir_c, fs::canonical(out_dir));
  rep.manifest_path = out_dir_c + "/" + fs::basename(out);
  if (::access(out_dir_c.c_str(), W_OK) != 0)
    return fail_os("cannot write manifest into '" + out_dir_c + "'");
  {
    struct stat mst {};
    if (::stat(rep.manifest_path.c_str(), &mst) == 0 && S_ISDIR(mst.st_mode)) {
      return fail("output '" + rep.manifest_path + "' is a directory", EISDIR);
    }
  }
  VRIFT_ASSIGN(std::string prefix, normalize_prefix(opts.prefix));
  VRIFT_ASSIGN(PathPatterns ignore, PathPatterns::compile(opts.ignore).context("ignore pattern"));
  VRIFT_ASSIGN(PathPatterns tier1,
               PathPatterns::compile(opts.tier1_paths).context("tier1 pattern"));
  std::string skip_rel;
  if (rep.manifest_path.rfind(rep.root + "/", 0) == 0)
    skip_rel = rep.manifest_path.substr(rep.root.size() + 1);
  unsigned threads = opts.jobs ? opts.jobs : std::max(1u, std::thread::hardware_concurrency());
  threads = std::min(threads, 64u);

  // 2. Store, lock, registry, cache.
  VRIFT_ASSIGN(auto store, Store::open(paths.store_root, /*create=*/true));
  // One ingest of a tree at a time. Two at once (zero-config runs of one project started
  // together) each walk what the other is placing: a tier1 file replaced by its link to a blob
  // reads as "changed while being read" (that run failed), and the other's temporary link names
  // (f.js.vrift-link.PID) were taken for project files and left behind. Taken before the store's
  // own lock, so that an ingest waiting for another does not hold up gc.
  VRIFT_ASSIGN(std::vector<UniqueFd> tree_locks, lock_tree(store->root(), rep.root, t0));
  VRIFT_ASSIGN(StoreLock lock, store->lock(/*exclusive=*/false));
  // The registry is opened when this ingest needs it: an unchanged tree whose registration the
  // witness vouches for never does (SQLite's open is a third of a zero-config re-run).
  Registry registry;
  bool registry_open = false;
  auto open_registry = [&]() -> Status {
    if (!registry_open) {
      VRIFT_ASSIGN(registry, Registry::open(paths.registry_db()));
      registry_open = true;
    }
    return {};
  };
  const std::string filters = filter_fingerprint(opts);
  std::string cache_path =
      paths.ingest_cache_dir() + "/" +
      cache_key(store->root(), rep.root, prefix, opts, filters, rep.manifest_path) + ".cache";
  // The cache vouches for blobs being in the store: it is only trusted for the same store and
  // the same quarantine state (a quarantined blob must be stored again from its file).
  // So are the ignore and tier1 patterns it was made under.
  std::string cache_id = blake3(store->generation() + filters).hex().substr(0, 32);
  IngestCache cache = IngestCache::load(cache_path, cache_id);
  // A small tree seen before (a zero-config re-run): one thread. Its walk takes about a
  // millisecond, less than starting a thread (and its malloc arena) costs.
  if (!opts.jobs && cache.size() > 0 && cache.size() < kSmallTreeFiles) threads = 1;

  log::debug("ingest: store and cache ready at {:.1f} ms", since(t0));
  // 3. Walk, hash, place.
  Ingester ing(opts, *store, cache, progress, rep.root, prefix, skip_rel, ignore, tier1);
  EarlySync early(cache.size() > 0 && opts.mode != IngestMode::Phantom);
  ing.set_early_sync(&early);
  for (const std::string& d : {store->root(), paths.home}) {
    struct stat s {};
    if (::stat(d.c_str(), &s) == 0) ing.add_skip_dir(s.st_dev, s.st_ino);
  }
  VRIFT_TRY(ing.run(threads));

  std::vector<ManifestEntry> entries;
  std::vector<CacheRecord> new_records;
  std::vector<uint32_t> hits;
  std::vector<PhantomItem> phantom;
  std::vector<std::string> placed;
  {
    size_t ne = 0, nn = 0, nh = 0;
    for (const auto& w : ing.workers()) {
      ne += w.entries.size();
      nn += w.cache.size();
      nh += w.hits.size();
    }
    entries.reserve(ne + 8);
    new_records.reserve(nn);
    hits.reserve(nh);
  }
  for (auto& w : ing.workers()) {
    rep.files += w.files;
    rep.dirs += w.dirs;
    rep.symlinks += w.symlinks;
    rep.bytes += w.bytes;
    rep.new_blobs += w.new_blobs;
    rep.new_bytes += w.new_bytes;
    rep.cached += w.cached;
    rep.placed_link += w.link;
    rep.placed_copy += w.copy;
    rep.placed_reflink += w.reflink;
    rep.tier1_files += w.tier1;
    std::move(w.entries.begin(), w.entries.end(), std::back_inserter(entries));
    std::move(w.cache.begin(), w.cache.end(), std::back_inserter(new_records));
    hits.insert(hits.end(), w.hits.begin(), w.hits.end());
    std::move(w.excluded.begin(), w.excluded.end(), std::back_inserter(rep.excluded));
    std::move(w.mismatches.begin(), w.mismatches.end(), std::back_inserter(rep.mismatches));
    std::move(w.raw_callers.begin(), w.raw_callers.end(), std::back_inserter(rep.raw_callers));
    std::move(w.programs.begin(), w.programs.end(), std::back_inserter(rep.programs));
    std::move(w.phantom.begin(), w.phantom.end(), std::back_inserter(phantom));
    std::move(w.placed.begin(), w.placed.end(), std::back_inserter(placed));
    w = WorkerState();
  }
  std::sort(rep.excluded.begin(), rep.excluded.end(),
            [](auto& a, auto& b) { return a.path < b.path; });
  std::sort(rep.mismatches.begin(), rep.mismatches.end());
  std::sort(rep.raw_callers.begin(), rep.raw_callers.end(),
            [](auto& a, auto& b) { return a.path < b.path; });
  std::sort(rep.programs.begin(), rep.programs.end(),
            [](auto& a, auto& b) { return a.path < b.path; });
  if (!prefix.empty()) {
    // The prefix's own directories, with the root's metadata.
    std::string acc;
    size_t pos = 0;
    while (pos != std::string::npos) {
      size_t next = prefix.find('/', pos);
      acc = prefix.substr(0, next);
      ManifestEntry me;
      me.path = acc;
      me.type = EntryType::Dir;
      me.mode = dst.st_mode & 07777;
      me.mtime_ns = fs::ns(dst.st_mtim); // size 0: a prefix directory holds one entry
      entries.push_back(std::move(me));
      pos = next == std::string::npos ? next : next + 1;
    }
  }

  // Phantom re-ingest keeps what only exists through vrift.
  std::string copy_path = manifest_copy_path(paths.manifest_copies_dir(), rep.manifest_path);
  if (opts.mode == IngestMode::Phantom)
    rep.carried = carry_phantom_entries(copy_path, prefix, ignore, entries);

  log::debug("ingest: placement done at {:.1f} ms", since(t0));
  // 4. The manifest, and whether anything needs writing at all. An unchanged tree gives
  // identical bytes: then the manifest, vrift's copy and the registry row are already what we
  // would write, and rewriting them costs only fsyncs. Whether the bytes are identical is known
  // without building them when the cache's stamp says the file on disk is the one an earlier
  // ingest built from the same entries (about a fifth of a small tree's re-ingest).
  const Hash tree = entries_digest(entries, rep.root);
  std::string bytes;
  std::optional<Status> built; // entries are moved into the manifest: build at most once
  auto build = [&]() -> Status {
    if (!built) {
      auto b = serialize_manifest(std::move(entries), rep.root).context("building manifest");
      if (b.ok()) {
        bytes = std::move(*b);
        // serialize_manifest wrote the id into the header: read it there instead of validating
        // the bytes we just produced all over again.
        std::memcpy(rep.manifest_id.bytes.data(), bytes.data() + offsetof(ManifestHeader, id), 32);
        built = Status{};
      } else {
        built = Status(fail(std::move(b).error()));
      }
    }
    return *built;
  };
  auto same_bytes = [&](const std::string& path) {
    auto old = fs::read_file(path);
    return old.ok() && *old == bytes;
  };
  bool unchanged = false;
  const ManifestStamp& was = cache.stamp();
  if (opts.mode != IngestMode::Phantom && !opts.force_hash && was.valid && was.tree == tree &&
      ManifestStamp::of(rep.manifest_path, tree, was.header).same(was)) {
    unchanged = true;
    std::memcpy(rep.manifest_id.bytes.data(), was.header.data() + offsetof(ManifestHeader, id), 32);
    log::debug("ingest: the manifest on disk was built from these entries");
  } else {
    VRIFT_TRY(build());
    unchanged = same_bytes(rep.manifest_path);
  }
  const std::string witness_path = cache_path.substr(0, cache_path.size() - 6) + ".registered";
  auto witness_now = [&] {
    return registration_witness(rep.manifest_path, rep.manifest_id.hex(), copy_path,
                                paths.registry_db());
  };
  bool registered = false, witnessed = false;
  if (unchanged && opts.register_project) {
    std::string w = witness_now();
    auto saved = fs::read_file(witness_path);
    witnessed = !w.empty() && saved.ok() && *saved == w;
    registered = witnessed;
    if (!registered && build().ok() && same_bytes(copy_path)) {
      VRIFT_TRY(open_registry());
      if (auto rows = registry.list(store->root()); rows.ok()) {
        for (const auto& r : *rows) {
          registered = registered || (r.manifest_path == rep.manifest_path &&
                                      r.manifest_id == rep.manifest_id.hex());
        }
      }
    }
  }

  // 5. Blobs durable before any manifest names them. When this run placed no blob and writes no
  // manifest (the repeated ingest of an unchanged tree), the ingest that wrote the manifest
  // already synced every blob it names: skipping syncfs keeps a re-run in milliseconds even
  // while other programs leave the filesystem full of dirty pages.
  // An early fsync that failed fails the ingest whichever way the rest is synced: a syncfs on a
  // descriptor opened after a write-back error does not report it.
  auto early_synced = early.finish();
  if (!early_synced.ok())
    return fail(std::move(early_synced).error().context("syncing store '" + store->root() + "'"));
  if (rep.new_blobs > 0 && rep.new_blobs <= kSyncEachMax && placed.size() == rep.new_blobs &&
      opts.mode != IngestMode::Phantom) {
    VRIFT_TRY(sync_each(placed, *early_synced).context("syncing store '" + store->root() + "'"));
    log::debug("ingest: fsync of {} new blob{} ({} while the walk went on) and their directories "
               "done at {:.1f} ms",
               placed.size(), placed.size() == 1 ? "" : "s", early_synced->size(), since(t0));
  } else if (rep.new_blobs > 0 || !unchanged || !registered || opts.mode == IngestMode::Phantom) {
    UniqueFd sfd(::open(store->root().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!sfd.valid() || ::syncfs(sfd.get()) != 0)
      return fail_os("syncing store '" + store->root() + "'");
    log::debug("ingest: syncfs done at {:.1f} ms", since(t0));
  }

  // 6. Manifest, copy, registration.
  if (!unchanged) {
    VRIFT_TRY(fs::write_file_atomic(rep.manifest_path, bytes, 0644).context("writing manifest"));
  }
  // The file now holds the manifest of these entries (written, or found identical): stamped for
  // the next ingest. Not for phantom, whose entries depend on what the last one carried.
  ManifestStamp stamp;
  if (opts.mode != IngestMode::Phantom) {
    std::array<uint8_t, ManifestStamp::kHeaderBytes> header = was.header;
    if (built && built->ok()) std::memcpy(header.data(), bytes.data(), header.size());
    stamp = ManifestStamp::of(rep.manifest_path, tree, header);
  }
  if (opts.register_project && !registered) {
    ProjectRecord rec;
    rec.store = store->root();
    rec.root = rep.root;
    rec.manifest_path = rep.manifest_path;
    rec.manifest_id = rep.manifest_id.hex();
    rec.mode = opts.mode == IngestMode::Phantom ? "phantom" : "solid";
    rec.tier = opts.tier == IngestTier::Tier1 ? "tier1" : "tier2";
    rec.prefix = prefix;
    rec.files = rep.files;
    rec.bytes = rep.bytes;
    rec.registered_ns = rec.updated_ns = now_ns();
    VRIFT_TRY(build());
    VRIFT_TRY(open_registry());
    VRIFT_TRY(register_manifest(registry, paths.manifest_copies_dir(), rec, bytes));
    registered = true;
  }
  if (opts.register_project && registered && !witnessed) {
    // Best effort, like the cache: without it the next run asks the registry. Taken with the
    // registry closed (closing may checkpoint its WAL into the file).
    registry = Registry();
    std::string w = witness_now();
    if (!w.empty() && fs::mkdir_p(fs::dirname(witness_path), 0755).ok())
      (void)fs::write_file_atomic(witness_path, w, 0644, /*durable=*/false);
  }

  // 7. Phantom: the store owns the content now; remove the project's files.
  if (opts.mode == IngestMode::Phantom) {
    for (const auto& p : phantom) {
      if (p.is_file) VRIFT_TRY(store->make_owned(p.hash, p.size, p.abs).context("phantom"));
    }
    {
      UniqueFd sfd(::open(store->root().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (sfd.valid()) ::syncfs(sfd.get());
    }
    // The manifest has no entry for the root itself: a projection takes the root's metadata
    // from the directory, so keep its times as they were before the files left it.
    struct stat root_st {};
    const bool have_root = ::stat(rep.root.c_str(), &root_st) == 0;
    for (const auto& p : phantom) {
      if (::unlink(p.abs.c_str()) == 0)
        ++rep.removed;
      else if (errno != ENOENT)
        return fail_os("removing '" + p.abs + "' after phantom ingest");
    }
    if (have_root) {
      const struct timespec times[2] = {root_st.st_atim, root_st.st_mtim};
      (void)::utimensat(AT_FDCWD, rep.root.c_str(), times, 0);
    }
    new_records.clear(); // nothing physical left to cache
    hits.clear();
  }

  log::debug("ingest: manifest and registry done at {:.1f} ms", since(t0));
  // 8. Cache (best effort).
  const std::string loaded_id = cache_id;
  cache_id = blake3(store->generation() + filters).hex().substr(0, 32); // quarantines meanwhile
  // Every record of the loaded cache was used as it was, and nothing else came in: the file on
  // disk already says all this (a repeated zero-config run then writes nothing).
  const bool same_cache = cache_id == loaded_id && cache.size() > 0 &&
                          hits.size() == cache.size() && new_records.empty() &&
                          stamp.same(cache.stamp());
  if (same_cache) {
    log::debug("ingest: the re-ingest cache is unchanged");
  } else {
    std::vector<CacheRecord> records = std::move(new_records);
    records.reserve(records.size() + hits.size());
    for (uint32_t i : hits)
      records.push_back(cache.at(i));
    // A test hook: the write held up, so that a run that does not wait for it loses it.
    const char* delay =
        opts.cache_in_background ? std::getenv("VRIFT_TEST_CACHE_DELAY_MS") : nullptr;
    auto save = [t0, path = std::move(cache_path), id = std::move(cache_id),
                 records = std::move(records), stamp, delay_ms = delay ? std::atoi(delay) : 0] {
      if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      if (auto s = IngestCache::save(path, id, records, stamp); !s.ok())
        log::info("not saving the ingest cache: {}", s.error().message());
      log::debug("ingest: the re-ingest cache saved at {:.1f} ms", since(t0));
    };
    if (opts.cache_in_background) {
      rep.cache_writer.reset(new std::thread(std::move(save)), [](std::thread* t) {
        t->join();
        delete t;
      });
    } else {
      save();
    }
  }
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

} // namespace vrift

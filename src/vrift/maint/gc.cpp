#include "vrift/maint/gc.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <set>

#include "vrift/daemon/journal.h"
#include "vrift/maint/projects.h"
#include "vrift/util/fs.h"

namespace vrift {

namespace {

// Drops registrations whose manifest file or project root is gone, with vrift's copy.
Status prune(Registry& reg, std::vector<LiveProject>& projects, GcReport& rep) {
  std::vector<LiveProject> keep;
  for (auto& p : projects) {
    if (!p.stale()) {
      keep.push_back(std::move(p));
      continue;
    }
    VRIFT_TRY(reg.remove(p.rec.seq));
    ::unlink(p.rec.copy_path.c_str());
    std::string sidecar = p.rec.copy_path;
    if (sidecar.size() > 9) sidecar = sidecar.substr(0, sidecar.size() - 9) + ".json";
    ::unlink(sidecar.c_str());
    rep.pruned.push_back(p.rec.root + " -> " + p.rec.manifest_path + " (" +
                         (p.root_gone ? "project directory gone" : "manifest gone") + ")");
  }
  projects = std::move(keep);
  return {};
}

} // namespace

Result<GcReport> run_gc(const Paths& paths, const GcOptions& opts) {
  GcReport rep;
  rep.store = paths.store_root;
  auto opened = Store::open(paths.store_root, /*create=*/false);
  if (!opened.ok()) {
    if (::access(paths.store_root.c_str(), F_OK) != 0) {
      rep.store_missing = true;
      return rep;
    }
    return fail(std::move(opened).error());
  }
  Store& store = **opened;
  // Deleting (blobs or registrations) happens under the exclusive lock; a dry run only reads.
  StoreLock lock;
  if (opts.do_delete || opts.prune_stale) {
    VRIFT_ASSIGN(lock, store.lock_for(/*exclusive=*/true, opts.lock_timeout_ms));
  }
  VRIFT_ASSIGN(Registry reg, Registry::open(paths.registry_db()));
  VRIFT_ASSIGN(auto projects, load_projects(reg, store.root()));
  if (opts.prune_stale) VRIFT_TRY(prune(reg, projects, rep));

  BlobSet live;
  for (const auto& p : projects) {
    ++rep.manifests;
    if (p.stale()) ++rep.stale;
    if (p.manifest) {
      add_references(*p.manifest, live);
    } else {
      ++rep.unloadable;
      rep.unloadable_names.push_back(p.rec.manifest_path + ": " + p.load_error);
    }
  }
  // Commits a session journaled but has not checkpointed into its manifest yet.
  if (DIR* jd = ::opendir(paths.daemon_journal_dir().c_str())) {
    while (dirent* e = ::readdir(jd)) {
      std::string name = e->d_name;
      if (name.size() < 9 || name.substr(name.size() - 8) != ".journal") continue;
      auto recs = read_journal(paths.daemon_journal_dir() + "/" + name);
      if (!recs.ok()) continue;
      for (const auto& r : *recs) {
        if (r.op == JournalOp::Put && r.entry.type == EntryType::File) {
          live.insert(BlobKey{r.entry.hash, r.entry.size});
        }
      }
    }
    ::closedir(jd);
  }
  if (rep.unloadable && opts.do_delete) {
    return fail("not deleting anything: " + std::to_string(rep.unloadable) +
                " registered manifest(s) cannot be read, so what they reference is unknown (" +
                rep.unloadable_names.front() + ")");
  }
  rep.referenced = live.size();

  int64_t now = static_cast<int64_t>(::time(nullptr));
  std::set<std::string> touched_dirs;
  Status walk = store.for_each_blob([&](const BlobInfo& b, const struct stat& st) {
    ++rep.blobs;
    rep.blob_bytes += b.size;
    if (live.count(BlobKey{b.hash, b.size})) return;
    ++rep.orphans;
    rep.orphan_bytes += b.size;
    // ctime: when the blob was linked into the store (or last changed).
    if (opts.older_than_s && now - st.st_ctim.tv_sec < *opts.older_than_s) return;
    ++rep.eligible;
    rep.eligible_bytes += b.size;
    if (!opts.do_delete) return;
    if (::unlink(b.path.c_str()) != 0) return;
    ++rep.deleted;
    if (st.st_nlink == 1) {
      rep.freed_bytes += b.size;
    } else {
      ++rep.deleted_linked;
    }
    touched_dirs.insert(fs::dirname(b.path));
  });
  VRIFT_TRY(walk);
  // Empty shard directories go too (leaf first, then its parent).
  for (const auto& leaf : touched_dirs) {
    if (::rmdir(leaf.c_str()) == 0) {
      ++rep.dirs_removed;
      if (::rmdir(fs::dirname(leaf).c_str()) == 0) ++rep.dirs_removed;
    }
  }
  if (rep.deleted) {
    UniqueFd sfd(::open(store.root().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (sfd.valid()) ::syncfs(sfd.get());
  }
  return rep;
}

} // namespace vrift

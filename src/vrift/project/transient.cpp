#include "vrift/project/transient.h"

#include <cerrno>

#include <sys/stat.h>
#include <unistd.h>

#include "vrift/hash/blake3.h"
#include "vrift/manifest/manifest.h"
#include "vrift/registry/registry.h"
#include "vrift/util/fs.h"
#include "vrift/util/log.h"

namespace vrift::project {

namespace {

// Whether MANIFEST (an existing <root>/vrift.manifest, no vrift.toml) may be rewritten by a
// transient ingest of ROOT: only when it is an ingest of ROOT itself, not of a subtree or under
// a prefix. Its registered mode and tier win over the defaults: re-ingesting a phantom project
// as solid would drop every entry that only lives in the store.
bool adopt_manifest(const Paths& paths, const std::string& manifest, const std::string& root,
                    ProjectConfig& config, IngestTier& tier) {
  auto m = Manifest::open(manifest);
  if (!m.ok() || m->origin() != root) return false;
  auto reg = Registry::open(paths.registry_db());
  if (!reg.ok()) return true;
  auto rows = reg->list(paths.store_root);
  if (!rows.ok()) return true;
  for (const ProjectRecord& r : *rows) {
    if (r.manifest_path != manifest) continue;
    if (!r.prefix.empty() || r.root != root) return false;
    if (r.mode == "phantom") config.mode = IngestMode::Phantom;
    if (r.tier == "tier1") tier = IngestTier::Tier1;
  }
  return true;
}

// `.vrift/` is vrift's, not the project's: a `.gitignore` in it that ignores everything keeps it
// out of `git status` and `git add -A` without touching the project's own ignore files (as
// pytest's and mypy's caches do). Written once, atomically; best effort (a failure changes
// nothing but what git shows).
void ignore_for_git(const std::string& dir) {
  const std::string path = dir + "/.gitignore";
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 || errno != ENOENT) return;
  (void)fs::write_file_atomic(path, "# Created by vrift: its run state for this project.\n*\n",
                              0644,
                              /*durable=*/false);
}

// Where a transient ingest of ROOT writes its manifest (see prepare_transient).
Result<std::string> choose_manifest(const Paths& paths, const std::string& root,
                                    ProjectConfig& config, IngestTier& tier) {
  if (!config.file.empty()) return manifest_path(config, root);
  std::string mine = root + "/" + kManifestFile;
  struct stat st {};
  if (::lstat(mine.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
      adopt_manifest(paths, mine, root, config, tier)) {
    return mine;
  }
  std::string dir = root + "/.vrift";
  if (fs::mkdir_p(dir, 0755).ok() && ::access(dir.c_str(), W_OK) == 0) {
    ignore_for_git(dir);
    return dir + "/run.manifest";
  }
  // A project we may not write into: the manifest lives with vrift's own files.
  std::string alt = paths.home + "/run";
  VRIFT_TRY(fs::mkdir_p(alt, 0700).context("transient manifest"));
  return alt + "/" + blake3(root).hex().substr(0, 32) + ".manifest";
}

} // namespace

IngestOptions ingest_options(const ProjectConfig& config, const std::string& root,
                             const std::string& manifest) {
  IngestOptions o;
  o.dir = root;
  o.output = manifest;
  o.mode = config.mode;
  o.tier = IngestTier::Tier2;
  o.security_filter = config.security_filter;
  o.ignore = config.ignore;
  o.tier1_paths = config.tier1;
  return o;
}

Result<Prepared> transient_target(const Paths& paths, const std::string& root) {
  Prepared p;
  VRIFT_ASSIGN(p.root, fs::canonical(root).context("project root"));
  VRIFT_ASSIGN(p.detection, detect(p.root));
  VRIFT_ASSIGN(p.config, load_config(p.root, p.detection));
  VRIFT_ASSIGN(p.manifest_path, choose_manifest(paths, p.root, p.config, p.tier));
  return p;
}

Result<Prepared> prepare_transient(const Paths& paths, const std::string& root,
                                   IngestProgress* progress) {
  VRIFT_ASSIGN(Prepared target, transient_target(paths, root));
  return prepare_transient(paths, std::move(target), progress);
}

Result<Prepared> prepare_transient(const Paths& paths, Prepared target, IngestProgress* progress) {
  Prepared p = std::move(target);
  IngestOptions o = ingest_options(p.config, p.root, p.manifest_path);
  o.tier = p.tier;
  o.cache_in_background = p.cache_in_background;
  VRIFT_ASSIGN(p.report, ingest(paths, o, progress).context("ingesting project '" + p.root + "'"));
  const IngestReport& r = p.report;
  log::info("project {} ({}): {} files, {} unchanged, {} new blobs, {} left out, {:.1f} ms -> {}",
            p.root, p.config.file.empty() ? "no vrift.toml, defaults" : p.config.file, r.files,
            r.cached, r.new_blobs, r.excluded.size(), r.seconds * 1000, p.manifest_path);
  return p;
}

} // namespace vrift::project

#include "vrift/run/projection.h"

#include <sys/stat.h>
#include <unistd.h>

#include "vrift/registry/registry.h"
#include "vrift/util/fs.h"

namespace vrift::run {

Result<std::string> registered_prefix(const Paths& paths, const std::string& manifest_path) {
  if (::access(paths.registry_db().c_str(), F_OK) != 0) return std::string();
  VRIFT_ASSIGN(Registry reg, Registry::open(paths.registry_db()));
  VRIFT_ASSIGN(auto rows, reg.list(paths.store_root));
  // Ingest records the manifest's canonical directory plus its name; a checkpoint the same.
  std::string dir_form = manifest_path;
  if (auto d = fs::canonical(fs::dirname(manifest_path)); d.ok())
    dir_form = *d + "/" + fs::basename(manifest_path);
  for (const auto& r : rows) {
    if (r.manifest_path == manifest_path || r.manifest_path == dir_form) return r.prefix;
  }
  return std::string();
}

namespace {

// Whether MANIFEST may have been ingested with --prefix P: then every entry is P or below it, so
// all share their first component C, and the origin ends in ".../P", so C is one of its
// components. Only then is the registry (an SQLite open, ~1 ms) asked for the prefix. The origin
// is looked at first: the entries are loaded (checked) only when it passes.
Result<bool> may_have_prefix(Manifest& m) {
  if (m.size() == 0) return false;
  const std::string first(m.at(0).path);
  const std::string c = first.substr(0, first.find('/'));
  const std::string origin(m.origin());
  const std::string mid = "/" + c + "/", tail = "/" + c;
  if (origin.find(mid) == std::string::npos &&
      (origin.size() < tail.size() ||
       origin.compare(origin.size() - tail.size(), tail.size(), tail) != 0))
    return false;
  VRIFT_TRY(m.load_entries());
  for (size_t i = 0; i < m.size(); ++i) {
    const std::string_view p = m.at(i).path;
    if (p.size() < c.size() || p.compare(0, c.size(), c) != 0 ||
        (p.size() > c.size() && p[c.size()] != '/'))
      return false;
  }
  return true;
}

} // namespace

Result<PlannedProjection> plan_projection(const Paths& paths, const ProjectionRequest& req) {
  PlannedProjection p;
  std::string given = expand_path(req.manifest);
  {
    struct stat st {};
    if (::stat(given.c_str(), &st) != 0) return fail_os("manifest '" + req.manifest + "'");
    if (!S_ISREG(st.st_mode))
      return fail("manifest '" + req.manifest + "' is not a regular file", EINVAL);
  }
  VRIFT_ASSIGN(p.manifest_path, fs::canonical(given));
  // Lazy: the daemon validates the whole file when it opens the session (before anything is
  // created from it), and a full check here cost ~3 ms per run on a 10k-entry manifest; the
  // entries are checked (shallow) only if a later step reads them (load_entries).
  VRIFT_ASSIGN(p.manifest, Manifest::open_lazy(p.manifest_path));
  std::string root;
  if (!req.at.empty()) {
    root = expand_path(req.at);
  } else {
    VRIFT_ASSIGN(bool maybe,
                 may_have_prefix(p.manifest).context("loading manifest '" + p.manifest_path + "'"));
    if (maybe) {
      VRIFT_ASSIGN(p.prefix,
                   registered_prefix(paths, p.manifest_path)
                       .context("looking up manifest '" + req.manifest + "' in the registry"));
    }
    VRIFT_ASSIGN(
        root,
        default_root(p.manifest.origin(), p.prefix).context("manifest '" + req.manifest + "'"));
  }
  struct stat st {};
  if (::stat(root.c_str(), &st) != 0) {
    if (!req.at.empty()) return fail_os("--at '" + req.at + "'");
    return fail_os("manifest '" + req.manifest + "' projects at '" + root +
                   "' (where it was ingested from; --at DIR projects it elsewhere)");
  }
  if (!S_ISDIR(st.st_mode))
    return fail("projection root '" + root + "' is not a directory", ENOTDIR);
  VRIFT_ASSIGN(p.root, fs::canonical(root));
  return p;
}

Status load_entries(std::vector<PlannedProjection>& ps) {
  for (auto& p : ps)
    VRIFT_TRY(p.manifest.load_entries().context("loading manifest '" + p.manifest_path + "'"));
  return {};
}

} // namespace vrift::run

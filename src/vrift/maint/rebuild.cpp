#include "vrift/maint/rebuild.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <memory>

#include "vrift/manifest/manifest.h"
#include "vrift/registry/registry.h"
#include "vrift/util/fs.h"

namespace vrift {

namespace {

// Opens the registry, moving a damaged one aside first.
Result<Registry> open_or_replace(const std::string& db, RebuildReport& rep) {
  auto reg = Registry::open(db);
  if (reg.ok()) {
    auto check = reg->integrity_check();
    if (check.ok() && *check == "ok") return reg;
  }
  reg = Registry(); // close it before moving the files
  std::string aside = db + ".corrupt-" + std::to_string(::time(nullptr));
  if (::rename(db.c_str(), aside.c_str()) != 0) return fail_os("moving '" + db + "' aside");
  rep.moved_aside = aside;
  for (const char* ext : {"-wal", "-shm", "-journal"})
    ::unlink((db + ext).c_str());
  return Registry::open(db);
}

} // namespace

Result<RebuildReport> rebuild_registry(const Paths& paths) {
  RebuildReport rep;
  std::string dir = paths.manifest_copies_dir();
  std::vector<ProjectRecord> found;
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d && errno != ENOENT) return fail_os("listing '" + dir + "'");
  while (d) {
    dirent* e = ::readdir(d.get());
    if (!e) break;
    std::string name = e->d_name;
    if (name.size() < 6 || name.substr(name.size() - 5) != ".json") continue;
    std::string side = dir + "/" + name;
    std::string copy = side.substr(0, side.size() - 5) + ".manifest";
    auto text = fs::read_file(side);
    if (!text.ok()) {
      rep.skipped.push_back(side + ": " + text.error().message());
      continue;
    }
    auto rec = parse_project_sidecar(*text);
    if (!rec.ok()) {
      rep.skipped.push_back(side + ": " + rec.error().message());
      continue;
    }
    auto m = Manifest::open(copy);
    if (!m.ok()) {
      rep.skipped.push_back(copy + ": " + m.error().message());
      continue;
    }
    rec->store = paths.store_root;
    rec->copy_path = copy;
    rec->manifest_id = m->id().hex();
    found.push_back(std::move(rec).value());
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    return a.registered_ns != b.registered_ns ? a.registered_ns < b.registered_ns
                                              : a.manifest_path < b.manifest_path;
  });
  VRIFT_ASSIGN(Registry reg, open_or_replace(paths.registry_db(), rep));
  VRIFT_TRY(reg.remove_store(paths.store_root));
  for (auto& r : found) {
    VRIFT_TRY(reg.upsert(r));
    rep.recovered.push_back(r.root);
  }
  return rep;
}

} // namespace vrift

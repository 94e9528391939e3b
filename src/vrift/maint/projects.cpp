#include "vrift/maint/projects.h"

#include <fcntl.h>
#include <unistd.h>

namespace vrift {

Result<std::vector<LiveProject>> load_projects(const Registry& reg, const std::string& store_root) {
  VRIFT_ASSIGN(auto rows, reg.list(store_root));
  std::vector<LiveProject> out;
  out.reserve(rows.size());
  for (auto& r : rows) {
    LiveProject p;
    p.rec = std::move(r);
    p.manifest_gone = ::access(p.rec.manifest_path.c_str(), F_OK) != 0;
    p.root_gone = ::access(p.rec.root.c_str(), F_OK) != 0;
    // vrift's own copy is authoritative (the user may have edited or moved theirs).
    auto m = Manifest::open(p.rec.copy_path);
    if (!m.ok() && !p.manifest_gone) m = Manifest::open(p.rec.manifest_path);
    if (m.ok()) {
      p.manifest = std::move(m).value();
    } else {
      p.load_error = m.error().message();
    }
    out.push_back(std::move(p));
  }
  return out;
}

void add_references(const Manifest& m, BlobSet& out) {
  for (size_t i = 0; i < m.size(); ++i) {
    EntryView e = m.at(i);
    if (e.type == EntryType::File) out.insert(BlobKey{e.hash_value(), e.size});
  }
}

Result<std::vector<BlobKey>> list_blobs(const Store& store) {
  std::vector<BlobKey> out;
  VRIFT_TRY(store.for_each_blob(
      [&](const BlobInfo& b, const struct stat&) {
        out.push_back(BlobKey{b.hash, b.size});
      },
      nullptr,
      /*with_stat=*/false));
  return out;
}

} // namespace vrift

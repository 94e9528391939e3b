#include "vrift/maint/projects.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <memory>

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
  std::string base = store.root() + "/blake3";
  std::unique_ptr<DIR, int (*)(DIR*)> top(::opendir(base.c_str()), ::closedir);
  if (!top) return fail_os("listing '" + base + "'");
  while (dirent* d1 = ::readdir(top.get())) {
    if (d1->d_name[0] == '.') continue;
    std::string p1 = base + "/" + d1->d_name;
    std::unique_ptr<DIR, int (*)(DIR*)> mid(::opendir(p1.c_str()), ::closedir);
    if (!mid) continue;
    while (dirent* d2 = ::readdir(mid.get())) {
      if (d2->d_name[0] == '.') continue;
      std::string p2 = p1 + "/" + d2->d_name;
      std::unique_ptr<DIR, int (*)(DIR*)> leaf(::opendir(p2.c_str()), ::closedir);
      if (!leaf) continue;
      while (dirent* d3 = ::readdir(leaf.get())) {
        BlobKey k;
        if (Store::parse_blob_name(d3->d_name, k.hash, k.size)) out.push_back(k);
      }
    }
  }
  return out;
}

}  // namespace vrift

// What the maintenance commands (status, gc, doctor, registry, clean) share: the registered
// projects of one store with their manifests loaded, and the set of blobs they reference.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "vrift/config/paths.h"
#include "vrift/manifest/manifest.h"
#include "vrift/registry/registry.h"
#include "vrift/store/store.h"
#include "vrift/util/result.h"

namespace vrift {

/// A blob's identity: content hash and size (the two parts of its name).
struct BlobKey {
  Hash hash;
  uint64_t size = 0;
  bool operator==(const BlobKey& o) const { return hash == o.hash && size == o.size; }
};
struct BlobKeyHasher {
  size_t operator()(const BlobKey& k) const { return HashHasher{}(k.hash) ^ k.size; }
};
using BlobSet = std::unordered_set<BlobKey, BlobKeyHasher>;

struct LiveProject {
  ProjectRecord rec;
  std::optional<Manifest> manifest; ///< vrift's copy (or the user's file if the copy is gone)
  std::string load_error;           ///< why no manifest could be loaded ("" when loaded)
  bool manifest_gone = false;       ///< the user's manifest file no longer exists
  bool root_gone = false;           ///< the ingested directory no longer exists
  bool stale() const { return manifest_gone || root_gone; }
};

/// Loads every registered project of STORE_ROOT, in registration order. A manifest that cannot
/// be loaded is reported in load_error, not as a failure: gc must then refuse to delete.
Result<std::vector<LiveProject>> load_projects(const Registry& reg, const std::string& store_root);

/// Adds every file blob of M to OUT.
void add_references(const Manifest& m, BlobSet& out);

/// Every blob in the store (from the names alone: no stat), with its size.
Result<std::vector<BlobKey>> list_blobs(const Store& store);

} // namespace vrift

// Fuzz target for the manifest reader. Any input must either fail with one non-empty line or
// load into a manifest whose every entry reads back, is found at its own index, diffs empty
// against itself, and re-serialises to the very same bytes (the format has one encoding per
// tree, so the reader accepting a file the writer would not produce is a bug too).
// Random mutations rarely keep the body checksum right, so each input also runs "sealed": with
// the checksum recomputed, which lets the fuzzer reach the per-entry checks behind it; and when
// only the id is then wrong, once more with the id recomputed, so mutated trees load too.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "vrift/hash/blake3.h"
#include "vrift/manifest/manifest.h"

namespace {

[[noreturn]] void fail_check(const char* what) {
  std::fprintf(stderr, "manifest_fuzz: %s\n", what);
  std::abort();
}

constexpr const char* kIdMismatch = "manifest is corrupt: its id does not match its entries";

// Called only when every check but the id passed, so all records and strings are in bounds.
std::string with_recomputed_id(std::string bytes) {
  using namespace vrift;
  ManifestHeader h;
  std::memcpy(&h, bytes.data(), sizeof h);
  const char* records = bytes.data() + kManifestHeaderSize;
  const char* arena = records + h.entry_count * kManifestEntrySize;
  std::vector<ManifestEntry> entries;
  for (size_t i = 0; i < h.entry_count; ++i) {
    ManifestEntryRaw r;
    std::memcpy(&r, records + i * kManifestEntrySize, sizeof r);
    ManifestEntry e;
    e.path.assign(arena + r.path_off, r.path_len);
    e.target.assign(r.target_len ? arena + r.target_off : "", r.target_len);
    e.type = static_cast<EntryType>(r.type);
    e.mode = r.mode;
    std::memcpy(e.hash.bytes.data(), r.hash, sizeof r.hash);
    entries.push_back(std::move(e));
  }
  Hash id = manifest_id(entries);
  std::memcpy(bytes.data() + offsetof(ManifestHeader, id), id.bytes.data(), id.bytes.size());
  return bytes;
}

// Returns the error message ("" when the input loaded).
std::string check(std::string_view bytes) {
  auto m = vrift::Manifest::from_bytes(bytes);
  if (!m) {
    const std::string& msg = m.error().message();
    if (msg.empty() || msg.find('\n') != std::string::npos) fail_check("error is not one line");
    return msg;
  }
  if (m->bytes() != bytes) fail_check("bytes() differs from the input");
  for (size_t i = 0; i < m->size(); ++i) {
    vrift::EntryView e = m->at(i);
    if (!vrift::validate_manifest_path(e.path).ok()) fail_check("an unsafe path was accepted");
    if (e.type != vrift::EntryType::Symlink && !e.target.empty()) fail_check("stray target");
    if (e.type != vrift::EntryType::File && !e.hash_value().is_zero()) fail_check("stray hash");
    auto j = m->find(e.path);
    if (!j || *j != i) fail_check("find() does not return an entry's own index");
  }
  if (!vrift::diff_manifests(*m, *m).empty()) fail_check("a manifest differs from itself");
  auto again = vrift::serialize_manifest(m->entries(), m->origin());
  if (!again) fail_check("the writer rejects what the reader accepted");
  if (*again != bytes) fail_check("re-serialising gives different bytes");
  return "";
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  check(bytes);
  if (size >= vrift::kManifestHeaderSize) {
    std::string sealed(bytes);
    vrift::Hash sum = vrift::blake3(sealed.data() + vrift::kManifestHeaderSize,
                                    sealed.size() - vrift::kManifestHeaderSize);
    std::memcpy(sealed.data() + offsetof(vrift::ManifestHeader, body_checksum), sum.bytes.data(),
                sum.bytes.size());
    std::string msg = sealed != bytes ? check(sealed) : "";
    if (msg == kIdMismatch) check(with_recomputed_id(std::move(sealed)));
  }
  return 0;
}

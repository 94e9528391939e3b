// Writes the seed corpus for the manifest fuzzer: valid manifests of different shapes and invalid
// ones that stop at different checks. Usage: vrift_fuzz_gen_manifest_corpus DIR
// (The checked-in tests/fuzz/corpus/manifest/ was made with it; rerun after a format change.)
#include <cstdio>
#include <string>
#include <vector>

#include "../unit/manifest_fixtures.h"
#include "vrift/manifest/manifest.h"
#include "vrift/util/fs.h"

using namespace vrift;
using namespace vrift::testing;

namespace {

std::string valid(const std::vector<ManifestEntry>& entries, std::string_view origin) {
  auto r = serialize_manifest(entries, origin);
  if (!r) {
    std::fprintf(stderr, "serialize: %s\n", r.error().message().c_str());
    std::exit(1);
  }
  return *r;
}

std::vector<ManifestEntry> wide_tree() {
  std::vector<ManifestEntry> v = {dir_entry("a"), dir_entry("a/b"), dir_entry("a/b/c")};
  for (int i = 0; i < 40; ++i)
    v.push_back(file_entry("a/b/c/f" + std::to_string(i), "x"));
  v.push_back(link_entry("a/l", "b/c/f1"));
  return v;
}

std::vector<ManifestEntry> odd_paths() {
  return {file_entry("caf\xc3\xa9 \xe2\x98\x95", "u"),
          file_entry("-rf", "d"),
          file_entry(std::string(255, 'n'), "l"),
          file_entry("with space", "s"),
          file_entry("\xff", "high"),
          link_entry("abs", "/etc/passwd")};
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  std::string dir = argv[1];
  std::vector<std::pair<std::string, std::string>> out;
  const std::string sample = valid(sample_tree(), "/src/proj");
  out.emplace_back("valid-empty", valid({}, ""));
  out.emplace_back("valid-empty-origin", valid({}, "/home/me/proj"));
  out.emplace_back("valid-sample", sample);
  out.emplace_back("valid-one-file", valid({file_entry("f", "content", 0600)}, ""));
  out.emplace_back("valid-wide", valid(wide_tree(), "/w"));
  out.emplace_back("valid-odd-paths", valid(odd_paths(), "/o"));

  out.emplace_back("bad-magic", "X" + sample.substr(1));
  std::string v2 = sample;
  poke<uint32_t>(v2, offsetof(ManifestHeader, version), 2);
  out.emplace_back("bad-version", v2);
  out.emplace_back("truncated-header", sample.substr(0, 100));
  out.emplace_back("truncated-records", sample.substr(0, 300));
  out.emplace_back("truncated-arena", sample.substr(0, sample.size() - 3));
  std::string flipped = sample;
  flipped[kManifestHeaderSize + 30] ^= 4;
  out.emplace_back("bad-checksum", flipped);
  std::string garbage;
  for (int i = 0; i < 512; ++i)
    garbage += static_cast<char>((i * 131 + 7) % 251);
  out.emplace_back("garbage", garbage);
  // Checksum-valid files that break one rule each.
  out.emplace_back("bad-unsorted", encode_raw({file_entry("b", ""), file_entry("a", "")}, ""));
  out.emplace_back("bad-duplicate", encode_raw({file_entry("a", "1"), file_entry("a", "2")}, ""));
  out.emplace_back("bad-absolute", encode_raw({file_entry("/etc/passwd", "")}, ""));
  out.emplace_back("bad-dotdot", encode_raw({dir_entry("a"), file_entry("a/../x", "")}, ""));
  out.emplace_back("bad-no-parent", encode_raw({file_entry("a/b", "")}, ""));
  ManifestEntry odd = file_entry("t", "");
  odd.type = EntryType{7};
  out.emplace_back("bad-type", encode_raw({odd}, ""));

  for (const auto& [name, bytes] : out) {
    if (auto st = fs::write_file_atomic(dir + "/" + name, bytes); !st) {
      std::fprintf(stderr, "%s\n", st.error().message().c_str());
      return 1;
    }
  }
  std::printf("wrote %zu files to %s\n", out.size(), dir.c_str());
  return 0;
}

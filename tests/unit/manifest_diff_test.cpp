// diff_manifests: added, removed and modified entries in path order; timestamps do not count.
#include <gtest/gtest.h>

#include "manifest_fixtures.h"
#include "vrift/manifest/manifest.h"

namespace vrift {
namespace {

using namespace vrift::testing;

Manifest load(const std::vector<ManifestEntry>& entries) {
  auto bytes = serialize_manifest(entries, "");
  EXPECT_TRUE(bytes.ok()) << bytes.error().message();
  auto m = Manifest::from_bytes(*bytes);
  EXPECT_TRUE(m.ok());
  return std::move(*m);
}

// "+ path", "- path", "M path (what)", one string per item, for compact expectations.
std::vector<std::string> render(const std::vector<DiffItem>& items) {
  std::vector<std::string> out;
  for (const auto& d : items) {
    switch (d.kind) {
    case DiffItem::Added:
      out.push_back("+ " + d.path);
      break;
    case DiffItem::Removed:
      out.push_back("- " + d.path);
      break;
    case DiffItem::Modified:
      out.push_back("M " + d.path + " (" + d.what + ")");
      break;
    }
  }
  return out;
}

using Lines = std::vector<std::string>;

TEST(ManifestDiff, IdenticalAndEmpty) {
  Manifest a = load(sample_tree());
  Manifest b = load(sample_tree());
  EXPECT_TRUE(diff_manifests(a, b).empty());
  Manifest empty = load({});
  EXPECT_TRUE(diff_manifests(empty, empty).empty());
  EXPECT_EQ(diff_manifests(empty, a).size(), sample_tree().size());
  for (const auto& d : diff_manifests(a, empty))
    EXPECT_EQ(d.kind, DiffItem::Removed);
}

TEST(ManifestDiff, TimestampsAloneAreNotADifference) {
  auto later = sample_tree();
  for (auto& e : later)
    e.mtime_ns += 1;
  EXPECT_TRUE(diff_manifests(load(sample_tree()), load(later)).empty());
}

TEST(ManifestDiff, AddedRemovedModifiedInPathOrder) {
  Manifest a = load({dir_entry("d"), file_entry("d/keep", "k"), file_entry("d/gone", "g"),
                     file_entry("edit", "v1"), file_entry("mode", "m", 0644),
                     link_entry("link", "one"), file_entry("both", "x", 0644)});
  Manifest b = load({dir_entry("d", 0700), file_entry("d/keep", "k"), file_entry("d/new", "n"),
                     file_entry("edit", "v2"), file_entry("mode", "m", 0755),
                     link_entry("link", "two"), file_entry("both", "y", 0600), dir_entry("z")});
  EXPECT_EQ(render(diff_manifests(a, b)),
            (Lines{"M both (content, mode 644->600)", "M d (mode 755->700)", "- d/gone", "+ d/new",
                   "M edit (content)", "M link (target)", "M mode (mode 644->755)", "+ z"}));
}

TEST(ManifestDiff, TypeChangesSayOnlyThat) {
  Manifest a = load({file_entry("x", "1"), dir_entry("y"), link_entry("z", "t")});
  Manifest b = load({link_entry("x", "1"), file_entry("y", ""), dir_entry("z")});
  EXPECT_EQ(render(diff_manifests(a, b)),
            (Lines{"M x (type file->symlink)", "M y (type dir->file)", "M z (type symlink->dir)"}));
}

TEST(ManifestDiff, SetuidBitsShowInOctal) {
  Manifest a = load({file_entry("s", "", 0755)});
  Manifest b = load({file_entry("s", "", 04755)});
  EXPECT_EQ(render(diff_manifests(a, b)), (Lines{"M s (mode 755->4755)"}));
}

TEST(ManifestDiff, DisjointTreesInterleave) {
  Manifest a = load({file_entry("a", ""), file_entry("c", ""), file_entry("e", "")});
  Manifest b = load({file_entry("b", ""), file_entry("d", ""), file_entry("\xc3\xa9", "")});
  EXPECT_EQ(render(diff_manifests(a, b)), (Lines{"- a", "+ b", "- c", "+ d", "- e", "+ \xc3\xa9"}));
}

} // namespace
} // namespace vrift

// diff_manifests: one merge walk over two sorted entry lists.
#include <fmt/core.h>

#include <cstring>

#include "vrift/manifest/manifest.h"

namespace vrift {
namespace {

// What changed between two entries at the same path ("" when nothing that counts did).
// A type change says only that; otherwise content, target and mode changes are listed in that
// order. Timestamps never count, and a file's size is implied by its hash.
std::string describe_change(const EntryView& a, const EntryView& b) {
  if (a.type != b.type)
    return fmt::format("type {}->{}", entry_type_name(a.type), entry_type_name(b.type));
  std::string what;
  auto add = [&](const std::string& s) { what += (what.empty() ? "" : ", ") + s; };
  if (a.type == EntryType::File && std::memcmp(a.hash, b.hash, 32) != 0) add("content");
  if (a.type == EntryType::Symlink && a.target != b.target) add("target");
  if (a.mode != b.mode) add(fmt::format("mode {:o}->{:o}", a.mode, b.mode));
  return what;
}

} // namespace

std::vector<DiffItem> diff_manifests(const Manifest& a, const Manifest& b) {
  std::vector<DiffItem> out;
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    int c = 0;
    if (i == a.size())
      c = 1;
    else if (j == b.size())
      c = -1;
    else
      c = a.at(i).path.compare(b.at(j).path); // bytewise, the manifests' own order
    if (c < 0) {
      out.push_back(DiffItem{DiffItem::Removed, std::string(a.at(i++).path), {}});
    } else if (c > 0) {
      out.push_back(DiffItem{DiffItem::Added, std::string(b.at(j++).path), {}});
    } else {
      std::string what = describe_change(a.at(i), b.at(j));
      if (!what.empty())
        out.push_back(DiffItem{DiffItem::Modified, std::string(a.at(i).path), std::move(what)});
      ++i;
      ++j;
    }
  }
  return out;
}

} // namespace vrift

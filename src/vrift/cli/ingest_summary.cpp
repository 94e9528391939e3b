#include "vrift/cli/ingest_summary.h"

#include <fmt/core.h>

#include <cstdio>

#include "vrift/util/human.h"

namespace vrift::cli {

namespace {

double pct(uint64_t part, uint64_t whole) {
  return whole ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0;
}

} // namespace

void print_ingest_summary(const IngestReport& r, const SummaryFlags& a) {
  uint64_t dedup_files = r.files - r.new_blobs;
  uint64_t dedup_bytes = r.bytes - r.new_bytes;
  double rate = r.seconds > 0 ? static_cast<double>(r.files) / r.seconds : 0;
  fmt::print("Ingested {} -> {}\n", r.root, r.manifest_path);
  fmt::print("  Files:      {}  (dirs {}, symlinks {})\n", with_commas(r.files),
             with_commas(r.dirs), with_commas(r.symlinks));
  fmt::print("  Bytes:      {}\n", human_bytes(r.bytes));
  fmt::print("  New blobs:  {} ({})\n", with_commas(r.new_blobs), human_bytes(r.new_bytes));
  fmt::print("  Dedup:      {:.1f}% of files, {:.1f}% of bytes already in the store\n",
             pct(dedup_files, r.files), pct(dedup_bytes, r.bytes));
  if (r.cached)
    fmt::print("  Unchanged:  {} files not re-read (re-ingest cache)\n", with_commas(r.cached));
  if (r.tier1_files)
    fmt::print("  Tier1:      {} files (read-only, may share inodes with the store)\n",
               with_commas(r.tier1_files));
  fmt::print("  Time:       {:.3f} s ({} files/s)\n", r.seconds,
             with_commas(static_cast<uint64_t>(rate)));
  fmt::print("  Manifest:   {}\n", r.manifest_id.hex());
  if (a.phantom) {
    fmt::print("  Phantom:    {} project files moved into the store", with_commas(r.removed));
    if (r.carried)
      fmt::print(", {} entries kept from the previous manifest", with_commas(r.carried));
    fmt::print("\n");
  }
  if (!r.excluded.empty()) {
    fmt::print("  Excluded:   {} entries", with_commas(r.excluded.size()));
    if (!a.show_excluded) fmt::print(" (see --show-excluded)");
    fmt::print("\n");
    if (a.show_excluded) {
      for (const auto& e : r.excluded)
        fmt::print("    {}  ({})\n", e.path, e.reason);
    }
  }
  if (!r.raw_callers.empty()) {
    // On stderr, so that a script reading the summary still sees it; after the summary.
    std::fflush(stdout);
    fmt::print(stderr,
               "vrift: warning: {} native module{} here make{} file-system calls of {} own, which "
               "the shim cannot see: under `vrift run` {} will not find this phantom "
               "projection's files (ingest the tree with --mode solid if programs load {}; "
               "docs/shim.md):\n",
               r.raw_callers.size(), r.raw_callers.size() == 1 ? "" : "s",
               r.raw_callers.size() == 1 ? "s" : "", r.raw_callers.size() == 1 ? "its" : "their",
               r.raw_callers.size() == 1 ? "it" : "they",
               r.raw_callers.size() == 1 ? "it" : "them");
    for (const auto& c : r.raw_callers) {
      std::string calls;
      for (const auto& n : c.calls)
        calls += (calls.empty() ? "" : ", ") + n;
      fmt::print(stderr, "  {} ({})\n", c.path, calls);
    }
  }
  if (!r.programs.empty()) {
    std::fflush(stdout);
    const bool one = r.programs.size() == 1;
    fmt::print(stderr,
               "vrift: warning: {} program{} here cannot be started from this phantom "
               "projection: the kernel starts programs from files on disk, and phantom files "
               "are not (a static one would not see the projection either; ingest the tree "
               "with --mode solid if {} run; docs/shim.md):\n",
               r.programs.size(), one ? "" : "s", one ? "it must" : "they must");
    for (const auto& p : r.programs)
      fmt::print(stderr, "  {} ({})\n", p.path, p.is_static ? "static" : "dynamic");
  }
  if (a.force_hash) {
    fmt::print("  Verified:   {} mismatches between content and the re-ingest cache\n",
               r.mismatches.size());
    for (const auto& m : r.mismatches)
      fmt::print("    changed behind the cache: {}\n", m);
  }
}

nlohmann::json ingest_summary_json(const IngestReport& r) {
  nlohmann::json j = {
      {"root", r.root},
      {"manifest", r.manifest_path},
      {"manifest_id", r.manifest_id.hex()},
      {"files", r.files},
      {"dirs", r.dirs},
      {"symlinks", r.symlinks},
      {"bytes", r.bytes},
      {"new_blobs", r.new_blobs},
      {"new_bytes", r.new_bytes},
      {"dedup_files", r.files - r.new_blobs},
      {"dedup_bytes", r.bytes - r.new_bytes},
      {"dedup_file_ratio",
       r.files ? static_cast<double>(r.files - r.new_blobs) / static_cast<double>(r.files) : 0.0},
      {"dedup_byte_ratio",
       r.bytes ? static_cast<double>(r.bytes - r.new_bytes) / static_cast<double>(r.bytes) : 0.0},
      {"cached", r.cached},
      {"tier1_files", r.tier1_files},
      {"placed", {{"link", r.placed_link}, {"copy", r.placed_copy}, {"reflink", r.placed_reflink}}},
      {"removed", r.removed},
      {"carried", r.carried},
      {"seconds", r.seconds},
      {"files_per_second", r.seconds > 0 ? static_cast<double>(r.files) / r.seconds : 0.0},
  };
  nlohmann::json ex = nlohmann::json::array();
  for (const auto& e : r.excluded)
    ex.push_back({{"path", e.path}, {"reason", e.reason}});
  j["excluded"] = ex;
  j["mismatches"] = r.mismatches;
  nlohmann::json raw = nlohmann::json::array();
  for (const auto& c : r.raw_callers)
    raw.push_back({{"path", c.path}, {"calls", c.calls}});
  j["raw_syscall_modules"] = raw;
  nlohmann::json programs = nlohmann::json::array();
  for (const auto& p : r.programs)
    programs.push_back({{"path", p.path}, {"linkage", p.is_static ? "static" : "dynamic"}});
  j["phantom_programs"] = programs;
  return j;
}

} // namespace vrift::cli

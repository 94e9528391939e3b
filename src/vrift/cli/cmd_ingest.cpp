// `vrift ingest DIR`: parse, call the library, render.
#include <nlohmann/json.hpp>

#include "vrift/cli/common.h"
#include "vrift/cli/progress.h"
#include "vrift/ingest/ingest.h"
#include "vrift/util/human.h"
#include "vrift/util/log.h"

namespace vrift::cli {

namespace {

struct IngestArgs {
  std::string dir;
  std::string output = "vrift.manifest";
  std::string mode = "solid";
  std::string tier = "tier2";
  std::string prefix;
  unsigned jobs = 0;
  bool force_hash = false;
  bool no_security_filter = false;
  bool show_excluded = false;
  bool json = false;
};

double pct(uint64_t part, uint64_t whole) {
  return whole ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0;
}

void render_text(const IngestReport& r, const IngestArgs& a) {
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
  fmt::print("  Time:       {:.3f} s ({} files/s)\n", r.seconds,
             with_commas(static_cast<uint64_t>(rate)));
  fmt::print("  Manifest:   {}\n", r.manifest_id.hex());
  if (a.mode == "phantom") {
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
  if (a.force_hash) {
    fmt::print("  Verified:   {} mismatches between content and the re-ingest cache\n",
               r.mismatches.size());
    for (const auto& m : r.mismatches)
      fmt::print("    changed behind the cache: {}\n", m);
  }
}

void render_json(const IngestReport& r) {
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
  fmt::print("{}\n", j.dump(2));
}

int run_ingest(const GlobalOptions& g, const IngestArgs& a) {
  auto paths = g.paths();
  if (!paths.ok()) return report(paths.error());
  IngestOptions o;
  o.dir = a.dir;
  o.output = a.output;
  o.mode = a.mode == "phantom" ? IngestMode::Phantom : IngestMode::Solid;
  o.tier = a.tier == "tier1" ? IngestTier::Tier1 : IngestTier::Tier2;
  o.prefix = a.prefix;
  o.jobs = a.jobs;
  o.force_hash = a.force_hash;
  o.security_filter = !a.no_security_filter;
  log::info("store: {} (from {})", paths->store_root, origin_name(paths->store_origin));
  IngestProgress prog;
  ProgressLine line(&prog.files, &prog.bytes);
  auto r = ingest(*paths, o, &prog);
  line.stop();
  if (!r.ok()) return report(r.error());
  if (a.json)
    render_json(*r);
  else
    render_text(*r, a);
  return kExitOk;
}

} // namespace

void add_ingest_command(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto a = std::make_shared<IngestArgs>();
  CLI::App* c =
      app.add_subcommand("ingest", "Store a directory tree by content and write its manifest");
  c->add_option("DIR", a->dir, "Directory to ingest")->required();
  c->add_option("-o,--output", a->output, "Manifest to write")->capture_default_str();
  c->add_option("--mode", a->mode,
                "solid: keep the project's files; phantom: move them into the store")
      ->check(CLI::IsMember({"solid", "phantom"}))
      ->capture_default_str();
  c->add_option("--tier", a->tier,
                "tier1: immutable (files become read-only, may share inodes); tier2: mutable")
      ->check(CLI::IsMember({"tier1", "tier2"}))
      ->capture_default_str();
  c->add_option("--prefix", a->prefix, "Place entries under this relative path in the manifest");
  c->add_option("-j,--jobs", a->jobs, "Worker threads (default: number of CPUs)")
      ->check(CLI::Range(1u, 64u));
  c->add_flag("--force-hash", a->force_hash,
              "Re-hash every file and report content that changed behind the cache");
  c->add_flag("--no-security-filter", a->no_security_filter,
              "Also ingest files that look like secrets (.env, *.pem, *.key, id_rsa...)");
  c->add_flag("--show-excluded", a->show_excluded, "List what was left out and why");
  c->add_flag("--json", a->json, "Machine-readable summary");
  c->callback([&g, a, exit_code] { *exit_code = run_ingest(g, *a); });
}

} // namespace vrift::cli

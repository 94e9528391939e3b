// `vrift ingest DIR`: parse, call the library, render.
#include "vrift/cli/common.h"
#include "vrift/cli/ingest_summary.h"
#include "vrift/cli/progress.h"
#include "vrift/ingest/ingest.h"
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
    fmt::print("{}\n", ingest_summary_json(*r).dump(2));
  else
    print_ingest_summary(*r, {a.mode == "phantom", a.show_excluded, a.force_hash});
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

// `vrift init [DIR]`: detect the project, write its vrift.toml (a user's file is never
// overwritten without --force), then ingest it with that config into its manifest.
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "vrift/cli/common.h"
#include "vrift/cli/ingest_summary.h"
#include "vrift/cli/progress.h"
#include "vrift/project/transient.h"
#include "vrift/util/fs.h"
#include "vrift/util/log.h"

namespace vrift::cli {

namespace {

using project::Detection;
using project::Kind;
using project::ProjectConfig;

struct InitArgs {
  std::string dir = ".";
  bool force = false;
  bool show_excluded = false;
  bool json = false;
};

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v)
    out += (out.empty() ? "" : ", ") + s;
  return out;
}

// "npm project (package.json): node_modules/ will be tier1; node_modules/.cache/ ignored".
std::string describe(Kind k, const Detection& d, const std::string& root) {
  ProjectConfig c = project::default_config({k}, root);
  std::string out = std::string(project::kind_name(k)) + " project (" + d.markers_of(k) + ")";
  std::string what;
  if (!c.tier1.empty()) what = join(c.tier1) + " will be tier1";
  if (!c.ignore.empty()) what += (what.empty() ? "" : "; ") + join(c.ignore) + " ignored";
  return out + ": " + (what.empty() ? "no default filters" : what);
}

std::string all_marker_files() {
  std::vector<std::string> v;
  for (const auto& m : project::all_markers())
    v.emplace_back(m.file);
  return join(v);
}

void print_detection(const Detection& d, const std::string& root) {
  if (d.kinds.empty()) {
    fmt::print("No project marker in {} ({}): a generic project, no default filters\n", root,
               all_marker_files());
  }
  for (Kind k : d.kinds)
    fmt::print("{}\n", describe(k, d, root));
}

nlohmann::json config_json(const ProjectConfig& c, bool written) {
  std::vector<std::string> kinds;
  for (Kind k : c.kinds)
    kinds.emplace_back(project::kind_name(k));
  return {{"path", c.file},
          {"written", written},
          {"kinds", kinds},
          {"ignore", c.ignore},
          {"tier1", c.tier1},
          {"mode", c.mode == IngestMode::Phantom ? "phantom" : "solid"},
          {"security_filter", c.security_filter},
          {"manifest", c.manifest}};
}

nlohmann::json init_json(const std::string& root, const Detection& d, const ProjectConfig& c,
                         bool written, const IngestReport& r) {
  std::vector<std::string> kinds, markers;
  for (Kind k : d.kinds)
    kinds.emplace_back(project::kind_name(k));
  for (const auto& m : d.markers)
    markers.emplace_back(m.file);
  return {{"root", root},
          {"detected", {{"kinds", kinds}, {"markers", markers}}},
          {"generic", d.kinds.empty()},
          {"config", config_json(c, written)},
          {"ingest", ingest_summary_json(r)}};
}

// The config to ingest with: the user's vrift.toml (KEEP), or a new one from detection.
Result<ProjectConfig> config_for(const std::string& root, const Detection& d, bool keep) {
  if (keep) return project::load_config(root, d);
  ProjectConfig c = project::default_config(d.kinds, root);
  c.file = root + "/" + project::kConfigFile;
  VRIFT_TRY(fs::write_file_atomic(c.file, project::render_config(c, d), 0644)
                .context("writing project config '" + c.file + "'"));
  return c;
}

int run_init(const GlobalOptions& g, const InitArgs& a) {
  auto paths = g.paths();
  if (!paths.ok()) return report(paths.error());
  // 1. The directory and what it is.
  auto det = project::detect(a.dir);
  if (!det.ok()) return report(det.error());
  auto root = fs::canonical(a.dir);
  if (!root.ok()) return report(root.error());
  if (!a.json) print_detection(*det, *root);

  // 2. The config: kept when it exists (re-running never clobbers edits), else written.
  struct stat st {};
  const std::string file = *root + "/" + project::kConfigFile;
  const bool keep = !a.force && ::lstat(file.c_str(), &st) == 0;
  auto cfg = config_for(*root, *det, keep);
  if (!cfg.ok()) {
    return report(cfg.error(),
                  keep ? "fix it, or rewrite it from detection with `vrift init --force`" : "");
  }
  if (!a.json && keep) {
    fmt::print("Kept {} (your edits win; `vrift init --force` rewrites it from detection)\n", file);
    fmt::print("  ignore: {}; tier1: {}; mode: {}\n", cfg->ignore.empty() ? "-" : join(cfg->ignore),
               cfg->tier1.empty() ? "-" : join(cfg->tier1),
               cfg->mode == IngestMode::Phantom ? "phantom" : "solid");
  } else if (!a.json) {
    fmt::print("Wrote {}\n", file);
  }

  // 3. The ingest, with the config's filters, into its manifest.
  log::info("store: {} (from {})", paths->store_root, origin_name(paths->store_origin));
  IngestOptions o = project::ingest_options(*cfg, *root, project::manifest_path(*cfg, *root));
  IngestProgress prog;
  ProgressLine line(&prog.files, &prog.bytes);
  auto r = ingest(*paths, o, &prog);
  line.stop();
  if (!r.ok()) return report(r.error());
  if (a.json) {
    fmt::print("{}\n", init_json(*root, *det, *cfg, !keep, *r).dump(2));
  } else {
    print_ingest_summary(*r, {cfg->mode == IngestMode::Phantom, a.show_excluded, false});
  }
  return kExitOk;
}

} // namespace

void add_init_command(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto a = std::make_shared<InitArgs>();
  CLI::App* c = app.add_subcommand(
      "init", "Detect the project (npm, cargo, pip, go), write its vrift.toml and ingest it");
  c->add_option("DIR", a->dir, "Project directory")->capture_default_str();
  c->add_flag("--force", a->force, "Rewrite vrift.toml from detection (default: keep it)");
  c->add_flag("--show-excluded", a->show_excluded, "List what was left out and why");
  c->add_flag("--json", a->json, "Machine-readable output");
  c->callback([&g, a, exit_code] { *exit_code = run_init(g, *a); });
}

} // namespace vrift::cli

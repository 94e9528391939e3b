// `vrift registry --rebuild`: recover the project list from the store's manifest copies.
#include "vrift/cli/common.h"
#include "vrift/maint/rebuild.h"
#include "vrift/util/human.h"

namespace vrift::cli {

namespace {

int run(const GlobalOptions& g, bool rebuild) {
  if (!rebuild) return usage_error("registry: nothing to do (use --rebuild)");
  auto paths = g.paths();
  if (!paths.ok()) return report(paths.error());
  auto r = rebuild_registry(*paths);
  if (!r.ok()) return report(r.error());
  if (!r->moved_aside.empty()) fmt::print("Moved the damaged registry aside: {}\n", r->moved_aside);
  fmt::print("Rebuilt the registry of {} from {}: {} project(s)\n", paths->store_root,
             paths->manifest_copies_dir(), with_commas(r->recovered.size()));
  for (const auto& p : r->recovered)
    fmt::print("  + {}\n", p);
  for (const auto& s : r->skipped)
    fmt::print("  skipped {}\n", s);
  return kExitOk;
}

} // namespace

void add_registry_command(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto rebuild = std::make_shared<bool>(false);
  CLI::App* c = app.add_subcommand("registry", "Manage the registry of projects and manifests");
  c->add_flag("--rebuild", *rebuild,
              "Recover the registry from the manifest copies kept in the store");
  c->callback([&g, rebuild, exit_code] { *exit_code = run(g, *rebuild); });
}

} // namespace vrift::cli

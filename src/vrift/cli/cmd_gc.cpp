// `vrift gc`: report (default) or delete orphaned blobs; prune stale registrations.
#include <nlohmann/json.hpp>

#include "vrift/cli/common.h"
#include "vrift/maint/gc.h"
#include "vrift/util/human.h"

namespace vrift::cli {

namespace {

struct GcArgs {
  bool do_delete = false;
  std::string older_than;
  bool prune_stale = false;
  bool json = false;
};

void render_text(const GcReport& r, const GcArgs& a) {
  fmt::print("VRift GC{}:\n\n", a.do_delete ? "" : " (dry run)");
  fmt::print("  CAS Location:  {}\n", r.store);
  for (const auto& p : r.pruned)
    fmt::print("  Pruned stale:  {}\n", p);
  fmt::print("  Manifests:     {} registered", with_commas(r.manifests));
  if (r.stale) fmt::print(" ({} stale: run `vrift gc --prune-stale`)", with_commas(r.stale));
  fmt::print("\n");
  for (const auto& u : r.unloadable_names)
    fmt::print("  Unreadable:    {}\n", u);
  fmt::print("  Blobs:         {} ({})\n", with_commas(r.blobs), human_bytes(r.blob_bytes));
  fmt::print("  Referenced:    {}\n", with_commas(r.referenced));
  fmt::print("  Orphaned:      {} ({})\n", with_commas(r.orphans), human_bytes(r.orphan_bytes));
  if (!a.older_than.empty()) {
    fmt::print("  Older than {}: {} ({})\n", a.older_than, with_commas(r.eligible),
               human_bytes(r.eligible_bytes));
  }
  if (a.do_delete) {
    fmt::print("  Deleted:       {} blobs, {} freed\n", with_commas(r.deleted),
               human_bytes(r.freed_bytes));
    if (r.deleted_linked) {
      fmt::print("                 ({} of them were hard links to project files, whose bytes stay "
                 "with those files)\n",
                 with_commas(r.deleted_linked));
    }
    fmt::print("  Removed:       {} empty shard directories\n", with_commas(r.dirs_removed));
  } else if (r.eligible) {
    fmt::print("\n  Would delete {} blobs ({}). Run `vrift gc --delete{}` to delete them.\n",
               with_commas(r.eligible), human_bytes(r.eligible_bytes),
               a.older_than.empty() ? "" : " --older-than " + a.older_than);
  } else {
    fmt::print("\n  Nothing to delete.\n");
  }
}

void render_json(const GcReport& r, bool deleted) {
  nlohmann::json j = {{"store", r.store},
                      {"dry_run", !deleted},
                      {"manifests", r.manifests},
                      {"stale", r.stale},
                      {"unreadable", r.unloadable},
                      {"blobs", r.blobs},
                      {"blob_bytes", r.blob_bytes},
                      {"referenced", r.referenced},
                      {"orphans", r.orphans},
                      {"orphan_bytes", r.orphan_bytes},
                      {"eligible", r.eligible},
                      {"eligible_bytes", r.eligible_bytes},
                      {"deleted", r.deleted},
                      {"freed_bytes", r.freed_bytes},
                      {"deleted_linked", r.deleted_linked},
                      {"dirs_removed", r.dirs_removed},
                      {"pruned", r.pruned},
                      {"store_missing", r.store_missing}};
  fmt::print("{}\n", j.dump(2));
}

int run(const GlobalOptions& g, const GcArgs& a) {
  auto paths = g.paths();
  if (!paths.ok()) return report(paths.error());
  GcOptions o;
  o.do_delete = a.do_delete;
  o.prune_stale = a.prune_stale;
  if (!a.older_than.empty()) o.older_than_s = parse_duration(a.older_than);
  auto r = run_gc(*paths, o);
  if (!r.ok()) return report(r.error());
  if (a.json) {
    render_json(*r, a.do_delete);
  } else if (r->store_missing) {
    fmt::print("No store at {} yet: nothing to collect.\n", paths->store_root);
  } else {
    render_text(*r, a);
  }
  return kExitOk;
}

} // namespace

void add_gc_command(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto a = std::make_shared<GcArgs>();
  CLI::App* c = app.add_subcommand(
      "gc", "Find (and with --delete remove) blobs no registered manifest references");
  c->add_flag("--delete", a->do_delete, "Delete the orphaned blobs (default: dry run)");
  c->add_option("--older-than", a->older_than, "Only orphans older than this (30s, 15m, 2h, 7d)")
      ->check(CLI::Validator(
          [](std::string& s) {
            return parse_duration(s) ? std::string()
                                     : "'" + s + "' is not a duration like 30s, 15m, 2h or 7d";
          },
          "DURATION"));
  c->add_flag("--prune-stale", a->prune_stale,
              "Drop registrations whose manifest or project directory is gone");
  c->add_flag("--json", a->json, "Machine-readable report");
  c->callback([&g, a, exit_code] { *exit_code = run(g, *a); });
}

} // namespace vrift::cli

// `vrift doctor [--verify] [--json]`: parse, run the checks (maint/doctor), render.
// Exit 0 when no check found an error (warnings allowed), 1 otherwise.
#include <nlohmann/json.hpp>

#include <algorithm>

#include "vrift/cli/common.h"
#include "vrift/maint/doctor.h"
#include "vrift/util/escape.h"

namespace vrift::cli {

namespace {

struct DoctorArgs {
  bool verify = false;
  bool json = false;
  unsigned jobs = 0;
};

// The mark before each line: emoji on a UTF-8 terminal, fixed-width ASCII tags elsewhere.
const char* mark(CheckStatus s, bool emoji) {
  switch (s) {
  case CheckStatus::Ok:
    return emoji ? "\u2705 " : "[ok]    ";
  case CheckStatus::Warning:
    return emoji ? "\u26a0\ufe0f  " : "[warn]  ";
  case CheckStatus::Error:
    return emoji ? "\u274c " : "[error] ";
  }
  return "";
}

void render_text(const DoctorReport& r) {
  bool emoji = stdout_is_tty() && locale_is_utf8();
  std::vector<std::string> recs;
  fmt::print("VRift Doctor Report:\n\n");
  for (const auto& c : r.checks) {
    fmt::print("  {}{}: {}\n", mark(c.status, emoji), escape_control(c.name),
               escape_control(c.message));
    for (const auto& d : c.details)
      fmt::print("        {}\n", escape_control(d));
    for (const auto& s : c.recommendations) // several checks may advise the same re-ingest
      if (std::find(recs.begin(), recs.end(), s) == recs.end()) recs.push_back(s);
  }
  size_t errors = r.count(CheckStatus::Error), warnings = r.count(CheckStatus::Warning);
  if (errors + warnings == 0) {
    fmt::print("\n  No problems found.\n");
    return;
  }
  if (!recs.empty()) fmt::print("\n  Recommendations:\n");
  for (const auto& s : recs)
    fmt::print("  - {}\n", escape_control(s));
  fmt::print("\n  {} error{}, {} warning{}\n", errors, errors == 1 ? "" : "s", warnings,
             warnings == 1 ? "" : "s");
}

void render_json(const DoctorReport& r) {
  nlohmann::json checks = nlohmann::json::array();
  for (const auto& c : r.checks) {
    std::string rec;
    for (const auto& s : c.recommendations)
      rec += (rec.empty() ? "" : "; ") + s;
    checks.push_back({{"name", c.name},
                      {"status", check_status_name(c.status)},
                      {"message", c.message},
                      {"recommendation", rec},
                      {"recommendations", c.recommendations},
                      {"details", c.details}});
  }
  nlohmann::json j = {{"store", r.store_root},
                      {"checks", checks},
                      {"errors", r.count(CheckStatus::Error)},
                      {"warnings", r.count(CheckStatus::Warning)}};
  // Paths need not be UTF-8: replace invalid bytes rather than throw.
  fmt::print("{}\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
}

int run_doctor_command(const GlobalOptions& g, const DoctorArgs& a) {
  auto paths = g.paths();
  if (!paths.ok()) return report(paths.error());
  DoctorOptions o;
  o.verify_all = a.verify;
  o.threads = a.jobs;
  DoctorReport r = run_doctor(*paths, o);
  if (a.json)
    render_json(r);
  else
    render_text(r);
  return r.count(CheckStatus::Error) ? kExitFail : kExitOk;
}

} // namespace

void add_doctor_command(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto a = std::make_shared<DoctorArgs>();
  CLI::App* c = app.add_subcommand("doctor", "Check the store and the registry for problems");
  c->add_flag("--verify", a->verify,
              "Re-hash every blob (default: a random sample of 256 plus every suspect blob)");
  c->add_option("-j,--jobs", a->jobs, "Hashing threads (default: number of CPUs, at most 16)")
      ->check(CLI::Range(1u, 64u));
  c->add_flag("--json", a->json, "Machine-readable report");
  c->callback([&g, a, exit_code] { *exit_code = run_doctor_command(g, *a); });
}

} // namespace vrift::cli

// vrift: the command line. Global options, then one subcommand per file (cmd_*.cpp).
#include <CLI/CLI.hpp>

#include <string_view>
#include <utility>

#include "vrift/cli/common.h"
#include "vrift/util/log.h"

namespace {

// The first word of ARGS (after the program name) that is neither an option nor the value of
// --the-source-root: the subcommand, if it is one. "" when there is none.
std::string_view named_subcommand(const std::vector<std::string>& args) {
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--the-source-root") {
      ++i;
      continue;
    }
    if (a == "--") return {};
    if (!a.empty() && a[0] == '-') continue;
    return a;
  }
  return {};
}

} // namespace

int main(int argc, char** argv) {
  using namespace vrift::cli;
  CLI::App app{"vrift: content-addressed data virtualization for developer machines and CI",
               "vrift"};
  app.set_version_flag("--version", std::string("vrift ") + VRIFT_VERSION);
  app.require_subcommand(1);
  app.fallthrough();

  GlobalOptions g;
  int exit_code = kExitOk;
  app.add_option("--the-source-root", g.the_source_root,
                 "Content store root (default ~/.vrift/the_source; env VR_THE_SOURCE)");
  app.add_flag("-v,--verbose", g.verbose, "More output (-vv: debug)");
  app.parse_complete_callback([&g] { vrift::log::set_level(g.verbose); });

  // `vrift run ... -- CMD ARGS`: CMD's options are not ours; they are split off before parsing.
  std::vector<std::string> command;
  std::vector<std::string> args = split_run_command(argc, argv, &command);
  std::vector<const char*> args_c;
  for (const auto& a : args)
    args_c.push_back(a.c_str());

  // Only the subcommand the arguments name is built (building all of them, every option with
  // its validators, was 0.8 M of the 1.3 M instructions of a `vrift --version`, on the path of
  // every `vrift run`); without one (`vrift --help`, a typo) all are, for the help and the error.
  using AddFn = void (*)(CLI::App&, GlobalOptions&, int*);
  static constexpr std::pair<std::string_view, AddFn> kCommands[] = {
      {"ingest", add_ingest_command}, {"manifest", add_manifest_command},
      {"status", add_status_command}, {"gc", add_gc_command},
      {"doctor", add_doctor_command}, {"registry", add_registry_command},
      {"clean", add_clean_command},   {"daemon", add_daemon_command},
      {"init", add_init_command},
  };
  const std::string_view named = named_subcommand(args);
  bool known = named == "run";
  for (const auto& [name, add] : kCommands)
    known = known || name == named;
  for (const auto& [name, add] : kCommands) {
    if (!known || name == named) add(app, g, &exit_code);
  }
  if (!known || named == "run") add_run_command(app, g, &exit_code, &command);

  try {
    app.parse(static_cast<int>(args_c.size()), args_c.data());
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    return usage_error(e.what());
  }
  return exit_code;
}

// vrift: the command line. Global options, then one subcommand per file (cmd_*.cpp).
#include <CLI/CLI.hpp>

#include "vrift/cli/common.h"
#include "vrift/util/log.h"

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

  add_ingest_command(app, g, &exit_code);
  add_manifest_command(app, g, &exit_code);
  add_status_command(app, g, &exit_code);
  add_gc_command(app, g, &exit_code);
  add_doctor_command(app, g, &exit_code);
  add_registry_command(app, g, &exit_code);
  add_clean_command(app, g, &exit_code);
  add_daemon_command(app, g, &exit_code);
  add_init_command(app, g, &exit_code);
  // `vrift run ... -- CMD ARGS`: CMD's options are not ours; they are split off before parsing.
  std::vector<std::string> command;
  std::vector<std::string> args = split_run_command(argc, argv, &command);
  std::vector<const char*> args_c;
  for (const auto& a : args)
    args_c.push_back(a.c_str());
  add_run_command(app, g, &exit_code, &command);

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

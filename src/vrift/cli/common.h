// What every subcommand shares: global options, exit codes and the one-line error format.
#pragma once

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <optional>
#include <string>
#include <vector>

#include "vrift/config/paths.h"
#include "vrift/util/result.h"

namespace vrift::cli {

/// Exit codes (STYLE.md): 0 ok, 1 failure, 2 usage.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFail = 1;
inline constexpr int kExitUsage = 2;
/// `vrift run` exits with CMD's status, or: 125 vrift failed before CMD started, 126 CMD cannot
/// be executed, 127 no command given or CMD not found.
inline constexpr int kExitRunFailed = 125;
inline constexpr int kExitCannotRun = 126;
inline constexpr int kExitNotFound = 127;

struct GlobalOptions {
  std::string the_source_root; ///< --the-source-root ("" = not given)
  int verbose = 0;             ///< -v / -vv
  /// Resolves the path authority with the flag applied.
  Result<Paths> paths() const;
};

/// Prints "vrift: error: <message>" (and "hint: <hint>" when given) on stderr; returns kExitFail.
int report(const Error& e, const std::string& hint = "");
/// Prints a usage error and returns kExitUsage.
int usage_error(const std::string& msg);

/// Whether stdout is a terminal (progress bars, box drawing) and UTF-8 capable.
bool stdout_is_tty();
bool stderr_is_tty();
bool locale_is_utf8();

/// Each subcommand adds itself to APP; the callback it installs sets *exit_code.
void add_ingest_command(CLI::App& app, GlobalOptions& g, int* exit_code);
void add_manifest_command(CLI::App& app, GlobalOptions& g, int* exit_code);
void add_status_command(CLI::App& app, GlobalOptions& g, int* exit_code);
void add_gc_command(CLI::App& app, GlobalOptions& g, int* exit_code);
void add_doctor_command(CLI::App& app, GlobalOptions& g, int* exit_code);
void add_registry_command(CLI::App& app, GlobalOptions& g, int* exit_code);
void add_clean_command(CLI::App& app, GlobalOptions& g, int* exit_code);
void add_daemon_command(CLI::App& app, GlobalOptions& g, int* exit_code);
void add_init_command(CLI::App& app, GlobalOptions& g, int* exit_code);

/// `vrift run`'s CMD ARGS are not vrift's arguments: this splits them off ARGV (into *COMMAND)
/// and returns the arguments left for the parser. ARGV is returned whole for other subcommands.
std::vector<std::string> split_run_command(int argc, char** argv,
                                           std::vector<std::string>* command);
/// COMMAND (from split_run_command) must outlive the parse.
void add_run_command(CLI::App& app, GlobalOptions& g, int* exit_code,
                     const std::vector<std::string>* command);

} // namespace vrift::cli

// Splitting `vrift [GLOBAL]... run [OPTION]... [--] CMD ARGS...` before the option parser sees
// it: CMD's own options (`ls -la`, `node --inspect`) are not vrift's, and an option parser that
// falls through to the parent command would take them. The split is pure string work.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vrift::run {

struct SplitCommandLine {
  std::vector<std::string> vrift_args; ///< argv[0], the global options, the subcommand, its options
  std::vector<std::string> command;    ///< CMD ARGS... (empty when none was given)
  bool is_run = false;                 ///< the subcommand is SUBCOMMAND
};

/// Splits ARGV when its subcommand is SUBCOMMAND. The subcommand is the first argument that is
/// neither an option nor the value of one of GLOBAL_VALUE_OPTIONS (e.g. "--the-source-root").
/// After it, the command starts after the first "--" (which is dropped), or at the first
/// argument that is neither an option nor the value of one of RUN_VALUE_OPTIONS ("--manifest").
/// "--opt=value" is one argument. For any other subcommand ARGV is returned whole.
SplitCommandLine split_command_line(const std::vector<std::string>& argv,
                                    std::string_view subcommand,
                                    std::span<const std::string_view> global_value_options,
                                    std::span<const std::string_view> run_value_options);

} // namespace vrift::run

#include "vrift/run/cmdline.h"

#include <algorithm>

namespace vrift::run {

namespace {

bool takes_value(std::string_view arg, std::span<const std::string_view> options) {
  return std::find(options.begin(), options.end(), arg) != options.end();
}

bool is_option(std::string_view arg) { return arg.size() > 1 && arg[0] == '-'; }

} // namespace

SplitCommandLine split_command_line(const std::vector<std::string>& argv,
                                    std::string_view subcommand,
                                    std::span<const std::string_view> global_value_options,
                                    std::span<const std::string_view> run_value_options) {
  SplitCommandLine out;
  size_t i = argv.empty() ? 0 : 1;
  // The global options, up to the subcommand.
  for (; i < argv.size(); ++i) {
    if (argv[i] == "--") break; // CLI11's business, not a subcommand of ours
    if (!is_option(argv[i])) break;
    if (takes_value(argv[i], global_value_options)) ++i;
  }
  if (i >= argv.size() || argv[i] != subcommand) {
    out.vrift_args = argv;
    return out;
  }
  out.is_run = true;
  // The subcommand's own options, up to "--" or the first plain argument.
  size_t cmd = argv.size();
  bool dashdash = false;
  for (++i; i < argv.size(); ++i) {
    if (argv[i] == "--") {
      dashdash = true;
      cmd = i;
      break;
    }
    if (!is_option(argv[i])) {
      cmd = i;
      break;
    }
    if (takes_value(argv[i], run_value_options) || takes_value(argv[i], global_value_options)) ++i;
  }
  out.vrift_args.assign(argv.begin(),
                        argv.begin() + static_cast<std::ptrdiff_t>(std::min(cmd, argv.size())));
  if (cmd < argv.size())
    out.command.assign(argv.begin() + static_cast<std::ptrdiff_t>(cmd + (dashdash ? 1 : 0)),
                       argv.end());
  return out;
}

} // namespace vrift::run

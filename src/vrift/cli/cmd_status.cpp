// Placeholder so the tree builds; replaced by the real `vrift status` command.
#include "vrift/cli/common.h"
namespace vrift::cli {
void add_status_command(CLI::App&, GlobalOptions&, int*) {}
}  // namespace vrift::cli

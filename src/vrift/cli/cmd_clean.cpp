// Placeholder so the tree builds; replaced by the real `vrift clean` command.
#include "vrift/cli/common.h"
namespace vrift::cli {
void add_clean_command(CLI::App&, GlobalOptions&, int*) {}
}  // namespace vrift::cli

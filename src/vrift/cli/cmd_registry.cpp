// Placeholder so the tree builds; replaced by the real `vrift registry` command.
#include "vrift/cli/common.h"
namespace vrift::cli {
void add_registry_command(CLI::App&, GlobalOptions&, int*) {}
}  // namespace vrift::cli

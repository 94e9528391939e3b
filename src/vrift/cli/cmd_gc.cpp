// Placeholder so the tree builds; replaced by the real `vrift gc` command.
#include "vrift/cli/common.h"
namespace vrift::cli {
void add_gc_command(CLI::App&, GlobalOptions&, int*) {}
}  // namespace vrift::cli

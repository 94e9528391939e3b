// Placeholder so the tree builds; replaced by the real `vrift doctor` command.
#include "vrift/cli/common.h"
namespace vrift::cli {
void add_doctor_command(CLI::App&, GlobalOptions&, int*) {}
}  // namespace vrift::cli

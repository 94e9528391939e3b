#include "vrift/util/log.h"

#include <atomic>

namespace vrift::log {
namespace {
std::atomic<int> g_level{0};
}
int level() { return g_level.load(std::memory_order_relaxed); }
void set_level(int l) { g_level.store(l, std::memory_order_relaxed); }
} // namespace vrift::log

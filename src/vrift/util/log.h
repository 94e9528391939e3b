// Verbosity-gated diagnostics on stderr. Level 0 prints nothing; -v = 1, -vv = 2.
#pragma once

#include <fmt/core.h>

#include <cstdio>

namespace vrift::log {

int level();
void set_level(int level);

template <typename... Args> void info(fmt::format_string<Args...> f, Args&&... args) {
  if (level() >= 1) fmt::print(stderr, "vrift: {}\n", fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args> void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (level() >= 2)
    fmt::print(stderr, "vrift: debug: {}\n", fmt::format(f, std::forward<Args>(args)...));
}

} // namespace vrift::log

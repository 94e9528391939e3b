// Diagnostics on stderr. Warnings always print (something the user must know, e.g. a blob found
// edited and quarantined); the rest is verbosity-gated: level 0 prints nothing, -v = 1, -vv = 2.
#pragma once

#include <fmt/core.h>

#include <cstdio>

namespace vrift::log {

int level();
void set_level(int level);

template <typename... Args> void warn(fmt::format_string<Args...> f, Args&&... args) {
  fmt::print(stderr, "vrift: warning: {}\n", fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args> void info(fmt::format_string<Args...> f, Args&&... args) {
  if (level() >= 1) fmt::print(stderr, "vrift: {}\n", fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args> void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (level() >= 2)
    fmt::print(stderr, "vrift: debug: {}\n", fmt::format(f, std::forward<Args>(args)...));
}

} // namespace vrift::log

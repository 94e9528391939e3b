#include "vrift/util/human.h"

#include <fmt/core.h>

#include <charconv>

namespace vrift {

std::string with_commas(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  int count = 0;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (count && count % 3 == 0) out.insert(out.begin(), ',');
    out.insert(out.begin(), *it);
    ++count;
  }
  return out;
}

std::string human_bytes(uint64_t n) {
  static constexpr const char* kUnits[] = {"B", "KB", "MB", "GB", "TB", "PB"};
  if (n < 1000) return fmt::format("{} B", n);
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1000.0 && u < 5) {
    v /= 1000.0;
    ++u;
  }
  if (v >= 100.0) return fmt::format("{:.0f} {}", v, kUnits[u]);
  if (v >= 10.0) return fmt::format("{:.1f} {}", v, kUnits[u]);
  return fmt::format("{:.2f} {}", v, kUnits[u]);
}

std::optional<int64_t> parse_duration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int64_t mult = 1;
  switch (s.back()) {
  case 's':
    mult = 1;
    s.remove_suffix(1);
    break;
  case 'm':
    mult = 60;
    s.remove_suffix(1);
    break;
  case 'h':
    mult = 3600;
    s.remove_suffix(1);
    break;
  case 'd':
    mult = 86400;
    s.remove_suffix(1);
    break;
  default:
    break;
  }
  if (s.empty()) return std::nullopt;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  if (v > INT64_MAX / mult) return std::nullopt;
  return v * mult;
}

} // namespace vrift

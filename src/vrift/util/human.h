// Human-readable figures: sizes ("1.48 GB"), counts ("115,363"), durations ("2h" -> seconds).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vrift {

/// "115,363"
std::string with_commas(uint64_t n);
/// Decimal units as the usage guide shows them: "512 B", "222 MB", "1.48 GB".
std::string human_bytes(uint64_t n);
/// Parses "30s", "15m", "2h", "7d" (and a bare number of seconds) into seconds.
std::optional<int64_t> parse_duration(std::string_view s);

} // namespace vrift

// Escaping for display: strings that come from users or files (paths, symlink targets) may hold
// control bytes; printed raw, a newline would split a one-line error or a listing line.
#pragma once

#include <string>
#include <string_view>

namespace vrift {

/// S with every control byte (0x00-0x1f, 0x7f) written as "\xNN"; other bytes (UTF-8 included)
/// pass through unchanged.
inline std::string escape_control(std::string_view s) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kDigits[c >> 4];
      out += kDigits[c & 0xf];
    } else {
      out += ch;
    }
  }
  return out;
}

} // namespace vrift

// Tiny freestanding string helpers for the shim (no allocation, no locale, no errno).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace vrift::shim {

inline size_t slen(const char* s) { return std::strlen(s); }

/// Appends N bytes of SRC at DST[*LEN] if they fit in CAP (leaving room for a NUL); NUL-terminates.
inline bool append(char* dst, uint32_t* len, uint32_t cap, const char* src, size_t n) {
  if (*len + n + 1 > cap) return false;
  std::memcpy(dst + *len, src, n);
  *len += static_cast<uint32_t>(n);
  dst[*len] = '\0';
  return true;
}

inline bool starts_with(const char* s, const char* prefix) {
  return std::strncmp(s, prefix, slen(prefix)) == 0;
}

/// Decimal digits of V into BUF (at least 21 bytes); returns the length (no NUL written).
inline uint32_t u64_dec(uint64_t v, char* buf) {
  char tmp[24];
  uint32_t n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  for (uint32_t i = 0; i < n; ++i)
    buf[i] = tmp[n - 1 - i];
  return n;
}

} // namespace vrift::shim

// Frame headers and path rules (wire.h). Freestanding: no heap, no exceptions.
#include "vrift/proto/wire.h"

#include <bit>
#include <cstring>

namespace vrift::proto {
namespace {

constexpr uint8_t kMagicBytes[4] = {'V', 'R', 'P', '1'};
static_assert((kMagic & 0xff) == 'V' && (kMagic >> 24) == '1');

uint16_t load16(const uint8_t* b) { return static_cast<uint16_t>(b[0] | (b[1] << 8)); }
uint32_t load32(const uint8_t* b) {
  return static_cast<uint32_t>(b[0]) | (static_cast<uint32_t>(b[1]) << 8) |
         (static_cast<uint32_t>(b[2]) << 16) | (static_cast<uint32_t>(b[3]) << 24);
}
void store16(uint8_t* b, uint16_t x) {
  b[0] = static_cast<uint8_t>(x);
  b[1] = static_cast<uint8_t>(x >> 8);
}
void store32(uint8_t* b, uint32_t x) {
  for (int i = 0; i < 4; ++i)
    b[i] = static_cast<uint8_t>(x >> (8 * i));
}

// Path checking, 8 bytes at a time (SWAR). In each word, exact per-byte masks (0x80 in a
// matching byte) find the bytes that can break a rule: a NUL, a '/' right after a '/' (an
// empty component; a virtual '/' precedes the path, so a leading '/' counts), and a '.' right
// after a '/' (a component starting with a dot: "." or ".." or a dotfile, looked at one by
// one). A path costs a few operations per 8 bytes, worst cases included.
constexpr uint64_t kOnes = 0x0101010101010101ull;
constexpr uint64_t kLow7 = 0x7f7f7f7f7f7f7f7full;

constexpr uint64_t zero_bytes(uint64_t x) { return ~(((x & kLow7) + kLow7) | x | kLow7); }
constexpr uint64_t eq_bytes(uint64_t x, char c) {
  return zero_bytes(x ^ (kOnes * static_cast<uint8_t>(c)));
}
static_assert(zero_bytes(0x0100ff7f80000001ull) == 0x0080000000808000ull);

// The '.' at p[i] starts a component: true unless that component is "." or "..".
bool dot_component_ok(const char* p, size_t n, size_t i) {
  size_t after = i + 1;
  if (after < n && p[after] == '.') ++after;
  return after != n && p[after] != '/';
}

// A word as loaded from memory, with p[0] in its low byte whatever the host's byte order.
uint64_t little_endian(uint64_t w) {
  if constexpr (std::endian::native == std::endian::big) return __builtin_bswap64(w);
  return w;
}

// True when p holds no NUL and no empty, "." or ".." component between its '/' separators
// (so it neither starts nor ends with '/').
bool components_ok(const char* p, size_t n) {
  uint64_t carry = 0x80; // the virtual '/' before p[0], as byte 0's "previous is '/'" flag
  auto word_ok = [&](uint64_t w, size_t base) {
    uint64_t slash = eq_bytes(w, '/');
    uint64_t after_slash = (slash << 8) | carry;
    if ((zero_bytes(w) | (slash & after_slash)) != 0) return false;
    for (uint64_t dots = eq_bytes(w, '.') & after_slash; dots != 0; dots &= dots - 1)
      if (!dot_component_ok(p, n, base + std::countr_zero(dots) / 8)) return false;
    carry = slash >> 56;
    return true;
  };
  size_t base = 0;
  for (; n - base >= 8; base += 8) {
    uint64_t w;
    std::memcpy(&w, p + base, 8); // one unaligned load
    if (!word_ok(little_endian(w), base)) return false;
  }
  if (size_t k = n - base; k != 0) {
    // The last 1-7 bytes, padded with harmless 'a's, assembled in a register: a short
    // memcpy into a stack word would stall on the reload that follows it.
    constexpr uint64_t kPad = kOnes * static_cast<uint8_t>('a');
    uint64_t w;
    if (n >= 8) {
      std::memcpy(&w, p + n - 8, 8); // overlaps bytes already checked: shift them out
      w = (little_endian(w) >> (8 * (8 - k))) | (kPad << (8 * k));
    } else {
      w = kPad << (8 * k);
      for (size_t i = 0; i < k; ++i)
        w |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
    }
    if (!word_ok(w, base)) return false;
  }
  return n != 0 && p[n - 1] != '/';
}

} // namespace

Err parse_header(const uint8_t* buf, size_t len, uint32_t limit, FrameHeader* out) noexcept {
  if (len >= 4 ? load32(buf) != kMagic : len != 0 && std::memcmp(buf, kMagicBytes, len) != 0)
    return Err::BadMagic;
  if (len < kHeaderSize) return Err::NeedMore;
  FrameHeader h;
  h.type = static_cast<MsgType>(load16(buf + 4));
  h.flags = load16(buf + 6);
  h.id = load32(buf + 8);
  h.length = load32(buf + 12);
  if (h.flags != 0) return Err::BadFlags;
  uint32_t cap = limit < kMaxFrameSize ? limit : kMaxFrameSize;
  if (cap < kHeaderSize || h.length > cap - kHeaderSize) return Err::TooLarge;
  *out = h;
  return Err::Ok;
}

Err read_frame(const uint8_t* buf, size_t len, uint32_t limit, Frame* out,
               size_t* consumed) noexcept {
  FrameHeader h;
  Err e = parse_header(buf, len, limit, &h);
  if (e != Err::Ok) return e;
  if (len - kHeaderSize < h.length) return Err::NeedMore;
  out->type = h.type;
  out->id = h.id;
  out->payload = buf + kHeaderSize;
  out->length = h.length;
  *consumed = kHeaderSize + h.length;
  return Err::Ok;
}

void write_header(uint8_t* buf, MsgType type, uint32_t id, uint32_t length) noexcept {
  std::memcpy(buf, kMagicBytes, 4);
  store16(buf + 4, static_cast<uint16_t>(type));
  store16(buf + 6, 0);
  store32(buf + 8, id);
  store32(buf + 12, length);
}

bool valid_relpath(std::string_view p) noexcept {
  if (p.empty() || p.size() > kMaxPathLen) return false;
  if (p.front() == '/' || p.back() == '/') return false;
  return components_ok(p.data(), p.size());
}

bool valid_abspath(std::string_view p) noexcept {
  if (p.empty() || p.size() > kMaxPathLen || p.front() != '/') return false;
  if (p.size() == 1) return true; // "/"
  if (p.back() == '/') return false;
  return components_ok(p.data() + 1, p.size() - 1);
}

} // namespace vrift::proto

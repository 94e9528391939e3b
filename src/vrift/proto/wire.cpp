// Frame headers and path rules (wire.h). Freestanding: no heap, no exceptions.
#include "vrift/proto/wire.h"

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
  for (int i = 0; i < 4; ++i) b[i] = static_cast<uint8_t>(x >> (8 * i));
}

// True when every component between '/' separators of p (which neither starts nor ends with
// '/') is non-empty and neither "." nor "..".
bool components_ok(const char* p, size_t n) {
  size_t start = 0;
  while (start <= n) {
    const void* slash = std::memchr(p + start, '/', n - start);
    size_t end = slash != nullptr ? static_cast<size_t>(static_cast<const char*>(slash) - p) : n;
    size_t len = end - start;
    if (len == 0) return false;
    if (p[start] == '.' && (len == 1 || (len == 2 && p[start + 1] == '.'))) return false;
    start = end + 1;
  }
  return true;
}

bool no_nul(std::string_view p) { return std::memchr(p.data(), 0, p.size()) == nullptr; }

} // namespace

Err parse_header(const uint8_t* buf, size_t len, uint32_t limit, FrameHeader* out) noexcept {
  size_t have = len < 4 ? len : 4;
  if (have != 0 && std::memcmp(buf, kMagicBytes, have) != 0) return Err::BadMagic;
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
  if (p.empty() || p.size() > kMaxPathLen || !no_nul(p)) return false;
  if (p.front() == '/' || p.back() == '/') return false;
  return components_ok(p.data(), p.size());
}

bool valid_abspath(std::string_view p) noexcept {
  if (p.empty() || p.size() > kMaxPathLen || !no_nul(p) || p.front() != '/') return false;
  if (p.size() == 1) return true; // "/"
  if (p.back() == '/') return false;
  return components_ok(p.data() + 1, p.size() - 1);
}

} // namespace vrift::proto

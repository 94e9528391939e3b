#include "vrift/util/elf.h"

#include <cstdint>

namespace vrift {
namespace {

constexpr size_t kElfMaxPhdrBytes = 1 << 20; // no real program has a larger header table
constexpr uint32_t kPtInterp = 3;
constexpr uint16_t kEtExec = 2, kEtDyn = 3;

// A little- or big-endian unsigned field of N bytes at OFF (the caller checked the bounds).
uint64_t field(std::string_view b, size_t off, size_t n, bool big) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    auto byte = static_cast<uint8_t>(b[off + (big ? i : n - 1 - i)]);
    v = (v << 8) | byte;
  }
  return v;
}

} // namespace

ElfCheck check_elf(std::string_view b) {
  if (b.substr(0, 4) != std::string_view("\x7f"
                                         "ELF",
                                         4))
    return {ElfKind::NotElf, 0};
  if (b.size() < 6) return {ElfKind::Malformed, 0};
  auto cls = static_cast<uint8_t>(b[4]), data = static_cast<uint8_t>(b[5]);
  if ((cls != 1 && cls != 2) || (data != 1 && data != 2)) return {ElfKind::Malformed, 0};
  bool is64 = cls == 2, big = data == 2;
  size_t ehdr = is64 ? 64 : 52;
  if (b.size() < ehdr) return {ElfKind::NeedMore, ehdr};
  auto type = static_cast<uint16_t>(field(b, 16, 2, big));
  if (type != kEtExec && type != kEtDyn) return {ElfKind::Malformed, 0};
  uint64_t phoff = is64 ? field(b, 32, 8, big) : field(b, 28, 4, big);
  uint64_t phentsize = field(b, is64 ? 54 : 42, 2, big);
  uint64_t phnum = field(b, is64 ? 56 : 44, 2, big);
  if (phnum == 0xffff) return {ElfKind::Malformed, 0}; // PN_XNUM: the count lives elsewhere
  if (phnum == 0) return {ElfKind::Static, 0};
  if (phentsize < 4 || phoff > kElfMaxPhdrBytes || phnum * phentsize > kElfMaxPhdrBytes)
    return {ElfKind::Malformed, 0};
  uint64_t end = phoff + phnum * phentsize;
  if (b.size() < end) return {ElfKind::NeedMore, static_cast<size_t>(end)};
  for (uint64_t i = 0; i < phnum; ++i) {
    if (field(b, static_cast<size_t>(phoff + i * phentsize), 4, big) == kPtInterp)
      return {ElfKind::Dynamic, 0};
  }
  return {ElfKind::Static, 0};
}

} // namespace vrift

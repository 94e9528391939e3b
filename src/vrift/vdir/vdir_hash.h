// The VDir's path key: a fast, seeded, non-cryptographic 64-bit hash of the full path.
//
// How it works: 16 bytes at a time, two little-endian words are folded into the state with a
// 64x64->128-bit multiply whose halves are xored ("multiply-fold"); the last 1..16 bytes are read
// with two possibly overlapping loads; a final multiply-fold with the length avalanches. About
// 5 multiplies for an 80-byte path (~10 ns). The constants are hexadecimal digits of pi. The key
// only picks a slot and filters probes: lookups always compare the full path, so a collision
// costs a probe, never a wrong answer. Freestanding (the shim includes it).
#pragma once

#include <cstddef>
#include <cstdint>

#include "vrift/vdir/vdir_layout.h"

namespace vrift::vdir {
namespace detail {

__extension__ typedef unsigned __int128 U128; // -Wpedantic: __int128 is a GNU extension

inline constexpr uint64_t kPi0 = 0x243f6a8885a308d3;
inline constexpr uint64_t kPi1 = 0x13198a2e03707344;
inline constexpr uint64_t kPi2 = 0xa4093822299f31d0;
inline constexpr uint64_t kPi3 = 0x082efa98ec4e6c89;
/// What kHashConstantForTests returns for every path.
inline constexpr uint64_t kConstantKey = 0x5eed5eed5eed5eed;

inline uint64_t fold(uint64_t a, uint64_t b) {
  U128 r = static_cast<U128>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}
inline uint64_t read64(const char* p) {
  uint64_t v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
inline uint64_t read32(const char* p) {
  uint32_t v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}

/// Both hashes below. KEYED puts the running state into both factors of every multiply.
template <bool kKeyed> inline uint64_t hash_bytes(const char* p, size_t n, uint64_t seed) {
  const uint64_t key = kKeyed ? ~uint64_t{0} : 0; // masks the state into the first factor
  uint64_t h = seed ^ kPi0;
  uint64_t a = 0;
  uint64_t b = 0;
  if (n > 16) {
    size_t i = 0;
    for (; n - i > 16; i += 16)
      h = fold(read64(p + i) ^ kPi1 ^ (h & key), read64(p + i + 8) ^ h);
    a = read64(p + n - 16);
    b = read64(p + n - 8);
  } else if (n >= 8) {
    a = read64(p);
    b = read64(p + n - 8);
  } else if (n >= 4) {
    a = read32(p);
    b = read32(p + n - 4);
  } else if (n > 0) {
    a = static_cast<uint64_t>(static_cast<unsigned char>(p[0])) << 16 |
        static_cast<uint64_t>(static_cast<unsigned char>(p[n / 2])) << 8 |
        static_cast<uint64_t>(static_cast<unsigned char>(p[n - 1]));
  }
  h = fold(a ^ kPi2 ^ (h & key), b ^ h);
  return fold(h ^ kPi3, static_cast<uint64_t>(n) ^ kPi1 ^ (seed & key));
}

} // namespace detail

/// The seeded 64-bit hash of N bytes at P (any N, including 0); HashFn kHashMum64.
inline uint64_t hash_path(const char* p, size_t n, uint64_t seed) {
  return detail::hash_bytes<false>(p, n, seed);
}

/// hash_path with the running state in both factors of every multiply (kHashMum64Keyed). In
/// hash_path a block whose first word equals kPi1 (or a last-but-one word equal to kPi2) zeroes
/// the product whatever the seed, so everything before it is forgotten: names crafted around
/// those 8 bytes all share a key, and a tree of them turns lookups and inserts into linear
/// scans. Here a zero product needs a word equal to a function of the state, which the secret
/// seed keeps unknown.
inline uint64_t hash_path_keyed(const char* p, size_t n, uint64_t seed) {
  return detail::hash_bytes<true>(p, n, seed);
}

/// The key of a path, per the file's HashFn: its low bits pick the slot, its high half is the
/// slot's tag (layout.h), and the record keeps all of it. Never 0.
inline uint64_t path_key(uint32_t hash_fn, uint64_t seed, const char* p, size_t n) {
  if (hash_fn == kHashConstantForTests) return detail::kConstantKey;
  uint64_t h = hash_fn == kHashMum64 ? hash_path(p, n, seed) : hash_path_keyed(p, n, seed);
  return h == 0 ? 1 : h;
}

} // namespace vrift::vdir

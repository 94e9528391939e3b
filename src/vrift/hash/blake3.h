// BLAKE3 content hashes: the identity of every blob and manifest.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "vrift/util/result.h"

namespace vrift {

/// A 32-byte BLAKE3 digest.
struct Hash {
  std::array<uint8_t, 32> bytes{};

  std::string hex() const;
  /// Parses 64 hex digits; false on anything else.
  static bool from_hex(std::string_view hex, Hash& out);
  bool operator==(const Hash& o) const { return bytes == o.bytes; }
  bool operator!=(const Hash& o) const { return bytes != o.bytes; }
  bool operator<(const Hash& o) const { return bytes < o.bytes; }
  bool is_zero() const {
    for (auto b : bytes)
      if (b) return false;
    return true;
  }
};

struct HashHasher {
  size_t operator()(const Hash& h) const {
    size_t v;
    std::memcpy(&v, h.bytes.data(), sizeof v);
    return v;
  }
};

/// Incremental hasher over the official C implementation (SIMD dispatch at run time).
class Blake3 {
public:
  Blake3();
  void update(const void* data, size_t n);
  Hash finish() const;

private:
  alignas(16) unsigned char m_state[1912]; // >= sizeof(blake3_hasher), checked in the .cpp
};

/// Hash of a byte range.
Hash blake3(const void* data, size_t n);
inline Hash blake3(std::string_view s) { return blake3(s.data(), s.size()); }

/// Hashes a whole open file from its current offset, reading with BUF (BUF_SIZE bytes).
/// Returns the hash and sets *bytes_read; an I/O error becomes an Error.
Result<Hash> blake3_fd(int fd, uint64_t* bytes_read, uint8_t* buf, size_t buf_size);

/// Hashes the file open as FD from its start (whatever FD's offset), SIZE being the size the
/// caller saw in its fstat. Large files are hashed in place through read-only mappings of SIZE
/// bytes, which saves the copy a read makes; small ones are read with BUF. A mapped file
/// truncated meanwhile is an EAGAIN error ("changed while being read"), never a SIGBUS. The
/// caller compares the file's size and mtime afterwards, as it must after a read too.
Result<Hash> blake3_file(int fd, uint64_t size, uint64_t* bytes_read, uint8_t* buf,
                         size_t buf_size);

} // namespace vrift

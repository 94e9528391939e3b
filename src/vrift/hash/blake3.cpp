#include "vrift/hash/blake3.h"

#include <unistd.h>

#include <cerrno>

#include "vrift/util/hex.h"
#include <blake3.h> // the official C implementation (not vrift/hash/blake3.h)

namespace vrift {

static_assert(sizeof(blake3_hasher) <= 1912, "Blake3::m_state too small for blake3_hasher");

std::string Hash::hex() const { return to_hex(bytes.data(), bytes.size()); }

bool Hash::from_hex(std::string_view hex, Hash& out) {
  for (char c : hex) {
    if (c >= 'A' && c <= 'F') return false; // canonical form is lowercase
  }
  return vrift::from_hex(hex, out.bytes.data(), out.bytes.size());
}

Blake3::Blake3() { blake3_hasher_init(reinterpret_cast<blake3_hasher*>(m_state)); }

void Blake3::update(const void* data, size_t n) {
  blake3_hasher_update(reinterpret_cast<blake3_hasher*>(m_state), data, n);
}

Hash Blake3::finish() const {
  Hash h;
  blake3_hasher_finalize(reinterpret_cast<const blake3_hasher*>(m_state), h.bytes.data(),
                         h.bytes.size());
  return h;
}

Hash blake3(const void* data, size_t n) {
  Blake3 b;
  b.update(data, n);
  return b.finish();
}

Result<Hash> blake3_fd(int fd, uint64_t* bytes_read, uint8_t* buf, size_t buf_size) {
  Blake3 b;
  uint64_t total = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf, buf_size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_os("reading");
    }
    if (n == 0) break;
    b.update(buf, static_cast<size_t>(n));
    total += static_cast<uint64_t>(n);
  }
  if (bytes_read) *bytes_read = total;
  return b.finish();
}

} // namespace vrift

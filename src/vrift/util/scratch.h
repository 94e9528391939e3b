// Per-thread scratch buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace vrift {

inline constexpr size_t kScratchSize = size_t{1} << 16; ///< the default size

/// A buffer of kSize bytes private to the calling thread and to TAG (one per call site, so
/// that nested users never share), allocated on first use and kept for the thread's life.
///
/// Not a `thread_local` array: those live in static TLS, which the dynamic loader allocates and
/// zeroes for every thread at its start, the main thread included. Five 64 KiB arrays made
/// every vrift process (a `vrift run` included) zero 320 KiB at start-up: 80 page faults, a
/// tenth of a zero-config run's CPU time.
template <class Tag, size_t kSize = kScratchSize> uint8_t* scratch_buffer() {
  thread_local std::unique_ptr<uint8_t[]> buf;
  if (!buf) buf = std::make_unique_for_overwrite<uint8_t[]>(kSize);
  return buf.get();
}

} // namespace vrift

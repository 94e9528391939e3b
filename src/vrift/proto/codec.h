// Encoding and decoding of whole messages, the greeting's negotiation rules, and the size bound
// of every message. Freestanding: everything works on caller-provided buffers, never allocates,
// never throws; the shim uses exactly this. docs/protocol.md describes the format.
//
//   uint8_t buf[kMaxV1Frame];
//   size_t n = encode(buf, sizeof buf, id, Commit{.session = s, .path = "a.o", .staging = st});
//   ...
//   Frame f; size_t used;
//   if (read_frame(in, in_len, kMaxFrameSize, &f, &used) == Err::Ok) {
//     CommitReply r;
//     if (decode(f, &r) == Err::Ok) ...
//   }
#pragma once

#include <cstddef>
#include <cstdint>

#include "vrift/proto/messages.h"
#include "vrift/proto/wire.h"

namespace vrift::proto {

/// Writes `m` as one frame with request id `id` into buf[0..cap). Returns the frame's length,
/// or 0 when it does not fit in `cap` or `m` breaks its schema (a field the decoder would
/// reject: zero session, bad path, string too long...). Never writes at or beyond buf + cap.
template <class M> size_t encode(uint8_t* buf, size_t cap, uint32_t id, const M& m) noexcept;

/// Decodes a frame's payload as an M: Ok, WrongType (the frame holds another type), or the
/// schema error found first. String fields of *out point into the frame's payload. On error
/// *out is left unchanged.
template <class M> Err decode(const Frame& f, M* out) noexcept;

/// Decodes a bare payload (no header) as an M; as decode().
template <class M> Err decode_payload(const uint8_t* payload, size_t len, M* out) noexcept;

namespace detail {
// Adds up the largest encoding of each field; strings count at their maximum length.
struct SizeBound {
  size_t n = kHeaderSize;
  constexpr void u16(const uint16_t&) { n += 2; }
  constexpr void u32(const uint32_t&) { n += 4; }
  constexpr void u64(const uint64_t&) { n += 8; }
  constexpr void i64(const int64_t&) { n += 8; }
  template <class E> constexpr void enum16(const E&) { n += 2; }
  constexpr void session(const uint64_t&) { n += 8; }
  constexpr void mode(const uint32_t&) { n += 4; }
  constexpr void flags(const uint32_t&, uint32_t) { n += 4; }
  constexpr void hash(const Hash32&) { n += kHashSize; }
  constexpr void relpath(const std::string_view&) { n += 2 + kMaxPathLen; }
  constexpr void abspath(const std::string_view&) { n += 2 + kMaxPathLen; }
  constexpr void target(const std::string_view&) { n += 2 + kMaxPathLen; }
  constexpr void text(const std::string_view&, size_t max) { n += 2 + max; }
  constexpr void check(bool) {}
  constexpr void optional_tail(const bool&) {}
};
} // namespace detail

/// The largest frame an M can need, header included (compile-time).
template <class M> constexpr size_t max_frame_size() {
  detail::SizeBound b;
  const M m{};
  M::fields(b, m);
  return b.n;
}

/// The largest frame of any version-1 message: a buffer this big holds every one of them.
inline constexpr size_t kMaxV1Frame = [] {
  size_t n = 0;
#define VRIFT_PROTO_MAX(Name) n = max_frame_size<Name>() > n ? max_frame_size<Name>() : n;
  VRIFT_PROTO_MESSAGES(VRIFT_PROTO_MAX)
#undef VRIFT_PROTO_MAX
  return n;
}();
static_assert(kMaxV1Frame <= kMinFrameLimit, "every v1 message must fit any peer's limit");

/// Decodes a frame as whatever message its type says and calls fn(const Msg&) with it.
/// Returns UnknownType for a type this build does not know, or decode()'s error (fn is then
/// not called).
template <class F> Err visit(const Frame& f, F&& fn) {
  switch (f.type) {
#define VRIFT_PROTO_VISIT(Name)                                                                    \
  case MsgType::Name: {                                                                            \
    Name m;                                                                                        \
    Err e = decode(f, &m);                                                                         \
    if (e == Err::Ok) fn(static_cast<const Name&>(m));                                             \
    return e;                                                                                      \
  }
    VRIFT_PROTO_MESSAGES(VRIFT_PROTO_VISIT)
#undef VRIFT_PROTO_VISIT
  }
  return Err::UnknownType;
}

/// The daemon's side of the greeting (docs/protocol.md section 3): `ours` is the daemon's own
/// offer (version range, max_frame, capabilities, pid), `peer` the client's HELLO. Returns
/// false when the version ranges do not overlap (reply ERROR unsupported_version and close);
/// otherwise fills *reply with the chosen version and the common capabilities.
bool negotiate(const Hello& ours, const Hello& peer, HelloReply* reply) noexcept;

/// The client's check of the daemon's answer to its HELLO `ours`: the version lies in our
/// range and no capability bit was added. False means: close and treat the daemon as absent.
bool accept_hello_reply(const Hello& ours, const HelloReply& reply) noexcept;

// The codec lives in codec.cpp, instantiated there for every message.
#define VRIFT_PROTO_EXTERN(Name)                                                                   \
  extern template size_t encode<Name>(uint8_t*, size_t, uint32_t, const Name&) noexcept;           \
  extern template Err decode<Name>(const Frame&, Name*) noexcept;                                  \
  extern template Err decode_payload<Name>(const uint8_t*, size_t, Name*) noexcept;
VRIFT_PROTO_MESSAGES(VRIFT_PROTO_EXTERN)
#undef VRIFT_PROTO_EXTERN

} // namespace vrift::proto

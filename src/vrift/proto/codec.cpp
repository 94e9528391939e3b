// The encoder and the decoder: two visitors over each message's schema (messages.h). Both
// apply the same field rules, through the check_* functions below, so that whatever encode()
// accepts decode() accepts, and the other way round. Integers are written byte by byte in
// little-endian order (compilers turn that into one load or store).
#include "vrift/proto/codec.h"

#include <cstring>

namespace vrift::proto {
namespace {

// ---- Field rules shared by both directions ------------------------------------------------

Err check_text(std::string_view s, size_t max) {
  if (s.size() > max) return Err::BadString;
  if (std::memchr(s.data(), 0, s.size()) != nullptr) return Err::BadString;
  return Err::Ok;
}
Err check_target(std::string_view s) {
  return s.empty() ? Err::BadString : check_text(s, kMaxPathLen);
}
Err check_relpath(std::string_view s) {
  if (s.size() > kMaxPathLen) return Err::BadString;
  return valid_relpath(s) ? Err::Ok : Err::BadPath;
}
Err check_abspath(std::string_view s) {
  if (s.size() > kMaxPathLen) return Err::BadString;
  return valid_abspath(s) ? Err::Ok : Err::BadPath;
}
constexpr bool mode_ok(uint32_t mode) { return (mode & ~07777u) == 0; }
constexpr bool flags_ok(uint32_t flags, uint32_t mask) { return (flags & ~mask) == 0; }

// ---- Decoder ------------------------------------------------------------------------------

// Reads fields in order; the first error sticks and makes every later read a no-op.
class Reader {
public:
  Reader(const uint8_t* p, size_t n) : m_p(p), m_n(n) {}

  void u16(uint16_t& x) {
    if (const uint8_t* b = take(2)) x = static_cast<uint16_t>(b[0] | (b[1] << 8));
  }
  void u32(uint32_t& x) {
    if (const uint8_t* b = take(4)) x = load32(b);
  }
  void u64(uint64_t& x) {
    if (const uint8_t* b = take(8)) x = load32(b) | (static_cast<uint64_t>(load32(b + 4)) << 32);
  }
  void i64(int64_t& x) {
    uint64_t u = 0;
    u64(u);
    x = static_cast<int64_t>(u); // two's complement, defined since C++20
  }
  template <class E> void enum16(E& e) {
    uint16_t x = 0;
    u16(x);
    e = static_cast<E>(x);
  }
  void session(uint64_t& x) {
    u64(x);
    check(x != 0);
  }
  void mode(uint32_t& x) {
    u32(x);
    check(mode_ok(x));
  }
  void flags(uint32_t& x, uint32_t mask) {
    u32(x);
    check(flags_ok(x, mask));
  }
  void hash(Hash32& h) {
    if (const uint8_t* b = take(kHashSize)) std::memcpy(h.data(), b, kHashSize);
  }
  void relpath(std::string_view& s) { str(s, check_relpath); }
  void abspath(std::string_view& s) { str(s, check_abspath); }
  void target(std::string_view& s) { str(s, check_target); }
  void text(std::string_view& s, size_t max) {
    str(s, nullptr);
    if (m_err == Err::Ok) fail(check_text(s, max));
  }
  void check(bool ok) {
    if (!ok) fail(Err::BadField);
  }
  /// The fields after this one were added later (present only with a capability): a payload
  /// that ends exactly here leaves them at their defaults and PRESENT false.
  void optional_tail(bool& present) {
    present = m_err == Err::Ok && m_pos != m_n;
    if (m_err == Err::Ok && !present) m_ended = true;
  }

  /// The verdict: the first error, else TrailingBytes if the payload goes on (and may not).
  Err finish(bool extensible) const {
    if (m_err == Err::Ok && !extensible && m_pos != m_n) return Err::TrailingBytes;
    return m_err;
  }

private:
  static uint32_t load32(const uint8_t* b) {
    return static_cast<uint32_t>(b[0]) | (static_cast<uint32_t>(b[1]) << 8) |
           (static_cast<uint32_t>(b[2]) << 16) | (static_cast<uint32_t>(b[3]) << 24);
  }
  const uint8_t* take(size_t k) {
    if (m_err != Err::Ok || m_ended) return nullptr;
    if (m_n - m_pos < k) {
      m_err = Err::Truncated;
      return nullptr;
    }
    const uint8_t* b = m_p + m_pos;
    m_pos += k;
    return b;
  }
  void str(std::string_view& s, Err (*rule)(std::string_view)) {
    uint16_t len = 0;
    u16(len);
    if (const uint8_t* b = take(len)) {
      s = std::string_view(reinterpret_cast<const char*>(b), len);
      if (rule != nullptr) fail(rule(s));
    }
  }
  void fail(Err e) {
    if (m_err == Err::Ok) m_err = e;
  }

  const uint8_t* m_p;
  size_t m_n;
  size_t m_pos = 0;
  Err m_err = Err::Ok;
  bool m_ended = false; ///< an optional tail was absent
};

// ---- Encoder ------------------------------------------------------------------------------

// Writes fields in order while they fit; remembers an overflow or a broken rule, in which case
// encode() returns 0. Never writes at or beyond m_cap.
class Writer {
public:
  Writer(uint8_t* buf, size_t cap, size_t pos) : m_buf(buf), m_cap(cap), m_pos(pos) {}

  void u16(const uint16_t& x) { put(x, 2); }
  void u32(const uint32_t& x) { put(x, 4); }
  void u64(const uint64_t& x) { put(x, 8); }
  void i64(const int64_t& x) { put(static_cast<uint64_t>(x), 8); }
  template <class E> void enum16(const E& e) { put(static_cast<uint16_t>(e), 2); }
  void session(const uint64_t& x) {
    check(x != 0);
    u64(x);
  }
  void mode(const uint32_t& x) {
    check(mode_ok(x));
    u32(x);
  }
  void flags(const uint32_t& x, uint32_t mask) {
    check(flags_ok(x, mask));
    u32(x);
  }
  void hash(const Hash32& h) { bytes(h.data(), kHashSize); }
  void relpath(const std::string_view& s) { str(s, check_relpath(s)); }
  void abspath(const std::string_view& s) { str(s, check_abspath(s)); }
  void target(const std::string_view& s) { str(s, check_target(s)); }
  void text(const std::string_view& s, size_t max) { str(s, check_text(s, max)); }
  void check(bool ok) { m_ok = m_ok && ok; }
  /// Without PRESENT the fields after this one are not written.
  void optional_tail(const bool& present) { m_ended = m_ended || !present; }

  bool ok() const { return m_ok; }
  size_t pos() const { return m_pos; }

private:
  void put(uint64_t x, size_t width) {
    if (m_ended || !room(width)) return;
    for (size_t i = 0; i < width; ++i)
      m_buf[m_pos + i] = static_cast<uint8_t>(x >> (8 * i));
    m_pos += width;
  }
  void bytes(const void* p, size_t k) {
    if (m_ended || !room(k)) return;
    if (k != 0) std::memcpy(m_buf + m_pos, p, k);
    m_pos += k;
  }
  void str(std::string_view s, Err rule) {
    if (m_ended) return; // past an absent optional tail: neither written nor checked
    check(rule == Err::Ok);
    if (!m_ok) return; // a bad string's length may not even fit its u16
    put(s.size(), 2);
    bytes(s.data(), s.size());
  }
  bool room(size_t k) {
    if (m_ok && m_cap - m_pos >= k) return true;
    m_ok = false;
    return false;
  }

  uint8_t* m_buf;
  size_t m_cap;
  size_t m_pos;
  bool m_ok = true;
  bool m_ended = false; ///< past an absent optional tail
};

template <class M> constexpr bool extensible() {
  if constexpr (requires { M::kExtensible; }) {
    return M::kExtensible;
  } else {
    return false;
  }
}

} // namespace

template <class M> size_t encode(uint8_t* buf, size_t cap, uint32_t id, const M& m) noexcept {
  if (buf == nullptr || cap < kHeaderSize) return 0;
  Writer w(buf, cap, kHeaderSize);
  M::fields(w, m);
  if (!w.ok() || w.pos() > kMaxFrameSize) return 0;
  write_header(buf, M::kType, id, static_cast<uint32_t>(w.pos() - kHeaderSize));
  return w.pos();
}

template <class M> Err decode_payload(const uint8_t* payload, size_t len, M* out) noexcept {
  static const uint8_t kEmpty = 0;
  Reader r(payload != nullptr ? payload : &kEmpty, payload != nullptr ? len : 0);
  M m;
  M::fields(r, m);
  Err e = r.finish(extensible<M>());
  if (e == Err::Ok) *out = m;
  return e;
}

template <class M> Err decode(const Frame& f, M* out) noexcept {
  if (f.type != M::kType) return Err::WrongType;
  return decode_payload(f.payload, f.length, out);
}

#define VRIFT_PROTO_INSTANTIATE(Name)                                                              \
  template size_t encode<Name>(uint8_t*, size_t, uint32_t, const Name&) noexcept;                  \
  template Err decode<Name>(const Frame&, Name*) noexcept;                                         \
  template Err decode_payload<Name>(const uint8_t*, size_t, Name*) noexcept;
VRIFT_PROTO_MESSAGES(VRIFT_PROTO_INSTANTIATE)
#undef VRIFT_PROTO_INSTANTIATE

bool negotiate(const Hello& ours, const Hello& peer, HelloReply* reply) noexcept {
  uint16_t v = peer.max_version < ours.max_version ? peer.max_version : ours.max_version;
  uint16_t lo = peer.min_version > ours.min_version ? peer.min_version : ours.min_version;
  if (v < lo) return false;
  reply->version = v;
  reply->role = ours.role;
  reply->max_frame = ours.max_frame;
  reply->capabilities = ours.capabilities & peer.capabilities;
  reply->pid = ours.pid;
  return true;
}

bool accept_hello_reply(const Hello& ours, const HelloReply& reply) noexcept {
  return reply.version >= ours.min_version && reply.version <= ours.max_version &&
         (reply.capabilities & ~ours.capabilities) == 0 && reply.max_frame >= kMinFrameLimit;
}

} // namespace vrift::proto

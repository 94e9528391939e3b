// Fuzz target for the wire protocol decoder (src/vrift/proto). The input is read twice:
//  1. as a byte stream: frames are taken off it with read_frame() until it fails or ends, each
//     one decoded as whatever its type says (visit);
//  2. as a bare payload of every message type in turn, so that mutations reach each schema's
//     checks without first having to produce a valid header.
// Whatever decodes must encode again (the encoder and the decoder apply the same rules), to
// exactly the same bytes (one encoding per message; HELLO and HELLO_REPLY may drop trailing
// bytes), and decode back to an equal message; a buffer one byte short must make encode()
// return 0 without writing past it. read_frame must never claim bytes it was not given.
// The input, as a string, also checks the word-at-a-time path rules against a plain
// component-by-component reference.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <type_traits>

#include "vrift/proto/codec.h"

namespace {

using namespace vrift::proto;

[[noreturn]] void fail_check(const char* what, MsgType t) {
  std::fprintf(stderr, "proto_fuzz: %s: %s\n", type_name(t), what);
  std::abort();
}

uint8_t g_out[kMaxFrameSize + 64];
uint8_t g_short[kMaxFrameSize];

bool same_bytes(const uint8_t* a, const uint8_t* b, size_t n) {
  return n == 0 || std::memcmp(a, b, n) == 0; // memcmp's pointers must be valid even for n == 0
}

template <class M> constexpr bool extensible() {
  if constexpr (requires { M::kExtensible; })
    return M::kExtensible;
  else
    return false;
}

// `payload` decoded into m; checks that m re-encodes to the same payload and decodes back to m.
template <class M> void check_message(const M& m, uint32_t id, const uint8_t* payload, size_t len) {
  size_t n = encode(g_out, sizeof g_out, id, m);
  if (n == 0) fail_check("the encoder refuses what the decoder accepted", M::kType);
  if (n > max_frame_size<M>()) fail_check("larger than max_frame_size", M::kType);
  size_t plen = n - kHeaderSize;
  bool same = (extensible<M>() ? plen <= len : plen == len) &&
              same_bytes(g_out + kHeaderSize, payload, plen);
  if (!same) fail_check("re-encoding gives different bytes", M::kType);

  Frame f;
  size_t used = 0;
  if (read_frame(g_out, n, kMaxFrameSize, &f, &used) != Err::Ok || used != n || f.id != id ||
      f.type != M::kType)
    fail_check("an encoded frame does not read back", M::kType);
  M again;
  if (decode(f, &again) != Err::Ok) fail_check("an encoded frame does not decode", M::kType);
  if (!(again == m)) fail_check("decode(encode(x)) != x", M::kType);

  // One byte short: nothing written at or past the end.
  std::memset(g_short, 0xA5, n);
  if (encode(g_short, n - 1, id, m) != 0) fail_check("encode ignored its capacity", M::kType);
  if (g_short[n - 1] != 0xA5) fail_check("encode wrote past its capacity", M::kType);
}

// The path rules written the obvious way (docs/protocol.md section 5).
bool reference_components_ok(std::string_view p) {
  if (p.find('\0') != std::string_view::npos) return false;
  size_t start = 0;
  for (;;) {
    size_t end = p.find('/', start);
    std::string_view c = p.substr(start, end == std::string_view::npos ? p.npos : end - start);
    if (c.empty() || c == "." || c == "..") return false;
    if (end == std::string_view::npos) return true;
    start = end + 1;
  }
}
bool reference_relpath(std::string_view p) {
  return !p.empty() && p.size() <= kMaxPathLen && reference_components_ok(p);
}
bool reference_abspath(std::string_view p) {
  if (p.empty() || p.size() > kMaxPathLen || p[0] != '/') return false;
  return p.size() == 1 || reference_components_ok(p.substr(1));
}

void path_pass(const uint8_t* data, size_t size) {
  std::string_view all(reinterpret_cast<const char*>(data), size);
  for (size_t skip = 0; skip < 8 && skip <= size; ++skip) { // every alignment of the words
    std::string_view p = all.substr(skip);
    if (valid_relpath(p) != reference_relpath(p)) fail_check("valid_relpath is wrong", {});
    if (valid_abspath(p) != reference_abspath(p)) fail_check("valid_abspath is wrong", {});
  }
}

void stream_pass(const uint8_t* data, size_t size, uint32_t limit) {
  size_t pos = 0;
  while (pos < size) {
    Frame f;
    size_t used = 0;
    Err e = read_frame(data + pos, size - pos, limit, &f, &used);
    if (e != Err::Ok) {
      if (e == Err::NeedMore && size - pos >= limit) fail_check("NeedMore past the limit", f.type);
      return;
    }
    if (used < kHeaderSize || used > size - pos || used > limit)
      fail_check("read_frame consumed a wrong size", f.type);
    Err v = visit(f, [&](const auto& m) { check_message(m, f.id, f.payload, f.length); });
    if (v == Err::NeedMore || (v == Err::Ok && !is_known_type(f.type)))
      fail_check("visit returned an impossible result", f.type);
    if (v == Err::UnknownType && is_known_type(f.type))
      fail_check("a known type was called unknown", f.type);
    pos += used;
  }
}

void payload_pass(const uint8_t* data, size_t size) {
#define VRIFT_FUZZ_PAYLOAD(Name)                                                                   \
  {                                                                                                \
    Name m;                                                                                        \
    if (decode_payload(data, size, &m) == Err::Ok) check_message(m, 7, data, size);                \
  }
  VRIFT_PROTO_MESSAGES(VRIFT_FUZZ_PAYLOAD)
#undef VRIFT_FUZZ_PAYLOAD
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  stream_pass(data, size, kMaxFrameSize);
  stream_pass(data, size, kMinFrameLimit);
  payload_pass(data, size);
  path_pass(data, size);
  return 0;
}

// The protocol codec: every message type round-trips with boundary values and any request id;
// cutting a frame anywhere, appending bytes, or giving the encoder too little room fails the
// way docs/protocol.md says. Also writes the fuzz seed corpus on request (ProtoCorpus below).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <vector>

#include "vrift/proto/codec.h"

namespace vrift::proto {
namespace {

// Longest legal values of each kind of string.
const std::string kMaxRel = [] {
  std::string s;
  while (s.size() < kMaxPathLen - 2)
    s += "d/";
  return s + "fx";
}();
const std::string kLongName(kMaxPathLen, 'x');
const std::string kMaxAbs = "/" + std::string(kMaxPathLen - 1, 'y');
const std::string kMaxTarget = [] {
  std::string s;
  while (s.size() + 3 <= kMaxPathLen)
    s += "../";
  return s + std::string(kMaxPathLen - s.size(), 'z');
}();
const std::string kMaxText = [] {
  std::string s = "caf\xc3\xa9 \xff\x01\n";
  return s + std::string(kMaxMessageLen - s.size(), 'm');
}();
const std::string kMaxVersion(kMaxVersionLen, 'v');

Hash32 pattern_hash() {
  Hash32 h;
  for (size_t i = 0; i < h.size(); ++i)
    h[i] = static_cast<uint8_t>(0xff - i * 7);
  return h;
}

// Calls f(msg) for a handful of messages of every type: the smallest and largest values each
// field allows, and ordinary ones.
template <class F> void for_each_sample(F&& f) {
  f(Hello{});
  f(Hello{1, 1, Role::Shim, kMinFrameLimit, 0, 1});
  f(Hello{1, 0xffff, static_cast<Role>(0xffff), 0xffffffff, ~0ull, 0xffffffff});
  f(HelloReply{});
  f(HelloReply{0xffff, static_cast<Role>(0), kMinFrameLimit, ~0ull, 0xffffffff});
  f(HelloReply{1, Role::Daemon, kMaxFrameSize, kCapabilities, 4242, true, "/home/u/.vrift/src"});
  f(Ping{});
  f(StatusQuery{});
  f(Shutdown{});
  f(OkReply{});
  f(SessionOpen{"/", "/m"});
  f(SessionOpen{"/home/u/proj", "/home/u/.vrift/the_source/manifests/ab.vmf"});
  f(SessionOpen{kMaxAbs, kMaxAbs});
  f(SessionOpen{"/r", "/m", true, 0, 0});
  f(SessionOpen{kMaxAbs, kMaxAbs, true, kOpenFlagsMask, ~0ull});
  f(SessionOpen{"/r", "/m", true, kOpenWatchTree, 1, true, pattern_hash()});
  f(SessionOpen{kMaxAbs, kMaxAbs, true, kOpenFlagsMask, ~0ull, true, Hash32{}});
  f(SessionReply{1, 0, "/dev/shm/vrift-1000-ab12"});
  f(SessionReply{~0ull, ~0ull, kMaxAbs});
  f(SessionReply{1, 0, "/dev/shm/v", true, 0});
  f(SessionReply{~0ull, ~0ull, kMaxAbs, true, kSessionFlagsMask});
  f(SessionClose{1});
  f(SessionClose{~0ull});
  f(SessionLease{});
  f(Commit{7, "target/main.o", "/p/.vrift/staging/pid_1/fd_3.tmp"});
  f(Commit{~0ull, kMaxRel, kMaxAbs});
  f(Commit{1, "a", "/"});
  f(CommitReply{});
  f(CommitReply{pattern_hash(), ~0ull});
  f(Unlink{1, "a"});
  f(Unlink{~0ull, kLongName});
  f(Rename{3, 0, "a/b.tmp", "a/b"});
  f(Rename{3, kRenameNoReplace, "x", "y"});
  f(Rename{~0ull, kRenameExchange, kMaxRel, kLongName});
  f(Mkdir{2, 0, "d"});
  f(Mkdir{2, 07777, kMaxRel});
  f(Rmdir{2, "d/e"});
  f(Chmod{4, 0644, 0, "f"});
  f(Chmod{4, 07777, kNoFollow, kMaxRel});
  f(Utimens{5, kTimeNow, kTimeOmit, 0, "t"});
  f(Utimens{5, INT64_MAX, -1, kNoFollow, kMaxRel});
  f(Utimens{5, 0, 1700000000123456789, 0, ".hidden/..x/...y"});
  f(Truncate{6, 0, "f"});
  f(Truncate{6, static_cast<uint64_t>(INT64_MAX), kMaxRel});
  f(Symlink{8, "/", "l"});
  f(Symlink{8, kMaxTarget, kMaxRel});
  f(Link{9, 0, "a", "b"});
  f(Link{9, kLinkFollow, kMaxRel, kLongName});
  f(StatusReply{0, 0, 0, 0, 0, 0, 0, 0, "", "/"});
  f(StatusReply{1, 2, 3, 4, 5, 6, 7, 8, "0.1.0", "/home/u/.vrift/the_source"});
  f(StatusReply{~0u, ~0u, ~0u, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, kMaxVersion, kMaxAbs});
  f(ErrorReply{ErrorKind::NoEnt, ""});
  f(ErrorReply{ErrorKind::UnsupportedVersion, "client speaks 2..3, daemon 1..1"});
  f(ErrorReply{static_cast<ErrorKind>(0xffff), kMaxText});
}

// The frame for m; fails the test (and returns a bare header) when m does not encode.
template <class M> std::vector<uint8_t> encoded(const M& m, uint32_t id = 42) {
  std::vector<uint8_t> buf(kMaxV1Frame);
  size_t n = encode(buf.data(), buf.size(), id, m);
  EXPECT_NE(n, 0u) << type_name(M::kType) << " does not encode";
  buf.resize(n != 0 ? n : kHeaderSize);
  return buf;
}

template <class M> void expect_round_trip(const M& m, uint32_t id) {
  SCOPED_TRACE(type_name(M::kType));
  std::vector<uint8_t> buf = encoded(m, id);
  EXPECT_LE(buf.size(), max_frame_size<M>());
  Frame f;
  size_t used = 0;
  ASSERT_EQ(read_frame(buf.data(), buf.size(), kMaxFrameSize, &f, &used), Err::Ok);
  EXPECT_EQ(used, buf.size());
  EXPECT_EQ(f.id, id);
  EXPECT_EQ(f.type, M::kType);
  EXPECT_EQ(f.length, buf.size() - kHeaderSize);
  M out;
  ASSERT_EQ(decode(f, &out), Err::Ok);
  EXPECT_TRUE(out == m);
  bool seen = false;
  EXPECT_EQ(visit(f,
                  [&](const auto& x) {
                    if constexpr (std::is_same_v<std::decay_t<decltype(x)>, M>) seen = x == m;
                  }),
            Err::Ok);
  EXPECT_TRUE(seen);
  EXPECT_EQ(encoded(out, id), buf) << "one encoding per message";
}

TEST(ProtoCodec, EveryMessageRoundTripsWithAnyId) {
  size_t count = 0;
  for (uint32_t id : {0u, 1u, 0x7fffffffu, 0xffffffffu})
    for_each_sample([&](const auto& m) {
      expect_round_trip(m, id);
      ++count;
    });
  EXPECT_GT(count, 4u * 22u);
}

TEST(ProtoCodec, EveryTypeHasSamplesAndAName) {
  std::vector<MsgType> types;
  for_each_sample([&](const auto& m) { types.push_back(std::decay_t<decltype(m)>::kType); });
#define VRIFT_CHECK_TYPE(Name)                                                                     \
  EXPECT_NE(std::find(types.begin(), types.end(), MsgType::Name), types.end()) << #Name;           \
  EXPECT_TRUE(is_known_type(MsgType::Name));                                                       \
  EXPECT_STRNE(type_name(MsgType::Name), "unknown");                                               \
  EXPECT_EQ(is_reply(MsgType::Name), std::string(#Name).find("Reply") != std::string::npos)        \
      << #Name;
  VRIFT_PROTO_MESSAGES(VRIFT_CHECK_TYPE)
#undef VRIFT_CHECK_TYPE
  EXPECT_FALSE(is_known_type(static_cast<MsgType>(0)));
  EXPECT_FALSE(is_known_type(static_cast<MsgType>(0x0030)));
}

TEST(ProtoCodec, LayoutMatchesTheSpec) {
  // docs/protocol.md section 2 and 5, byte for byte.
  std::vector<uint8_t> c = encoded(Commit{0x0102030405060708, "ab", "/s"}, 0xa1b2c3d4);
  std::vector<uint8_t> want = {'V',  'R',  'P', '1', 0x20, 0x00, 0x00, 0x00, 0xd4, 0xc3, 0xb2,
                               0xa1, 16,   0,   0,   0,    0x08, 0x07, 0x06, 0x05, 0x04, 0x03,
                               0x02, 0x01, 2,   0,   'a',  'b',  2,    0,    '/',  's'};
  EXPECT_EQ(c, want);
  std::vector<uint8_t> h = encoded(Hello{1, 2, Role::Cli, 65536, 5, 77}, 1);
  ASSERT_EQ(h.size(), kHeaderSize + 22);
  std::vector<uint8_t> hello_payload(h.begin() + kHeaderSize, h.end());
  std::vector<uint8_t> want_hello = {1, 0, 2, 0, 1, 0, 0, 0,  1, 0, 5,
                                     0, 0, 0, 0, 0, 0, 0, 77, 0, 0, 0};
  EXPECT_EQ(hello_payload, want_hello);
  EXPECT_EQ(encoded(HelloReply{}).size(), kHeaderSize + 20);
  EXPECT_EQ(encoded(Ping{}).size(), kHeaderSize);
}

TEST(ProtoCodec, SizeBoundsAreTightAndFitTheSmallestLimit) {
  // SESSION_OPEN of two 4096-byte paths with both tails; RENAME/LINK's two paths come next.
  EXPECT_EQ(kMaxV1Frame, 8256u);
  EXPECT_EQ(
      encoded(SessionOpen{kMaxAbs, kMaxAbs, true, kOpenFlagsMask, ~0ull, true, Hash32{}}).size(),
      kMaxV1Frame);
  EXPECT_EQ(encoded(Rename{1, 0, kMaxRel, kMaxRel}).size(), max_frame_size<Rename>());
  EXPECT_EQ(encoded(Link{1, 0, kMaxRel, kMaxRel}).size(), 8224u);
  EXPECT_EQ(encoded(ErrorReply{ErrorKind::Io, kMaxText}).size(), max_frame_size<ErrorReply>());
  EXPECT_LE(kMaxV1Frame, kMinFrameLimit);
}

TEST(ProtoCodec, TruncatedAtEveryCutPoint) {
  for_each_sample([](const auto& m) {
    using M = std::decay_t<decltype(m)>;
    SCOPED_TRACE(type_name(M::kType));
    std::vector<uint8_t> buf = encoded(m);
    const uint8_t* payload = buf.data() + kHeaderSize;
    size_t plen = buf.size() - kHeaderSize;
    for (size_t cut = 0; cut < buf.size(); ++cut) {
      Frame f;
      size_t used = 0;
      ASSERT_EQ(read_frame(buf.data(), cut, kMaxFrameSize, &f, &used), Err::NeedMore) << cut;
    }
    // Long samples: every cut near each field boundary and a stride through the strings.
    for (size_t cut = 0; cut < plen; cut += (cut < 64 || plen - cut < 64) ? 1 : 61) {
      M out = m;
      if constexpr (std::is_same_v<M, SessionReply>) {
        if (m.has_flags && cut == plen - 4) { // exactly without the optional tail: the old form
          ASSERT_EQ(decode_payload(payload, cut, &out), Err::Ok);
          EXPECT_FALSE(out.has_flags);
          continue;
        }
      }
      if constexpr (std::is_same_v<M, SessionOpen>) {
        const size_t second = m.has_walked_id ? kHashSize : 0;
        if (m.has_tail && cut == plen - second - 12) { // exactly without the tails: the old form
          ASSERT_EQ(decode_payload(payload, cut, &out), Err::Ok);
          EXPECT_FALSE(out.has_tail);
          EXPECT_FALSE(out.has_walked_id);
          continue;
        }
        if (m.has_walked_id && cut == plen - kHashSize) { // without the second tail
          ASSERT_EQ(decode_payload(payload, cut, &out), Err::Ok);
          EXPECT_TRUE(out.has_tail);
          EXPECT_EQ(out.unchanged_before_ns, m.unchanged_before_ns);
          EXPECT_FALSE(out.has_walked_id);
          continue;
        }
      }
      if constexpr (std::is_same_v<M, HelloReply>) {
        if (m.has_store && cut == plen - 2 - m.store_root.size()) { // the greeting without it
          ASSERT_EQ(decode_payload(payload, cut, &out), Err::Ok);
          EXPECT_FALSE(out.has_store);
          EXPECT_TRUE(out.store_root.empty());
          continue;
        }
      }
      ASSERT_EQ(decode_payload(payload, cut, &out), Err::Truncated) << cut;
      EXPECT_TRUE(out == m) << "an error leaves *out unchanged";
    }
  });
}

TEST(ProtoCodec, TrailingBytesRejectedExceptInTheGreeting) {
  for_each_sample([](const auto& m) {
    using M = std::decay_t<decltype(m)>;
    SCOPED_TRACE(type_name(M::kType));
    std::vector<uint8_t> p = encoded(m);
    p.erase(p.begin(), p.begin() + kHeaderSize);
    p.push_back(0);
    M out;
    bool greeting = M::kType == MsgType::Hello || M::kType == MsgType::HelloReply;
    Err want = greeting ? Err::Ok : Err::TrailingBytes;
    if constexpr (std::is_same_v<M, SessionReply>) {
      if (!m.has_flags) want = Err::Truncated; // the byte starts an optional tail, cut short
    }
    if constexpr (std::is_same_v<M, SessionOpen>) {
      if (!m.has_walked_id) want = Err::Truncated; // likewise (the first tail, or the second)
    }
    if constexpr (std::is_same_v<M, HelloReply>) {
      if (!m.has_store) want = Err::Truncated; // likewise; after the store, bytes are ignored
    }
    ASSERT_EQ(decode_payload(p.data(), p.size(), &out), want);
    if (want == Err::Ok) {
      EXPECT_TRUE(out == m);
    }
  });
}

TEST(ProtoCodec, EncoderOverflowReturnsZeroAndStaysInsideCap) {
  for_each_sample([](const auto& m) {
    SCOPED_TRACE(type_name(std::decay_t<decltype(m)>::kType));
    size_t need = encoded(m).size();
    std::vector<uint8_t> buf(need + 64);
    // Every capacity below the need for small messages; a sample of them for large ones.
    for (size_t cap = 0; cap < need; cap += (cap < 96 || need - cap < 96) ? 1 : 127) {
      std::fill(buf.begin(), buf.end(), 0xA5);
      ASSERT_EQ(encode(buf.data(), cap, 1, m), 0u) << cap;
      for (size_t i = cap; i < buf.size(); ++i)
        ASSERT_EQ(buf[i], 0xA5) << cap << " " << i;
    }
    EXPECT_EQ(encode(buf.data(), need, 1, m), need);
    EXPECT_EQ(encode(nullptr, 0, 1, m), 0u);
  });
}

TEST(ProtoCodec, EncoderRefusesWhatTheDecoderWouldReject) {
  uint8_t buf[kMaxV1Frame + 16];
  auto enc = [&](const auto& m) { return encode(buf, sizeof buf, 1, m); };
  EXPECT_EQ(enc(Commit{0, "a", "/s"}), 0u);             // session 0
  EXPECT_EQ(enc(Commit{1, "", "/s"}), 0u);              // empty path
  EXPECT_EQ(enc(Commit{1, "../a", "/s"}), 0u);          // escapes
  EXPECT_EQ(enc(Commit{1, "/a", "/s"}), 0u);            // absolute
  EXPECT_EQ(enc(Commit{1, "a", "s"}), 0u);              // staging not absolute
  EXPECT_EQ(enc(Commit{1, "a", "/s/../t"}), 0u);        // staging not canonical
  EXPECT_EQ(enc(Commit{1, kLongName + "x", "/s"}), 0u); // too long
  EXPECT_EQ(enc(Unlink{1, std::string_view("a\0b", 3)}), 0u);
  EXPECT_EQ(enc(Mkdir{1, 010000, "d"}), 0u);
  EXPECT_EQ(enc(Chmod{1, 0644, 2, "f"}), 0u);
  EXPECT_EQ(enc(Rename{1, kRenameNoReplace | kRenameExchange, "a", "b"}), 0u);
  EXPECT_EQ(enc(Rename{1, 4, "a", "b"}), 0u);
  EXPECT_EQ(enc(Link{1, 2, "a", "b"}), 0u);
  EXPECT_EQ(enc(Utimens{1, 0, 0, 2, "f"}), 0u);
  EXPECT_EQ(enc(Truncate{1, static_cast<uint64_t>(INT64_MAX) + 1, "f"}), 0u);
  EXPECT_EQ(enc(Symlink{1, "", "l"}), 0u);
  EXPECT_EQ(enc(Symlink{1, std::string_view("a\0", 2), "l"}), 0u);
  EXPECT_EQ(enc(Symlink{1, kMaxTarget + "z", "l"}), 0u);
  EXPECT_EQ(enc(Hello{0, 1, Role::Cli, kMaxFrameSize, 0, 1}), 0u);
  EXPECT_EQ(enc(Hello{2, 1, Role::Cli, kMaxFrameSize, 0, 1}), 0u);
  EXPECT_EQ(enc(Hello{1, 1, Role::Cli, kMinFrameLimit - 1, 0, 1}), 0u);
  EXPECT_EQ(enc(HelloReply{0, Role::Daemon, kMaxFrameSize, 0, 1}), 0u);
  EXPECT_EQ(enc(ErrorReply{static_cast<ErrorKind>(0), "x"}), 0u);
  EXPECT_EQ(enc(ErrorReply{ErrorKind::Io, kMaxText + "m"}), 0u);
  EXPECT_EQ(enc(ErrorReply{ErrorKind::Io, std::string_view("a\0", 2)}), 0u);
  EXPECT_EQ(enc(StatusReply{0, 0, 0, 0, 0, 0, 0, 0, kMaxVersion + "v", "/"}), 0u);
  EXPECT_EQ(enc(StatusReply{0, 0, 0, 0, 0, 0, 0, 0, "1", ""}), 0u);
  EXPECT_EQ(enc(SessionReply{0, 1, "/v"}), 0u);
  EXPECT_EQ(enc(SessionReply{1, 1, "/v", true, kSessionFlagsMask + 1}), 0u); // unknown flag
  EXPECT_EQ(enc(SessionOpen{"/r/", "/m"}), 0u);
}

// SESSION_REPLY's flags exist only with kCapSessionFlags: without it the reply is byte for byte
// the version-1 one, and a version-1 reply decodes with has_flags false and no flags.
TEST(ProtoCodec, SessionReplyFlagsAreAnOptionalTail) {
  std::vector<uint8_t> old_form = encoded(SessionReply{5, 9, "/v", false, kSessionSkeletonClean});
  EXPECT_EQ(old_form, encoded(SessionReply{5, 9, "/v"}));
  EXPECT_EQ(old_form.size(), kHeaderSize + 8 + 8 + 2 + 2);
  SessionReply out;
  ASSERT_EQ(decode_payload(old_form.data() + kHeaderSize, old_form.size() - kHeaderSize, &out),
            Err::Ok);
  EXPECT_FALSE(out.has_flags);
  EXPECT_EQ(out.flags, 0u);
  std::vector<uint8_t> with = encoded(SessionReply{5, 9, "/v", true, kSessionSkeletonClean});
  ASSERT_EQ(with.size(), old_form.size() + 4);
  ASSERT_EQ(decode_payload(with.data() + kHeaderSize, with.size() - kHeaderSize, &out), Err::Ok);
  EXPECT_TRUE(out.has_flags);
  EXPECT_EQ(out.flags, kSessionSkeletonClean);
  with[with.size() - 1] = 0x80; // an unknown flag bit
  EXPECT_EQ(decode_payload(with.data() + kHeaderSize, with.size() - kHeaderSize, &out),
            Err::BadField);
}

// SESSION_OPEN's tail (kCapTreeWatch): without it the request is byte for byte the version-1
// one, which a daemon of any age reads; with it, flags it does not know are refused.
TEST(ProtoCodec, SessionOpenTailIsOptional) {
  std::vector<uint8_t> old_form = encoded(SessionOpen{"/r", "/m", false, kOpenWatchTree, 9});
  EXPECT_EQ(old_form, encoded(SessionOpen{"/r", "/m"}));
  SessionOpen out;
  ASSERT_EQ(decode_payload(old_form.data() + kHeaderSize, old_form.size() - kHeaderSize, &out),
            Err::Ok);
  EXPECT_FALSE(out.has_tail);
  EXPECT_EQ(out.flags, 0u);
  std::vector<uint8_t> with = encoded(SessionOpen{"/r", "/m", true, kOpenWatchTree, 1234});
  ASSERT_EQ(with.size(), old_form.size() + 12);
  ASSERT_EQ(decode_payload(with.data() + kHeaderSize, with.size() - kHeaderSize, &out), Err::Ok);
  EXPECT_TRUE(out.has_tail);
  EXPECT_EQ(out.flags, kOpenWatchTree);
  EXPECT_EQ(out.unchanged_before_ns, 1234u);
  std::vector<uint8_t> buf(kMaxV1Frame);
  EXPECT_EQ(encode(buf.data(), buf.size(), 1, SessionOpen{"/r", "/m", true, kOpenFlagsMask + 1, 0}),
            0u); // an unknown flag
}

TEST(ProtoCodec, Negotiation) {
  Hello daemon{1, 3, Role::Daemon, kMaxFrameSize, 0b1011, 100};
  HelloReply r;
  ASSERT_TRUE(negotiate(daemon, Hello{1, 1, Role::Shim, kMinFrameLimit, 0b0110, 7}, &r));
  EXPECT_EQ(r.version, 1);
  EXPECT_EQ(r.capabilities, 0b0010u);
  EXPECT_EQ(r.pid, 100u);
  EXPECT_EQ(r.role, Role::Daemon);
  EXPECT_EQ(r.max_frame, kMaxFrameSize);
  ASSERT_TRUE(negotiate(daemon, Hello{2, 9, Role::Cli, kMaxFrameSize, 0, 7}, &r));
  EXPECT_EQ(r.version, 3);
  EXPECT_FALSE(negotiate(daemon, Hello{4, 5, Role::Cli, kMaxFrameSize, 0, 7}, &r));
  EXPECT_FALSE(negotiate(Hello{2, 3}, Hello{1, 1}, &r));

  Hello client{1, 2, Role::Cli, kMaxFrameSize, 0b11, 7};
  EXPECT_TRUE(accept_hello_reply(client, HelloReply{2, Role::Daemon, kMinFrameLimit, 0b01, 1}));
  EXPECT_FALSE(accept_hello_reply(client, HelloReply{3, Role::Daemon, kMaxFrameSize, 0, 1}));
  EXPECT_FALSE(accept_hello_reply(client, HelloReply{1, Role::Daemon, kMaxFrameSize, 0b100, 1}));
}

// The fuzz target's checked-in seeds (tests/fuzz/corpus/proto, replayed under ctest) are the
// samples above as the codec encodes them today, one per file named <type>-<n>: a change of the
// encoding that leaves them stale fails here. To write them again:
//   VRIFT_PROTO_WRITE_CORPUS=tests/fuzz/corpus/proto build/tests/vrift_unit_tests
//       --gtest_filter=ProtoCorpus.*
TEST(ProtoCorpus, SeedsMatchTheCodec) {
  const char* out = std::getenv("VRIFT_PROTO_WRITE_CORPUS");
  const std::string dir = out ? out : VRIFT_PROTO_CORPUS_DIR;
  int n = 0;
  uint32_t id = 1;
  for_each_sample([&](const auto& m) {
    std::vector<uint8_t> buf = encoded(m, id++);
    if (buf.size() > 4096) return; // seeds stay small; the fuzzer grows strings itself
    std::string name =
        dir + "/" + type_name(std::decay_t<decltype(m)>::kType) + "-" + std::to_string(n++);
    FILE* f = std::fopen(name.c_str(), out ? "wb" : "rb");
    ASSERT_NE(f, nullptr) << name << ": missing (write the seeds again, see above)";
    if (out) {
      EXPECT_EQ(std::fwrite(buf.data(), 1, buf.size(), f), buf.size());
    } else {
      std::vector<uint8_t> seed(buf.size() + 1);
      seed.resize(std::fread(seed.data(), 1, seed.size(), f));
      EXPECT_EQ(seed, buf) << name << ": stale (write the seeds again, see above)";
    }
    std::fclose(f);
  });
  EXPECT_GT(n, 20);
}

} // namespace
} // namespace vrift::proto

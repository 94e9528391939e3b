// Frame headers and hand-made bad payloads: short headers, bad magic, reserved flags, oversize
// lengths (rejected from the header alone), unknown types, strings overrunning their payload,
// embedded NULs; the path rules (and that they equal the manifest's); error kinds and errnos.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "vrift/manifest/manifest.h"
#include "vrift/proto/codec.h"

namespace vrift::proto {
namespace {

// A frame built by hand: header fields and a raw payload.
std::vector<uint8_t> frame(uint16_t type, const std::vector<uint8_t>& payload, uint32_t id = 9,
                           uint16_t flags = 0) {
  std::vector<uint8_t> b(kHeaderSize);
  write_header(b.data(), static_cast<MsgType>(type), id, static_cast<uint32_t>(payload.size()));
  b[6] = static_cast<uint8_t>(flags);
  b[7] = static_cast<uint8_t>(flags >> 8);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

// Payload builders.
void put_u64(std::vector<uint8_t>& p, uint64_t x) {
  for (int i = 0; i < 8; ++i)
    p.push_back(static_cast<uint8_t>(x >> (8 * i)));
}
void put_str(std::vector<uint8_t>& p, std::string_view s, size_t claimed_len) {
  p.push_back(static_cast<uint8_t>(claimed_len));
  p.push_back(static_cast<uint8_t>(claimed_len >> 8));
  p.insert(p.end(), s.begin(), s.end());
}
void put_str(std::vector<uint8_t>& p, std::string_view s) { put_str(p, s, s.size()); }

Err decode_as_commit(const std::vector<uint8_t>& bytes) {
  Frame f;
  size_t used = 0;
  Err e = read_frame(bytes.data(), bytes.size(), kMaxFrameSize, &f, &used);
  if (e != Err::Ok) return e;
  Commit c;
  return decode(f, &c);
}

TEST(ProtoFrame, ShortHeaderNeedsMore) {
  std::vector<uint8_t> ping = frame(0x0002, {});
  for (size_t n = 0; n < kHeaderSize; ++n) {
    FrameHeader h;
    EXPECT_EQ(parse_header(ping.data(), n, kMaxFrameSize, &h), Err::NeedMore) << n;
  }
  Frame f;
  size_t used = 0;
  EXPECT_EQ(read_frame(ping.data(), ping.size(), kMaxFrameSize, &f, &used), Err::Ok);
  EXPECT_EQ(used, kHeaderSize);
  EXPECT_EQ(f.length, 0u);
}

TEST(ProtoFrame, BadMagicIsSeenFromTheFirstWrongByte) {
  std::vector<uint8_t> ping = frame(0x0002, {});
  for (size_t i = 0; i < 4; ++i) {
    std::vector<uint8_t> b = ping;
    b[i] ^= 0x20;
    FrameHeader h;
    for (size_t n = i + 1; n <= b.size(); ++n)
      EXPECT_EQ(parse_header(b.data(), n, kMaxFrameSize, &h), Err::BadMagic) << i << " " << n;
  }
  const char http[] = "GET / HTTP/1.1\r\n";
  FrameHeader h;
  EXPECT_EQ(parse_header(reinterpret_cast<const uint8_t*>(http), 1, kMaxFrameSize, &h),
            Err::BadMagic);
  EXPECT_TRUE(is_fatal(Err::BadMagic));
}

TEST(ProtoFrame, ReservedFlagsAreRejected) {
  for (int flags : {1, 0x80, 0x8000}) {
    std::vector<uint8_t> b = frame(0x0002, {}, 1, static_cast<uint16_t>(flags));
    FrameHeader h;
    EXPECT_EQ(parse_header(b.data(), b.size(), kMaxFrameSize, &h), Err::BadFlags) << flags;
  }
}

TEST(ProtoFrame, OversizeLengthRejectedFromTheHeaderAlone) {
  // Only the 16 header bytes exist: the verdict cannot depend on reading the payload.
  uint8_t hdr[kHeaderSize];
  FrameHeader h;
  for (uint32_t len : {0xffffffffu, kMaxFrameSize, uint32_t{kMaxFrameSize - kHeaderSize + 1}}) {
    write_header(hdr, MsgType::Commit, 5, len);
    EXPECT_EQ(parse_header(hdr, sizeof hdr, kMaxFrameSize, &h), Err::TooLarge) << len;
    EXPECT_EQ(parse_header(hdr, sizeof hdr, 0xffffffffu, &h), Err::TooLarge) << "ceiling";
  }
  write_header(hdr, MsgType::Commit, 5, kMaxFrameSize - kHeaderSize);
  EXPECT_EQ(parse_header(hdr, sizeof hdr, kMaxFrameSize, &h), Err::Ok);
  EXPECT_EQ(h.id, 5u);
  // A receiver's smaller limit counts.
  write_header(hdr, MsgType::Commit, 5, kMinFrameLimit - kHeaderSize + 1);
  EXPECT_EQ(parse_header(hdr, sizeof hdr, kMinFrameLimit, &h), Err::TooLarge);
  write_header(hdr, MsgType::Commit, 5, kMinFrameLimit - kHeaderSize);
  EXPECT_EQ(parse_header(hdr, sizeof hdr, kMinFrameLimit, &h), Err::Ok);
  Frame f;
  size_t used = 0;
  EXPECT_EQ(read_frame(hdr, sizeof hdr, kMinFrameLimit, &f, &used), Err::NeedMore);
  EXPECT_EQ(parse_header(hdr, sizeof hdr, 8, &h), Err::TooLarge) << "limit below a header";
}

TEST(ProtoFrame, ConsecutiveFramesInOneBuffer) {
  uint8_t buf[256];
  size_t n1 = encode(buf, sizeof buf, 1, Unlink{3, "a/b"});
  size_t n2 = encode(buf + n1, sizeof buf - n1, 2, Ping{});
  ASSERT_GT(n1, 0u);
  ASSERT_GT(n2, 0u);
  Frame f;
  size_t used = 0;
  ASSERT_EQ(read_frame(buf, n1 + n2, kMaxFrameSize, &f, &used), Err::Ok);
  EXPECT_EQ(used, n1);
  EXPECT_EQ(f.type, MsgType::Unlink);
  ASSERT_EQ(read_frame(buf + used, n1 + n2 - used, kMaxFrameSize, &f, &used), Err::Ok);
  EXPECT_EQ(f.type, MsgType::Ping);
  EXPECT_EQ(f.id, 2u);
}

TEST(ProtoFrame, UnknownAndWrongTypes) {
  for (int t : {0x0000, 0x0005, 0x002a, 0x7fff, 0x8002, 0x8fff, 0xfffe}) {
    std::vector<uint8_t> b = frame(static_cast<uint16_t>(t), {});
    Frame f;
    size_t used = 0;
    ASSERT_EQ(read_frame(b.data(), b.size(), kMaxFrameSize, &f, &used), Err::Ok);
    EXPECT_EQ(visit(f, [](const auto&) { FAIL() << "visited an unknown type"; }), Err::UnknownType);
    EXPECT_EQ(kind_for(Err::UnknownType), ErrorKind::UnknownRequest);
  }
  std::vector<uint8_t> ping = frame(0x0002, {});
  EXPECT_EQ(decode_as_commit(ping), Err::WrongType);
}

TEST(ProtoFrame, StringLengthOverrunningThePayload) {
  std::vector<uint8_t> p;
  put_u64(p, 1);
  put_str(p, "abc", 4); // claims one byte more than there is
  EXPECT_EQ(decode_as_commit(frame(0x0020, p)), Err::Truncated);
  p.clear();
  put_u64(p, 1);
  put_str(p, "abc");
  put_str(p, "/st", 0xffff); // a length far past the end
  EXPECT_EQ(decode_as_commit(frame(0x0020, p)), Err::Truncated);
}

TEST(ProtoFrame, StringsLongerThanTheirMaximum) {
  std::string long_path(kMaxPathLen + 1, 'a');
  std::vector<uint8_t> p;
  put_u64(p, 1);
  put_str(p, long_path);
  put_str(p, "/s");
  EXPECT_EQ(decode_as_commit(frame(0x0020, p)), Err::BadString);
  std::vector<uint8_t> e = {1, 0};
  put_str(e, std::string(kMaxMessageLen + 1, 'm'));
  std::vector<uint8_t> b = frame(0xffff, e);
  Frame f;
  size_t used = 0;
  ASSERT_EQ(read_frame(b.data(), b.size(), kMaxFrameSize, &f, &used), Err::Ok);
  ErrorReply r;
  EXPECT_EQ(decode(f, &r), Err::BadString);
}

TEST(ProtoFrame, EmbeddedNulAndUnsafePathsAreRejected) {
  auto commit_with = [](std::string_view path, std::string_view staging) {
    std::vector<uint8_t> p;
    put_u64(p, 1);
    put_str(p, path);
    put_str(p, staging);
    return decode_as_commit(frame(0x0020, p));
  };
  EXPECT_EQ(commit_with("ok/path", "/s"), Err::Ok);
  EXPECT_EQ(commit_with(std::string_view("a\0b", 3), "/s"), Err::BadPath);
  EXPECT_EQ(commit_with(std::string_view("a\0", 2), "/s"), Err::BadPath);
  EXPECT_EQ(commit_with("a", std::string_view("/s\0", 3)), Err::BadPath);
  EXPECT_EQ(commit_with("../etc/passwd", "/s"), Err::BadPath);
  EXPECT_EQ(commit_with("a/../../b", "/s"), Err::BadPath);
  EXPECT_EQ(commit_with("/etc/passwd", "/s"), Err::BadPath);
  EXPECT_EQ(commit_with("", "/s"), Err::BadPath);
  EXPECT_EQ(commit_with("a", "relative"), Err::BadPath);
  EXPECT_EQ(kind_for(Err::BadPath), ErrorKind::BadPath);

  // Symlink targets and texts may hold anything but NUL.
  std::vector<uint8_t> s;
  put_u64(s, 1);
  put_str(s, std::string_view("x\0y", 3));
  put_str(s, "l");
  std::vector<uint8_t> b = frame(0x0028, s);
  Frame f;
  size_t used = 0;
  ASSERT_EQ(read_frame(b.data(), b.size(), kMaxFrameSize, &f, &used), Err::Ok);
  Symlink sl;
  EXPECT_EQ(decode(f, &sl), Err::BadString);
}

TEST(ProtoFrame, OutOfRangeIntegers) {
  std::vector<uint8_t> p;
  put_u64(p, 0); // session 0
  put_str(p, "a");
  put_str(p, "/s");
  EXPECT_EQ(decode_as_commit(frame(0x0020, p)), Err::BadField);
  EXPECT_EQ(kind_for(Err::BadField), ErrorKind::BadFrame);
}

struct PathCase {
  const char* path;
  bool rel;
  bool abs;
};

TEST(ProtoPaths, RulesAndAgreementWithTheManifest) {
  const PathCase cases[] = {
      {"a", true, false},       {"a/b/c.txt", true, false}, {".hidden", true, false},
      {"..x/y..", true, false}, {"...", true, false},       {"a b/ü", true, false},
      {"", false, false},       {".", false, false},        {"..", false, false},
      {"a/./b", false, false},  {"a/../b", false, false},   {"a//b", false, false},
      {"a/", false, false},     {"/", false, true},         {"/a", false, true},
      {"/a/b", false, true},    {"//a", false, false},      {"/a/", false, false},
      {"/a/..", false, false},  {"/./a", false, false},     {"/a//b", false, false},
      {"./a", false, false},    {"a/..", false, false},     {"/..", false, false},
  };
  for (const PathCase& c : cases) {
    EXPECT_EQ(valid_relpath(c.path), c.rel) << c.path;
    EXPECT_EQ(valid_abspath(c.path), c.abs) << c.path;
    EXPECT_EQ(validate_manifest_path(c.path).ok(), c.rel) << c.path;
  }
  std::string longest(kMaxPathLen, 'p');
  EXPECT_TRUE(valid_relpath(longest));
  EXPECT_FALSE(valid_relpath(longest + "p"));
  EXPECT_EQ(validate_manifest_path(longest + "p").ok(), false);
  EXPECT_TRUE(valid_abspath("/" + longest.substr(1)));
  EXPECT_FALSE(valid_abspath("/" + longest));
}

TEST(ProtoErrors, KindsAndErrnos) {
  const int errnos[] = {ENOENT, EEXIST, ENOTDIR, EISDIR,       ENOTEMPTY, EXDEV, EACCES,
                        EPERM,  EINVAL, ENOSPC,  EDQUOT,       EIO,       ELOOP, EROFS,
                        EBUSY,  EMLINK, EFBIG,   ENAMETOOLONG, ENOTSUP,   ENOMEM};
  for (int e : errnos) {
    ErrorKind k = kind_of_errno(e);
    EXPECT_FALSE(is_protocol_kind(k)) << e;
    EXPECT_EQ(errno_of(k), e) << e;
    EXPECT_STRNE(kind_name(k), "unknown") << e;
  }
  EXPECT_EQ(kind_of_errno(ECHILD), ErrorKind::Io);
  EXPECT_EQ(kind_of_errno(0), ErrorKind::Io);
  EXPECT_EQ(errno_of(ErrorKind::BadFrame), EIO);
  EXPECT_EQ(errno_of(static_cast<ErrorKind>(200)), EIO);
  EXPECT_EQ(errno_of(static_cast<ErrorKind>(0x7777)), EIO);
  EXPECT_STREQ(kind_name(ErrorKind::UnsupportedVersion), "unsupported_version");
  EXPECT_STREQ(kind_name(static_cast<ErrorKind>(200)), "unknown");
  EXPECT_TRUE(is_protocol_kind(ErrorKind::ShuttingDown));
  for (Err e : {Err::Truncated, Err::TrailingBytes, Err::BadString, Err::BadMagic, Err::BadFlags})
    EXPECT_EQ(kind_for(e), ErrorKind::BadFrame) << err_name(e);
  EXPECT_EQ(kind_for(Err::TooLarge), ErrorKind::TooLarge);
}

} // namespace
} // namespace vrift::proto

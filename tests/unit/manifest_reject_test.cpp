// Manifest loading rejects anything malformed or unsafe with one clear line, and never crashes.
// Crafted files carry a valid checksum and id (encode_raw / reseal), so each case reaches the
// specific check it names rather than stopping at the checksum.
#include <gtest/gtest.h>

#include <cstddef>

#include "manifest_fixtures.h"
#include "vrift/manifest/manifest.h"

namespace vrift {
namespace {

using namespace vrift::testing;

std::string sample_bytes(std::string_view origin = "/src/proj") {
  auto r = serialize_manifest(sample_tree(), origin);
  EXPECT_TRUE(r.ok());
  return r.ok() ? *r : std::string();
}

// Loads BYTES, expects failure, and returns the message (checked to be one line).
std::string load_error(const std::string& bytes) {
  auto m = Manifest::from_bytes(bytes);
  if (m.ok()) return "<loaded fine>";
  const std::string& msg = m.error().message();
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_FALSE(msg.empty());
  return msg;
}

// Whether BYTES fail to load with a message containing SUBSTRING.
::testing::AssertionResult rejected_with(const std::string& bytes, std::string_view substring) {
  std::string msg = load_error(bytes);
  if (msg.find(substring) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "message: " << msg << "\nexpected: " << substring;
}
#define EXPECT_REJECTED(bytes, substring) EXPECT_TRUE(rejected_with(bytes, substring))

constexpr size_t kRecords = kManifestHeaderSize;
size_t rec_field(size_t i, size_t field) { return kRecords + i * kManifestEntrySize + field; }

TEST(ManifestReject, BadMagic) {
  std::string b = sample_bytes();
  b[0] = 'X';
  EXPECT_REJECTED(b, "not a vrift manifest (bad magic)");
  EXPECT_REJECTED(std::string(200, 'g'), "bad magic");
  EXPECT_REJECTED("#!/bin/sh\n" + std::string(200, ' '), "bad magic");
}

TEST(ManifestReject, UnsupportedVersion) {
  std::string b = sample_bytes();
  poke<uint32_t>(b, offsetof(ManifestHeader, version), 2);
  EXPECT_REJECTED(b, "unsupported manifest version 2 (this vrift reads 1)");
}

TEST(ManifestReject, HeaderFieldsThatDisagree) {
  std::string b = sample_bytes();
  std::string t = b;
  poke<uint32_t>(t, offsetof(ManifestHeader, header_size), 64);
  EXPECT_REJECTED(t, "header/entry size 64/80");
  t = b;
  poke<uint32_t>(t, offsetof(ManifestHeader, entry_size), 72);
  EXPECT_REJECTED(t, "header/entry size 128/72");
  t = b;
  poke<uint32_t>(t, offsetof(ManifestHeader, flags), 1);
  EXPECT_REJECTED(t, "reserved fields are not zero");
  t = b;
  t[127] = 1;
  EXPECT_REJECTED(t, "reserved fields are not zero");
  t = b + "x";
  EXPECT_REJECTED(t, "trailing data");
  t = b;
  poke<uint64_t>(t, offsetof(ManifestHeader, strings_size), 3);
  EXPECT_REJECTED(t, "do not make");
}

TEST(ManifestReject, EntryCountThatWouldOverflow) {
  std::string b = sample_bytes();
  for (uint64_t count :
       {uint64_t{1} << 61, ~uint64_t{0}, uint64_t{0x0333333333333334}, uint64_t{10}}) {
    poke<uint64_t>(b, offsetof(ManifestHeader, entry_count), count);
    reseal(b);
    EXPECT_REJECTED(b, "manifest") << count;
  }
  poke<uint64_t>(b, offsetof(ManifestHeader, entry_count), uint64_t{1} << 61);
  EXPECT_REJECTED(b, "corrupt manifest header: 2305843009213693952 entries do not fit");
}

TEST(ManifestReject, EveryTruncationFailsCleanly) {
  std::string b = sample_bytes();
  for (size_t len = 0; len < b.size(); ++len)
    EXPECT_REJECTED(b.substr(0, len), "truncated manifest") << "cut at " << len;
  auto empty = serialize_manifest({}, "");
  ASSERT_TRUE(empty.ok());
  for (size_t len = 0; len < empty->size(); ++len)
    EXPECT_REJECTED(empty->substr(0, len), "truncated manifest") << "cut at " << len;
}

TEST(ManifestReject, EveryFlippedBitFails) {
  const std::string b = sample_bytes();
  for (size_t i = 0; i < b.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string t = b;
      t[i] = static_cast<char>(t[i] ^ (1 << bit));
      std::string msg = load_error(t);
      ASSERT_NE(msg, "<loaded fine>") << "byte " << i << " bit " << bit;
      if (i >= kManifestHeaderSize) {
        EXPECT_EQ(msg, "manifest is corrupt: checksum mismatch");
      }
    }
  }
}

TEST(ManifestReject, IdThatDoesNotMatchTheEntries) {
  std::string b = sample_bytes();
  b[offsetof(ManifestHeader, id)] ^= 1;
  EXPECT_REJECTED(b, "manifest is corrupt: its id does not match its entries");
}

// Checksum-valid files that break exactly one rule.
TEST(ManifestReject, UnsafePaths) {
  EXPECT_REJECTED(encode_raw({file_entry("/etc/passwd", "")}, ""), "absolute path '/etc/passwd'");
  EXPECT_REJECTED(encode_raw({file_entry("..", "")}, ""), "'..' component");
  EXPECT_REJECTED(encode_raw({dir_entry("a"), file_entry("a/../../x", "")}, ""), "'..' component");
  EXPECT_REJECTED(encode_raw({file_entry(".", "")}, ""), "'.' component");
  EXPECT_REJECTED(encode_raw({dir_entry("a"), file_entry("a//b", "")}, ""), "empty component");
  EXPECT_REJECTED(encode_raw({dir_entry("a/")}, ""), "ends with '/'");
  EXPECT_REJECTED(encode_raw({file_entry(std::string(kMaxManifestPath + 1, 'x'), "")}, ""),
                  "at most 4096");
  // A newline in a path is shown escaped: the error stays on one line.
  EXPECT_REJECTED(encode_raw({file_entry("/a\nb", "")}, ""), "absolute path '/a\\x0ab'");
}

TEST(ManifestReject, EmptyPath) {
  std::string b = encode_raw({file_entry("a", "")}, "");
  poke<uint32_t>(b, rec_field(0, offsetof(ManifestEntryRaw, path_len)), 0);
  poke<uint32_t>(b, rec_field(0, offsetof(ManifestEntryRaw, path_off)), 0);
  reseal(b); // the arena still holds "a", but the empty path is reported before that
  EXPECT_REJECTED(b, "empty path");
}

TEST(ManifestReject, DuplicateAndUnsortedPaths) {
  EXPECT_REJECTED(encode_raw({file_entry("a", "1"), file_entry("a", "2")}, ""),
                  "duplicate path 'a'");
  EXPECT_REJECTED(encode_raw({file_entry("b", ""), file_entry("a", "")}, ""),
                  "paths are not sorted: 'b' comes before 'a'");
  // Unsigned byte order: 0xe9 sorts after 'z', so this order is wrong.
  EXPECT_REJECTED(encode_raw({file_entry("\xe9", ""), file_entry("z", "")}, ""), "not sorted");
}

TEST(ManifestReject, MissingOrNonDirectoryParent) {
  EXPECT_REJECTED(encode_raw({file_entry("a/b", "")}, ""), "parent directory 'a' is missing");
  EXPECT_REJECTED(encode_raw({dir_entry("a"), file_entry("a/b/c", "")}, ""),
                  "parent directory 'a/b' is missing");
  EXPECT_REJECTED(encode_raw({file_entry("a", ""), file_entry("a/b", "")}, ""),
                  "parent 'a' is not a directory");
  EXPECT_REJECTED(encode_raw({link_entry("a", "x"), dir_entry("a/b")}, ""), "not a directory");
}

TEST(ManifestReject, TypeModeSizeAndTargetRules) {
  auto with = [](ManifestEntry e, auto edit) {
    edit(e);
    return std::vector<ManifestEntry>{e};
  };
  EXPECT_REJECTED(encode_raw(with(file_entry("f", ""), [](auto& e) { e.type = EntryType{0}; }), ""),
                  "unknown entry type 0");
  EXPECT_REJECTED(
      encode_raw(with(file_entry("f", ""), [](auto& e) { e.type = EntryType{200}; }), ""),
      "unknown entry type 200");
  EXPECT_REJECTED(encode_raw({file_entry("f", "", 0100644)}, ""), "bits beyond 07777");
  EXPECT_REJECTED(encode_raw(with(link_entry("l", "abc"), [](auto& e) { e.size = 7; }), ""),
                  "symlink size 7 is not its target length 3");
  EXPECT_REJECTED(encode_raw({link_entry("l", "")}, ""), "symlink target is empty");
  EXPECT_REJECTED(encode_raw(with(file_entry("f", ""), [](auto& e) { e.target = "t"; }), ""),
                  "a file has no symlink target");
  EXPECT_REJECTED(encode_raw(with(dir_entry("d"), [](auto& e) { e.hash.bytes[0] = 1; }), ""),
                  "a directory has a content hash");
  EXPECT_REJECTED(encode_raw(with(link_entry("l", "x"), [](auto& e) { e.hash.bytes[31] = 1; }), ""),
                  "a symlink has a content hash");
  std::string b = encode_raw({file_entry("f", "")}, "");
  b[rec_field(0, offsetof(ManifestEntryRaw, reserved0))] = 1;
  reseal(b);
  EXPECT_REJECTED(b, "entry 'f': reserved fields are not zero");
}

TEST(ManifestReject, StringsOutsideOrOutOfOrderInTheArena) {
  const std::string good = encode_raw({file_entry("abc", ""), file_entry("de", "")}, "/o");
  ASSERT_TRUE(Manifest::from_bytes(good).ok());
  std::string b = good;
  poke<uint32_t>(b, rec_field(1, offsetof(ManifestEntryRaw, path_len)), 1000);
  reseal(b);
  EXPECT_REJECTED(b, "entry 1: path (offset 7, 1000 bytes): outside the 10-byte string arena");
  b = good;
  poke<uint32_t>(b, rec_field(1, offsetof(ManifestEntryRaw, path_len)), 1); // "d" then 'e'
  reseal(b);
  EXPECT_REJECTED(b, "not NUL-terminated");
  b = good;
  poke<uint32_t>(b, rec_field(1, offsetof(ManifestEntryRaw, path_off)), 0xffffffff);
  reseal(b);
  EXPECT_REJECTED(b, "expected at offset 7");
  b = good;
  poke<uint32_t>(b, offsetof(ManifestHeader, origin_off), 3);
  EXPECT_REJECTED(b, "origin (offset 3, 2 bytes)");
  b = good;
  poke<uint32_t>(b, offsetof(ManifestHeader, origin_off), 5);
  poke<uint32_t>(b, offsetof(ManifestHeader, origin_len), 0);
  EXPECT_REJECTED(b, "origin (offset 5, 0 bytes): empty string with a non-zero offset");
  b = good;
  poke<uint32_t>(b, offsetof(ManifestHeader, origin_off), 0);
  poke<uint32_t>(b, offsetof(ManifestHeader, origin_len), 0);
  EXPECT_REJECTED(b, "entry 0: path (offset 3, 3 bytes): expected at offset 0");
  // A NUL inside a string: "abc" becomes "a\0c", still NUL-terminated at its end.
  b = good;
  b[kManifestHeaderSize + 2 * kManifestEntrySize + 3 + 1] = '\0';
  reseal(b);
  EXPECT_REJECTED(b, "contains a NUL byte");
}

TEST(ManifestReject, UnusedArenaBytes) {
  std::string b = encode_raw({file_entry("a", "")}, "");
  b += "zz";
  poke<uint64_t>(b, offsetof(ManifestHeader, strings_size), 4);
  poke<uint64_t>(b, offsetof(ManifestHeader, file_size), b.size());
  reseal(b);
  EXPECT_REJECTED(b, "2 unused bytes at the end of the string arena");
}

TEST(ManifestReject, OpenReportsTheFileAndTheReason) {
  std::string path = ::testing::TempDir() + "/vrift-reject-truncated.vmf";
  std::string b = sample_bytes();
  for (size_t len : {size_t{0}, size_t{5}, size_t{127}, size_t{128}, b.size() - 1}) {
    FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(b.data(), 1, len, f);
    std::fclose(f);
    auto m = Manifest::open(path);
    ASSERT_FALSE(m.ok()) << len;
    EXPECT_EQ(m.error().message().rfind("loading manifest '" + path + "': truncated manifest", 0),
              0u)
        << m.error().message();
  }
  std::remove(path.c_str());
}

} // namespace
} // namespace vrift

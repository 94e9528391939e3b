// Manifest format: round trips, determinism, the id, lookups, odd paths and writer-side checks.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "manifest_fixtures.h"
#include "vrift/manifest/manifest.h"
#include "vrift/util/fs.h"

namespace vrift {
namespace {

using namespace vrift::testing;

class TempDir {
public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "vrift-mf-XXXXXX").string();
    m_path = ::mkdtemp(tmpl.data()) ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(m_path, ec);
  }
  std::string file(const std::string& name) const { return m_path + "/" + name; }

private:
  std::string m_path;
};

std::vector<ManifestEntry> sorted(std::vector<ManifestEntry> v) {
  std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.path < b.path; });
  return v;
}

void expect_same_entry(const ManifestEntry& want, const EntryView& got) {
  EXPECT_EQ(want.path, got.path);
  EXPECT_EQ(want.type, got.type) << want.path;
  EXPECT_EQ(want.mode, got.mode) << want.path;
  EXPECT_EQ(want.size, got.size) << want.path;
  EXPECT_EQ(want.mtime_ns, got.mtime_ns) << want.path;
  EXPECT_EQ(want.hash, got.hash_value()) << want.path;
  EXPECT_EQ(want.target, got.target) << want.path;
}

Hash id_of(std::vector<ManifestEntry> v) { return manifest_id(sorted(std::move(v))); }

TEST(Manifest, RoundTripThroughAFile) {
  TempDir tmp;
  auto tree = sample_tree();
  ASSERT_TRUE(write_manifest(tmp.file("m.vmf"), tree, "/home/me/proj").ok());
  auto m = Manifest::open(tmp.file("m.vmf"));
  ASSERT_TRUE(m.ok()) << m.error().message();
  auto want = sorted(tree);
  ASSERT_EQ(m->size(), want.size());
  for (size_t i = 0; i < want.size(); ++i)
    expect_same_entry(want[i], m->at(i));
  EXPECT_EQ(m->origin(), "/home/me/proj");
  EXPECT_EQ(m->id(), manifest_id(want));
  auto copied = m->entries();
  ASSERT_EQ(copied.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i)
    expect_same_entry(copied[i], m->at(i));
  struct stat st {};
  ASSERT_EQ(::stat(tmp.file("m.vmf").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST(Manifest, OpenAndFromBytesAgree) {
  TempDir tmp;
  ASSERT_TRUE(write_manifest(tmp.file("m"), sample_tree(), "").ok());
  auto a = Manifest::open(tmp.file("m"));
  ASSERT_TRUE(a.ok());
  auto bytes = fs::read_file(tmp.file("m"));
  ASSERT_TRUE(bytes.ok());
  auto b = Manifest::from_bytes(*bytes);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->bytes(), b->bytes());
  EXPECT_EQ(a->origin(), "");
  EXPECT_TRUE(diff_manifests(*a, *b).empty());
}

TEST(Manifest, BytesAreDeterministicWhateverTheInputOrder) {
  auto tree = sample_tree();
  auto first = serialize_manifest(tree, "/o");
  ASSERT_TRUE(first.ok());
  std::mt19937 rng(42);
  for (int round = 0; round < 20; ++round) {
    std::shuffle(tree.begin(), tree.end(), rng);
    auto again = serialize_manifest(tree, "/o");
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*first, *again);
  }
  // An independent encoder of the documented layout produces the very same bytes.
  EXPECT_EQ(*first, encode_raw(sorted(tree), "/o"));
}

TEST(Manifest, HeaderFieldsSitAtTheDocumentedOffsets) {
  auto bytes = serialize_manifest(sample_tree(), "/o");
  ASSERT_TRUE(bytes.ok());
  const std::string& b = *bytes;
  EXPECT_EQ(b.substr(0, 8), std::string("VRIFTMF\0", 8));
  EXPECT_EQ(peek<uint32_t>(b, 8), 1u);
  EXPECT_EQ(peek<uint32_t>(b, 12), 128u);
  EXPECT_EQ(peek<uint32_t>(b, 16), 80u);
  EXPECT_EQ(peek<uint32_t>(b, 20), 0u);
  EXPECT_EQ(peek<uint64_t>(b, 24), sample_tree().size());
  uint64_t strings = peek<uint64_t>(b, 32);
  EXPECT_EQ(peek<uint64_t>(b, 40), b.size());
  EXPECT_EQ(128 + 80 * sample_tree().size() + strings, b.size());
  EXPECT_EQ(peek<uint32_t>(b, 48), 0u); // origin first in the arena
  EXPECT_EQ(peek<uint32_t>(b, 52), 2u);
  EXPECT_EQ(b.substr(56, 32),
            std::string(reinterpret_cast<const char*>(id_of(sample_tree()).bytes.data()), 32));
  EXPECT_EQ(b.substr(88, 32),
            std::string(reinterpret_cast<const char*>(blake3(b.substr(128)).bytes.data()), 32));
  EXPECT_EQ(b.substr(120, 8), std::string(8, '\0'));
}

TEST(Manifest, IdFollowsTheDocumentedCanonicalForm) {
  std::vector<ManifestEntry> v =
      sorted({dir_entry("d", 0755), file_entry("d/f", "x", 0644), link_entry("d/l", "f")});
  std::string canon;
  canon += std::string("d\0", 2) + '\x02' + std::string("\xed\x01\0\0", 4);
  Hash fh = blake3(std::string_view("x"));
  canon += std::string("d/f\0", 4) + '\x01' + std::string("\xa4\x01\0\0", 4) +
           std::string(reinterpret_cast<const char*>(fh.bytes.data()), 32);
  canon +=
      std::string("d/l\0", 4) + '\x03' + std::string("\xff\x01\0\0", 4) + std::string("f\0", 2);
  EXPECT_EQ(manifest_id(v), blake3(canon));
  EXPECT_EQ(manifest_id({}), blake3(std::string_view()));
}

// Directory sizes are the filesystem's (ext4 grows them with the entries): kept in the file,
// left out of the id and the diff, like timestamps.
TEST(Manifest, IdIgnoresTimestampsDirectorySizesAndOrigin) {
  auto a = sample_tree();
  auto b = sample_tree();
  bool dirs = false;
  for (auto& e : b) {
    e.mtime_ns += 987654321;
    if (e.type == EntryType::Dir) {
      e.size = 12288;
      dirs = true;
    }
  }
  ASSERT_TRUE(dirs);
  EXPECT_EQ(id_of(a), id_of(b));
  auto ma = Manifest::from_bytes(*serialize_manifest(a, "/one"));
  auto mb = Manifest::from_bytes(*serialize_manifest(b, "/two"));
  ASSERT_TRUE(ma.ok() && mb.ok());
  EXPECT_EQ(ma->id(), mb->id());
  EXPECT_NE(ma->bytes(), mb->bytes());
  EXPECT_TRUE(diff_manifests(*ma, *mb).empty());
  for (size_t i = 0; i < mb->size(); ++i)
    if (mb->at(i).type == EntryType::Dir) {
      EXPECT_EQ(mb->at(i).size, 12288u);
    }
}

TEST(Manifest, IdChangesWithModeContentTargetPathAndType) {
  Hash base = id_of(sample_tree());
  auto changed = [&](auto edit) {
    auto t = sample_tree();
    edit(t);
    return id_of(t);
  };
  EXPECT_NE(base, changed([](auto& t) { t[1].mode = 0755; }));
  EXPECT_NE(base, changed([](auto& t) { t[1] = file_entry("src/main.c", "changed"); }));
  EXPECT_NE(base, changed([](auto& t) { t[4] = link_entry("src/link", "util.h"); }));
  EXPECT_NE(base, changed([](auto& t) { t[5].path = "README.md"; }));
  EXPECT_NE(base, changed([](auto& t) { t[5] = dir_entry("README", 0644); }));
  EXPECT_NE(base, changed([](auto& t) { t.push_back(dir_entry("more")); }));
}

TEST(Manifest, EmptyManifestIsValid) {
  auto bytes = serialize_manifest({}, "");
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(bytes->size(), kManifestHeaderSize);
  auto m = Manifest::from_bytes(*bytes);
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(m->size(), 0u);
  EXPECT_FALSE(m->find("a").has_value());
  EXPECT_EQ(m->id(), blake3(std::string_view()));
  EXPECT_TRUE(m->entries().empty());
}

TEST(Manifest, FindHitsAndMisses) {
  std::vector<ManifestEntry> v = {dir_entry("a"),         file_entry("a/b", "1"),
                                  file_entry("a-b", "2"), file_entry("a.b", "3"),
                                  dir_entry("z"),         file_entry("z/\xff", "4")};
  auto m = Manifest::from_bytes(*serialize_manifest(v, ""));
  ASSERT_TRUE(m.ok()) << m.error().message();
  for (const auto& e : v) {
    auto i = m->find(e.path);
    ASSERT_TRUE(i.has_value()) << e.path;
    EXPECT_EQ(m->at(*i).path, e.path);
  }
  for (const char* miss : {"", "a/", "a/c", "b", "0", "a/b/c", "zz", "z/\xfe"})
    EXPECT_FALSE(m->find(miss).has_value()) << miss;
  // Bytewise unsigned order: "a-b" < "a.b" < "a/b" and 0xff sorts last.
  EXPECT_EQ(m->at(1).path, "a-b");
  EXPECT_EQ(m->at(2).path, "a.b");
  EXPECT_EQ(m->at(3).path, "a/b");
  EXPECT_EQ(m->at(5).path, "z/\xff");
}

TEST(Manifest, OddButValidPaths) {
  std::string long_name(255, 'n');
  std::string long_path = "d/" + std::string(kMaxManifestPath - 2, 'p');
  std::vector<ManifestEntry> v = {file_entry("caf\xc3\xa9 \xe2\x98\x95.txt", "utf8"),
                                  file_entry("with space", "s"),
                                  file_entry("-rf", "dash"),
                                  file_entry("--", "dashdash"),
                                  file_entry(long_name, "long"),
                                  dir_entry("d"),
                                  file_entry(long_path, "longest"),
                                  file_entry("...", "dots"),
                                  file_entry(".hidden", "h"),
                                  link_entry("abs-link", "/etc/passwd"),
                                  link_entry("up-link", "../../x")};
  auto m = Manifest::from_bytes(*serialize_manifest(v, "/weird origin/\xc3\xa9"));
  ASSERT_TRUE(m.ok()) << m.error().message();
  for (const auto& e : v) {
    auto i = m->find(e.path);
    ASSERT_TRUE(i.has_value()) << e.path;
    expect_same_entry(e, m->at(*i));
  }
  EXPECT_EQ(m->origin(), "/weird origin/\xc3\xa9");
}

TEST(Manifest, MoveTransfersTheMappingAndTheBuffer) {
  TempDir tmp;
  ASSERT_TRUE(write_manifest(tmp.file("m"), sample_tree(), "/o").ok());
  auto opened = Manifest::open(tmp.file("m"));
  ASSERT_TRUE(opened.ok());
  Manifest a = std::move(*opened);
  Manifest b = std::move(a);
  EXPECT_EQ(a.size(), 0u); // NOLINT(bugprone-use-after-move): moved-from is empty by contract
  EXPECT_EQ(b.size(), sample_tree().size());
  auto owned = Manifest::from_bytes(b.bytes());
  ASSERT_TRUE(owned.ok());
  b = std::move(*owned); // unmaps the file, takes the buffer
  EXPECT_EQ(b.origin(), "/o");
  EXPECT_TRUE(b.find("src/main.c").has_value());
  Manifest c;
  c = std::move(b);
  EXPECT_EQ(c.at(0).path, "README");
}

TEST(Manifest, OpenErrorsNameTheFile) {
  TempDir tmp;
  auto missing = Manifest::open(tmp.file("nope"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message(),
            "loading manifest '" + tmp.file("nope") + "': No such file or directory");
  auto dir = Manifest::open(tmp.file(""));
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.error().message().find("not a regular file"), std::string::npos);
  ASSERT_TRUE(fs::write_file_atomic(tmp.file("empty"), "").ok());
  auto empty = Manifest::open(tmp.file("empty"));
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message().find("truncated manifest: 0 bytes"), std::string::npos);
}

TEST(Manifest, WriteNeedsAnExistingOutputDirectory) {
  TempDir tmp;
  auto st = write_manifest(tmp.file("no/such/m"), sample_tree(), "");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(
      st.error().message().find("output directory '" + tmp.file("no/such") + "' does not exist"),
      std::string::npos)
      << st.error().message();
  auto bad = write_manifest(tmp.file("m"), {file_entry("/abs", "")}, "");
  ASSERT_FALSE(bad.ok());
  EXPECT_FALSE(std::filesystem::exists(tmp.file("m")));
}

// Writer-side rejections: each bad input and a substring of its one-line error.
struct BadInput {
  const char* name;
  std::vector<ManifestEntry> entries;
  std::string origin;
  const char* error;
};

std::vector<BadInput> bad_inputs() {
  auto with = [](ManifestEntry e, auto edit) {
    edit(e);
    return e;
  };
  return {
      {"empty path", {file_entry("", "")}, "", "empty path"},
      {"absolute", {file_entry("/etc/passwd", "")}, "", "absolute path '/etc/passwd'"},
      {"dotdot", {dir_entry("a"), file_entry("a/../b", "")}, "", "'..' component"},
      {"lone dotdot", {file_entry("..", "")}, "", "'..' component"},
      {"dot", {file_entry("./a", "")}, "", "'.' component"},
      {"empty component", {dir_entry("a"), file_entry("a//b", "")}, "", "empty component"},
      {"trailing slash", {dir_entry("a/")}, "", "ends with '/'"},
      {"nul", {file_entry(std::string("a\0b", 3), "")}, "", "NUL"},
      {"too long", {file_entry(std::string(kMaxManifestPath + 1, 'x'), "")}, "", "at most 4096"},
      {"duplicate", {file_entry("a", "1"), file_entry("a", "2")}, "", "duplicate path 'a'"},
      {"missing parent", {file_entry("a/b", "")}, "", "parent directory 'a' is missing"},
      {"deep missing parent", {dir_entry("a"), file_entry("a/b/c", "")}, "", "'a/b' is missing"},
      {"parent is a file", {file_entry("a", ""), file_entry("a/b", "")}, "", "not a directory"},
      {"mode", {file_entry("a", "", 010644)}, "", "mode 10644 has bits beyond 07777"},
      {"empty target", {link_entry("l", "")}, "", "symlink target is empty"},
      {"target nul", {link_entry("l", std::string("a\0b", 3))}, "", "NUL"},
      {"target size",
       {with(link_entry("l", "abc"), [](auto& e) { e.size = 2; })},
       "",
       "symlink size 2 is not its target length 3"},
      {"dir hash",
       {with(dir_entry("d"), [](auto& e) { e.hash = blake3(std::string_view("x")); })},
       "",
       "a directory has a content hash"},
      {"file target",
       {with(file_entry("f", ""), [](auto& e) { e.target = "x"; })},
       "",
       "a file has no symlink target"},
      {"unknown type",
       {with(file_entry("f", ""), [](auto& e) { e.type = EntryType{9}; })},
       "",
       "unknown entry type 9"},
      {"origin nul", {}, std::string("/a\0b", 4), "origin contains a NUL"},
  };
}

TEST(Manifest, SerializeRejectsBadInput) {
  for (auto& c : bad_inputs()) {
    auto r = serialize_manifest(c.entries, c.origin);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_NE(r.error().message().find(c.error), std::string::npos)
        << c.name << ": " << r.error().message();
    EXPECT_EQ(r.error().message().find('\n'), std::string::npos) << c.name;
  }
}

TEST(ManifestShallow, SkipsTheChecksumNotTheBounds) {
  TempDir dir;
  std::vector<ManifestEntry> es(2);
  es[0].path = "d";
  es[0].type = EntryType::Dir;
  es[0].mode = 0755;
  es[1].path = "d/f";
  es[1].size = 3;
  es[1].hash = blake3("abc");
  auto bytes = serialize_manifest(es, "/origin");
  ASSERT_TRUE(bytes.ok());
  std::string damaged = *bytes;
  damaged[damaged.size() - 2] ^= 0x20; // inside the last path: still a safe path
  const std::string path = dir.file("m");
  ASSERT_TRUE(fs::write_file_atomic(path, damaged).ok());
  EXPECT_FALSE(Manifest::open(path).ok()) << "the full check sees the checksum";
  auto shallow = Manifest::open_shallow(path);
  ASSERT_TRUE(shallow.ok()) << shallow.error().message();
  EXPECT_EQ(shallow->size(), 2u);
  EXPECT_EQ(shallow->origin(), "/origin");
  std::string truncated = bytes->substr(0, bytes->size() - 1);
  ASSERT_TRUE(fs::write_file_atomic(path, truncated).ok());
  EXPECT_FALSE(Manifest::open_shallow(path).ok()) << "bounds are still checked";
  std::string unsafe = *bytes; // a directory's path, which vrift run would create
  const size_t at = unsafe.find(std::string("d\0d/f", 5));
  ASSERT_NE(at, std::string::npos);
  unsafe[at] = '/';
  ASSERT_TRUE(fs::write_file_atomic(path, unsafe).ok());
  EXPECT_FALSE(Manifest::open_shallow(path).ok()) << "paths are still checked";
}

TEST(ManifestLazy, ChecksTheFirstEntryNowAndTheRestWhenAsked) {
  TempDir dir;
  std::vector<ManifestEntry> es = {testing::dir_entry("d"), testing::dir_entry("d/e", 0700),
                                   testing::file_entry("d/f", "abc")};
  auto bytes = serialize_manifest(es, "/origin");
  ASSERT_TRUE(bytes.ok());
  const std::string path = dir.file("m");
  ASSERT_TRUE(fs::write_file_atomic(path, *bytes).ok());
  auto m = Manifest::open_lazy(path);
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_FALSE(m->entries_loaded());
  EXPECT_EQ(m->size(), 1u) << "only the first entry is checked, and so visible";
  EXPECT_EQ(m->at(0).path, "d");
  EXPECT_EQ(m->origin(), "/origin") << "the arena is found from the file's entry count";
  EXPECT_FALSE(m->find("d/f")) << "not before load_entries()";
  ASSERT_TRUE(m->load_entries().ok());
  EXPECT_TRUE(m->entries_loaded());
  ASSERT_EQ(m->size(), 3u);
  ASSERT_TRUE(m->find("d/f"));
  EXPECT_EQ(m->at(*m->find("d/f")).size, 3u);
  Manifest moved = std::move(*m);
  EXPECT_TRUE(moved.entries_loaded());
  EXPECT_EQ(moved.size(), 3u);

  // A damaged later entry: the lazy open succeeds, load_entries() refuses (one line).
  std::string unsafe = *bytes;
  const size_t at = unsafe.find(std::string("d\0d/e", 5));
  ASSERT_NE(at, std::string::npos);
  unsafe[at + 2] = '/'; // "d/e" becomes "/" + "/e": an absolute directory path
  ASSERT_TRUE(fs::write_file_atomic(path, unsafe).ok());
  auto bad = Manifest::open_lazy(path);
  ASSERT_TRUE(bad.ok()) << bad.error().message();
  auto st = bad->load_entries();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message().find('\n'), std::string::npos);
  EXPECT_EQ(bad->size(), 0u) << "nothing is visible after a failed check";
  EXPECT_FALSE(bad->entries_loaded());
  // The header and the first entry are checked at once.
  ASSERT_TRUE(fs::write_file_atomic(path, bytes->substr(0, bytes->size() - 1)).ok());
  EXPECT_FALSE(Manifest::open_lazy(path).ok());
}

} // namespace
} // namespace vrift

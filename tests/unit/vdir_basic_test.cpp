// VDir behaviour through the writer and a read-only reader: fill from a manifest and look every
// entry up, misses, tombstones, upserts, renames, directory listing, forced hash collisions,
// reopening, and the limits.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "manifest_fixtures.h"
#include "vdir_test_fixture.h"
#include "vrift/manifest/manifest.h"
#include "vrift/vdir/vdir_hash.h"
#include "vrift/vdir/vdir_reader.h"
#include "vrift/vdir/vdir_writer.h"

namespace vrift::vdir {
namespace {

using vrift::testing::dir_entry;
using vrift::testing::file_entry;
using vrift::testing::link_entry;

using VdirBasicTest = VdirFileTest;

VdirResult look(const VdirReader& r, std::string_view p, VdirStat* st = nullptr,
                std::string* target = nullptr) {
  VdirStat tmp;
  char buf[256];
  VdirResult res = r.lookup(p.data(), p.size(), st ? st : &tmp, buf, sizeof buf);
  if (target && res == VdirResult::kHit) target->assign(buf, (st ? st : &tmp)->target_len);
  return res;
}

VdirStat file_stat(uint64_t size, int64_t mtime = 1000) {
  VdirStat st;
  st.mode = kModeReg | 0644;
  st.size = size;
  st.mtime_ns = st.ctime_ns = st.atime_ns = mtime;
  st.blob_hash[0] = static_cast<uint8_t>(size);
  return st;
}

TEST_F(VdirBasicTest, FillFromManifestAnswersEveryEntry) {
  auto entries = vrift::testing::sample_tree();
  entries.push_back(dir_entry("src/empty/deeper"));
  auto bytes = serialize_manifest(entries, "/origin");
  ASSERT_TRUE(bytes.ok()) << bytes.error().message();
  auto m = Manifest::from_bytes(*bytes);
  ASSERT_TRUE(m.ok()) << m.error().message();

  VdirWriter w = make();
  VdirRoot root{0750, 1234, 5678, 42};
  ASSERT_TRUE(w.fill_from_manifest(*m, root).ok());
  EXPECT_EQ(w.record_count(), m->size() + 1);
  EXPECT_EQ(w.growths(), 0u);
  VdirReader r = reader();

  std::set<uint64_t> inodes;
  for (size_t i = 0; i < m->size(); ++i) {
    const EntryView e = m->at(i);
    VdirStat st;
    std::string target;
    ASSERT_EQ(look(r, e.path, &st, &target), VdirResult::kHit) << e.path;
    const uint32_t type = e.type == EntryType::Dir       ? kModeDir
                          : e.type == EntryType::Symlink ? kModeLink
                                                         : kModeReg;
    EXPECT_EQ(st.mode, type | e.mode) << e.path;
    EXPECT_EQ(st.size, e.size) << e.path;
    EXPECT_EQ(st.mtime_ns, e.mtime_ns);
    EXPECT_EQ(st.ctime_ns, e.mtime_ns);
    EXPECT_EQ(st.uid, 1234u);
    EXPECT_EQ(st.gid, 5678u);
    EXPECT_EQ(std::memcmp(st.blob_hash, e.hash, 32), 0) << e.path;
    EXPECT_TRUE(st.flags & kFlagFromManifest);
    EXPECT_EQ(static_cast<bool>(st.flags & kFlagDir), e.type == EntryType::Dir);
    EXPECT_EQ(static_cast<bool>(st.flags & kFlagSymlink), e.type == EntryType::Symlink);
    EXPECT_EQ(target, e.target) << e.path;
    EXPECT_EQ(st.target_len, e.target.size());
    EXPECT_TRUE(inodes.insert(st.ino).second) << "duplicate inode for " << e.path;
  }
  // Directory link counts: 2 + subdirectories.
  VdirStat st;
  ASSERT_EQ(look(r, "src", &st), VdirResult::kHit);
  EXPECT_EQ(st.nlink, 3u); // src/empty
  ASSERT_EQ(look(r, "src/empty/deeper", &st), VdirResult::kHit);
  EXPECT_EQ(st.nlink, 2u);
  ASSERT_EQ(look(r, "src/main.c", &st), VdirResult::kHit);
  EXPECT_EQ(st.nlink, 1u);
  // The root, under both spellings.
  ASSERT_EQ(look(r, "", &st), VdirResult::kHit);
  EXPECT_EQ(st.mode, kModeDir | 0750);
  EXPECT_EQ(st.nlink, 4u); // src, docs
  EXPECT_EQ(st.mtime_ns, 42);
  EXPECT_TRUE(inodes.insert(st.ino).second);
  ASSERT_EQ(look(r, ".", &st), VdirResult::kHit);
  // Misses: absent, prefixes, other spellings that the shim must normalise first.
  for (const char* p :
       {"nope", "sr", "src/", "/src", "src/main.cc", "src/main.", "README/x", "./README", "SRC"})
    EXPECT_EQ(look(r, p), VdirResult::kMiss) << p;
}

TEST_F(VdirBasicTest, TombstonesReinsertAndUpserts) {
  VdirWriter w = make();
  ASSERT_TRUE(w.upsert("a", file_stat(10)).ok());
  ASSERT_TRUE(w.upsert("b", file_stat(20)).ok());
  VdirReader r = reader();
  VdirStat st;
  ASSERT_EQ(look(r, "a", &st), VdirResult::kHit);
  const uint64_t ino = st.ino;
  EXPECT_NE(ino, 0u);
  const uint64_t gen = r.generation();

  ASSERT_TRUE(w.upsert("a", file_stat(11, 2000)).ok()); // visible at once, same inode
  ASSERT_EQ(look(r, "a", &st), VdirResult::kHit);
  EXPECT_EQ(st.size, 11u);
  EXPECT_EQ(st.mtime_ns, 2000);
  EXPECT_EQ(st.ino, ino);
  EXPECT_GT(r.generation(), gen);

  ASSERT_TRUE(w.remove("a").ok());
  EXPECT_EQ(look(r, "a", &st), VdirResult::kDeleted);
  EXPECT_TRUE(st.flags & kFlagDeleted);
  EXPECT_EQ(w.live_count(), 1u);
  ASSERT_TRUE(w.remove("a").ok());           // idempotent
  ASSERT_TRUE(w.remove("never-there").ok()); // hides a real file
  EXPECT_EQ(look(r, "never-there"), VdirResult::kDeleted);
  ASSERT_TRUE(w.upsert("never-there", file_stat(3)).ok()); // revived: gets a real inode number
  ASSERT_EQ(look(r, "never-there", &st), VdirResult::kHit);
  EXPECT_NE(st.ino, 0u);
  EXPECT_NE(st.ino, ino);
  ASSERT_TRUE(w.remove("never-there").ok());
  EXPECT_EQ(look(r, "b"), VdirResult::kHit);

  ASSERT_TRUE(w.upsert("a", file_stat(12)).ok()); // back from the dead
  ASSERT_EQ(look(r, "a", &st), VdirResult::kHit);
  EXPECT_EQ(st.size, 12u);
  EXPECT_FALSE(st.flags & kFlagDeleted);
  EXPECT_EQ(st.ino, ino);
  EXPECT_EQ(w.live_count(), 2u);
  EXPECT_EQ(w.record_count(), 3u);

  // A symlink whose target changes; the old target bytes are not reused.
  VdirStat ls;
  ls.mode = kModeLink | 0777;
  ASSERT_TRUE(w.upsert("l", ls, "first/target").ok());
  std::string t;
  ASSERT_EQ(look(r, "l", &st, &t), VdirResult::kHit);
  EXPECT_EQ(t, "first/target");
  EXPECT_TRUE(st.flags & kFlagSymlink);
  ASSERT_TRUE(w.upsert("l", ls, "second").ok());
  ASSERT_EQ(look(r, "l", &st, &t), VdirResult::kHit);
  EXPECT_EQ(t, "second");
  char small[3];
  ASSERT_EQ(r.lookup("l", 1, &st, small, sizeof small), VdirResult::kHit); // truncated copy
  EXPECT_EQ(std::string(small, 3), "sec");
  EXPECT_EQ(st.target_len, 6u);

  // Invalid paths are refused by the writer.
  for (const char* p : {"/abs", "a/../b", "a//b", "a/", "./a"})
    EXPECT_FALSE(w.upsert(p, file_stat(1)).ok()) << p;
}

TEST_F(VdirBasicTest, RenameMovesFilesAndSubtrees) {
  VdirWriter w = make();
  VdirStat d;
  d.mode = kModeDir | 0755;
  ASSERT_TRUE(w.upsert("", d).ok());
  ASSERT_TRUE(w.upsert("dir", d).ok());
  ASSERT_TRUE(w.upsert("dir/sub", d).ok());
  ASSERT_TRUE(w.upsert("dir/sub/x.c", file_stat(5)).ok());
  ASSERT_TRUE(w.upsert("dir/y.c", file_stat(6)).ok());
  ASSERT_TRUE(w.upsert("dir/gone.c", file_stat(7)).ok());
  ASSERT_TRUE(w.remove("dir/gone.c").ok());
  ASSERT_TRUE(w.upsert("f", file_stat(8)).ok());
  VdirReader r = reader();
  VdirStat before, after;
  ASSERT_EQ(look(r, "dir/sub/x.c", &before), VdirResult::kHit);

  ASSERT_TRUE(w.rename("f", "g").ok());
  EXPECT_EQ(look(r, "f"), VdirResult::kDeleted);
  ASSERT_EQ(look(r, "g", &after), VdirResult::kHit);
  EXPECT_EQ(after.size, 8u);
  EXPECT_TRUE(after.flags & kFlagDirty);

  ASSERT_TRUE(w.rename("dir", "moved").ok());
  for (const char* p : {"dir", "dir/sub", "dir/sub/x.c", "dir/y.c"})
    EXPECT_EQ(look(r, p), VdirResult::kDeleted) << p;
  for (const char* p : {"moved", "moved/sub", "moved/y.c"})
    EXPECT_EQ(look(r, p), VdirResult::kHit);
  EXPECT_EQ(look(r, "moved/gone.c"), VdirResult::kMiss); // tombstones do not move
  ASSERT_EQ(look(r, "moved/sub/x.c", &after), VdirResult::kHit);
  EXPECT_EQ(after.ino, before.ino);
  EXPECT_EQ(after.size, 5u);

  EXPECT_EQ(w.rename("nope", "x").error().errnum(), ENOENT);
  EXPECT_EQ(w.rename("dir", "x").error().errnum(), ENOENT); // deleted now
  EXPECT_EQ(w.rename("moved", "moved/sub/inside").error().errnum(), EINVAL);
  EXPECT_TRUE(w.rename("moved", "moved").ok());
  EXPECT_FALSE(w.rename("", "x").ok());
}

TEST_F(VdirBasicTest, ListChildrenSkipsTombstones) {
  VdirWriter w = make();
  VdirStat d;
  d.mode = kModeDir | 0755;
  ASSERT_TRUE(w.upsert("", d).ok());
  ASSERT_TRUE(w.upsert("z", file_stat(1)).ok());
  ASSERT_TRUE(w.upsert("a", d).ok());
  ASSERT_TRUE(w.upsert("a/1", file_stat(1)).ok());
  ASSERT_TRUE(w.upsert("m", file_stat(1)).ok());
  ASSERT_TRUE(w.remove("m").ok());
  auto top = w.list_children("");
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].name, "a");
  EXPECT_EQ(top[0].mode, kModeDir | 0755);
  EXPECT_EQ(top[1].name, "z");
  EXPECT_EQ(w.list_children(".").size(), 2u);
  ASSERT_EQ(w.list_children("a").size(), 1u);
  EXPECT_EQ(w.list_children("a")[0].name, "1");
  EXPECT_TRUE(w.list_children("z").empty());
  EXPECT_TRUE(w.list_children("none").empty());
  ASSERT_TRUE(w.upsert("m", file_stat(2)).ok());
  EXPECT_EQ(w.list_children("").size(), 3u);
}

// hash_path forgets everything before a 16-byte block whose first word is kPi1 (the multiply by
// zero), whatever the seed: crafted names then share one key. The keyed hash writers use does
// not; readers still accept files made with the old one.
TEST(VdirHash, KeyedHashDoesNotForgetBeforeACraftedBlock) {
  std::set<uint64_t> old_keys, keyed_keys;
  for (int i = 0; i < 64; ++i) {
    std::string p(8, '\0');
    std::memcpy(p.data(), &detail::kPi1, 8); // little-endian, as read64 reads it
    p += "pre" + std::to_string(10000 + i);  // bytes 8..15, which the old hash forgets
    p += "/node_modules/index.js";
    ASSERT_GT(p.size(), 32u);
    for (uint64_t seed : {1ull, 0x1234567ull}) {
      old_keys.insert(path_key(kHashMum64, seed, p.data(), p.size()) ^ seed);
      keyed_keys.insert(path_key(kHashMum64Keyed, seed, p.data(), p.size()));
    }
  }
  EXPECT_EQ(old_keys.size(), 2u) << "the old hash: one key for all 64 names, even across seeds";
  EXPECT_EQ(keyed_keys.size(), 128u) << "64 names x 2 seeds, all distinct";
}

// Every path gets the same key: each answer must come from comparing full paths.
TEST_F(VdirBasicTest, ForcedCollisionsStillAnswerByFullPath) {
  VdirOptions o;
  o.hash_fn = kHashConstantForTests;
  o.initial_entries = 8; // and grow while everything collides
  VdirWriter w = make(o);
  const int n = 300;
  auto name = [](int i) { return "p/" + std::to_string(i) + (i % 2 ? "/x.js" : "/y.js"); };
  for (int i = 0; i < n; ++i)
    ASSERT_TRUE(w.upsert(name(i), file_stat(static_cast<uint64_t>(i))).ok());
  EXPECT_GT(w.growths(), 3u);
  VdirReader r = reader();
  EXPECT_EQ(path_key(kHashConstantForTests, 1, "a", 1),
            path_key(kHashConstantForTests, 2, "bb", 2));
  for (int i = 0; i < n; ++i) {
    VdirStat st;
    ASSERT_EQ(look(r, name(i), &st), VdirResult::kHit) << name(i);
    EXPECT_EQ(st.size, static_cast<uint64_t>(i)) << name(i);
  }
  for (int i = n; i < n + 50; ++i)
    EXPECT_EQ(look(r, name(i)), VdirResult::kMiss);
  EXPECT_EQ(look(r, "p/1/y.js"), VdirResult::kMiss); // same length as a real entry
  ASSERT_TRUE(w.remove(name(7)).ok());
  EXPECT_EQ(look(r, name(7)), VdirResult::kDeleted);
  VdirStat st;
  ASSERT_EQ(look(r, name(8), &st), VdirResult::kHit);
  EXPECT_EQ(st.size, 8u);
}

// The stale map: marks made through one process's reader are seen by another's (two mappings
// of the file), per entry, with forced hash collisions so that a mark cannot leak to a neighbour
// in the same probe sequence; a map that does not fit the VDir is refused.
TEST_F(VdirBasicTest, StaleMarksAreSharedPerEntry) {
  VdirOptions o;
  o.hash_fn = kHashConstantForTests;
  VdirWriter w = make(o);
  for (const char* p : {"a", "b", "d/c"})
    ASSERT_TRUE(w.upsert(p, file_stat(1)).ok());
  const std::string sp = m_dir + "/session.stale";
  ASSERT_TRUE(w.create_stale_map(sp).ok());
  VdirReader r1 = reader();
  VdirMapping map1, map2;
  ASSERT_EQ(vdir_map_stale(sp.c_str(), &map1), 0);
  ASSERT_EQ(vdir_map_stale(sp.c_str(), &map2), 0);
  VdirReader r2 = r1; // the same VDir mapping, its own stale mapping: another process
  ASSERT_EQ(r1.attach_stale(const_cast<void*>(map1.base), map1.len), VdirAttach::kOk);
  ASSERT_EQ(r2.attach_stale(const_cast<void*>(map2.base), map2.len), VdirAttach::kOk);
  for (const char* p : {"a", "b", "d/c"})
    EXPECT_EQ(look(r2, p), VdirResult::kHit) << p;
  const auto* h = static_cast<const StaleHeader*>(map2.base);
  EXPECT_EQ(h->count, 0u);

  EXPECT_TRUE(r1.mark_stale("b", 1));
  EXPECT_EQ(look(r2, "b"), VdirResult::kStale);
  EXPECT_EQ(look(r2, "a"), VdirResult::kHit);
  EXPECT_EQ(look(r2, "d/c"), VdirResult::kHit);
  EXPECT_EQ(h->count, 1u);
  EXPECT_TRUE(r2.mark_stale("b", 1)); // again: counted once
  EXPECT_EQ(h->count, 1u);
  EXPECT_FALSE(r1.mark_stale("nope", 4)); // not an entry
  EXPECT_EQ(look(r2, "nope"), VdirResult::kMiss);
  EXPECT_TRUE(r2.mark_stale("d/c", 3));
  EXPECT_EQ(look(r1, "d/c"), VdirResult::kStale);
  EXPECT_EQ(h->count, 2u);
  // The writer's later entries have bytes of their own.
  ASSERT_TRUE(w.upsert("e", file_stat(2)).ok());
  EXPECT_EQ(look(r1, "e"), VdirResult::kHit);
  // Without a stale map nothing is marked, and lookups are as before.
  VdirReader plain = reader();
  EXPECT_FALSE(plain.mark_stale("a", 1));
  EXPECT_EQ(look(plain, "b"), VdirResult::kHit);

  // Refused: another file, a map too small for this VDir's arena, a cut file, another VDir's.
  VdirReader r3 = reader();
  std::vector<unsigned char> junk(8192, 0);
  EXPECT_EQ(r3.attach_stale(junk.data(), junk.size()), VdirAttach::kBadMagic);
  std::vector<unsigned char> small(map1.len);
  std::memcpy(small.data(), map1.base, kStaleHeaderSize);
  auto* sh = static_cast<StaleHeader*>(static_cast<void*>(small.data()));
  sh->units = 10;
  EXPECT_EQ(r3.attach_stale(small.data(), small.size()), VdirAttach::kBadLayout);
  sh->units = static_cast<const StaleHeader*>(map1.base)->units;
  EXPECT_EQ(r3.attach_stale(small.data(), kStaleHeaderSize + 100), VdirAttach::kTooSmall);
  sh->vdir_seed ^= 1; // another VDir's map
  EXPECT_EQ(r3.attach_stale(small.data(), small.size()), VdirAttach::kBadLayout);
  EXPECT_FALSE(r3.mark_stale("a", 1));
  vdir_unmap(&map1);
  vdir_unmap(&map2);
}

TEST_F(VdirBasicTest, ReopenKeepsStateAndLocksOutASecondWriter) {
  {
    VdirWriter w = make();
    ASSERT_TRUE(w.upsert("", VdirStat{}).ok());
    for (int i = 0; i < 2000; ++i)
      ASSERT_TRUE(w.upsert("d/" + std::to_string(i), file_stat(static_cast<uint64_t>(i))).ok());
    ASSERT_TRUE(w.remove("d/5").ok());
    auto second = VdirWriter::open(file());
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.error().errnum(), EBUSY);
  }
  auto w = VdirWriter::open(file());
  ASSERT_TRUE(w.ok()) << w.error().message();
  EXPECT_EQ(w->record_count(), 2001u);
  EXPECT_EQ(w->live_count(), 2000u);
  EXPECT_EQ(w->list_children("d").size(), 1999u);
  ASSERT_TRUE(w->upsert("d/new", file_stat(1)).ok());
  VdirReader r = reader();
  VdirStat st;
  ASSERT_EQ(look(r, "d/1999", &st), VdirResult::kHit);
  EXPECT_EQ(st.size, 1999u);
  EXPECT_EQ(look(r, "d/5"), VdirResult::kDeleted);
  EXPECT_EQ(look(r, "d/new"), VdirResult::kHit);
  EXPECT_FALSE(VdirWriter::open(m_dir + "/missing").ok());
}

TEST_F(VdirBasicTest, LimitsAreErrorsNotCorruption) {
  VdirOptions bad;
  bad.max_load_percent = 100;
  EXPECT_FALSE(VdirWriter::create(file(), bad).ok());
  bad = {};
  bad.max_bytes = 1024;
  EXPECT_FALSE(VdirWriter::create(file(), bad).ok());

  VdirOptions small;
  small.max_bytes = 256 << 10;
  small.initial_entries = 16;
  VdirWriter w = make(small);
  int stored = 0;
  Status st;
  while ((st = w.upsert("file-" + std::to_string(stored), file_stat(1))).ok())
    ++stored;
  EXPECT_EQ(st.error().errnum(), ENOSPC) << st.error().message();
  EXPECT_GT(stored, 300);
  VdirReader r = reader();
  for (int i = 0; i < stored; ++i)
    ASSERT_EQ(look(r, "file-" + std::to_string(i)), VdirResult::kHit);
  EXPECT_EQ(look(r, "file-" + std::to_string(stored)), VdirResult::kMiss);
  EXPECT_EQ(look(r, std::string(kMaxPath + 1, 'x')), VdirResult::kMiss);
}

// The 64-bit key spreads realistic paths without a single collision, and depends on the seed.
TEST(VdirHash, NoCollisionsOnHalfAMillionPaths) {
  for (auto* hash : {&hash_path, &hash_path_keyed}) {
    std::unordered_set<uint64_t> seen;
    const int n = 500000;
    seen.reserve(n);
    for (int i = 0; i < n; ++i) {
      std::string p = "node_modules/@scope" + std::to_string(i % 31) + "/pkg-" +
                      std::to_string(i / 97) + "/dist/" + std::to_string(i) + ".js";
      ASSERT_TRUE(seen.insert(hash(p.data(), p.size(), 7)).second) << p;
    }
    for (size_t len = 0; len < 40; ++len) { // every tail-length branch, and the seed matters
      std::string p(len, 'a');
      EXPECT_NE(hash(p.data(), len, 1), hash(p.data(), len, 2)) << len;
      if (len > 0) {
        EXPECT_NE(hash(p.data(), len, 1), hash(p.data(), len - 1, 1)) << len;
      }
    }
  }
}

} // namespace
} // namespace vrift::vdir

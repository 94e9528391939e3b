// The fingerprint bytes that follow every table of a version 2 VDir (docs/vdir.md, "Slot
// fingerprints"): the writer keeps one per used slot through inserts, tombstones, renames and
// growths; readers consult them (a cleared one hides its entry); reopening repairs them; and
// version 1 files, which have none, are still read and written as version 1.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "vdir_test_fixture.h"
#include "vrift/util/fd.h"
#include "vrift/vdir/vdir_reader.h"
#include "vrift/vdir/vdir_writer.h"

namespace vrift::vdir {
namespace {

class VdirFingerprintTest : public VdirFileTest {
protected:
  void TearDown() override {
    if (m_rw != MAP_FAILED) ::munmap(m_rw, m_rw_len);
    VdirFileTest::TearDown();
  }
  VdirWriter make(VdirOptions o = {}) {
    o.initial_entries = 16; // several growths below
    return VdirFileTest::make(o);
  }
  /// A writable mapping of the whole file, to inspect (and damage) the raw table.
  unsigned char* raw() {
    if (m_rw != MAP_FAILED) return static_cast<unsigned char*>(m_rw);
    UniqueFd fd(::open(file().c_str(), O_RDWR | O_CLOEXEC));
    EXPECT_TRUE(fd.valid());
    m_rw_len = static_cast<size_t>(::lseek(fd.get(), 0, SEEK_END));
    m_rw = ::mmap(nullptr, m_rw_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    EXPECT_NE(m_rw, MAP_FAILED);
    return static_cast<unsigned char*>(m_rw);
  }
  Header* hdr() { return static_cast<Header*>(static_cast<void*>(raw())); }
  Slot* slots() { return static_cast<Slot*>(static_cast<void*>(raw() + hdr()->table_off)); }
  uint8_t* fps() { return raw() + hdr()->table_off + hdr()->table_cap * kSlotSize; }
  const Record* record_of(uint64_t word) {
    return static_cast<const Record*>(
        static_cast<const void*>(raw() + hdr()->arena_off + slot_index(word) * kRecordAlign));
  }
  /// The slot holding PATH, found by scanning the table (independently of any probe).
  uint64_t slot_of(const std::string& path) {
    for (uint64_t i = 0; i < hdr()->table_cap; ++i) {
      const uint64_t w = slots()[i].word;
      if (w == 0) continue;
      const Record* r = record_of(w);
      const char* p = static_cast<const char*>(static_cast<const void*>(r)) + kRecordSize;
      if (r->path_len == path.size() && std::memcmp(p, path.data(), path.size()) == 0) return i;
    }
    ADD_FAILURE() << path << " is in no slot";
    return 0;
  }
  /// Every used slot has its key's fingerprint and every empty one has 0; returns used slots.
  uint64_t check_fingerprints() {
    uint64_t used = 0;
    for (uint64_t i = 0; i < hdr()->table_cap; ++i) {
      const uint64_t w = slots()[i].word;
      if (w == 0) {
        EXPECT_EQ(fps()[i], 0) << "empty slot " << i;
        continue;
      }
      ++used;
      EXPECT_EQ(fps()[i], fingerprint(record_of(w)->key)) << "slot " << i;
    }
    return used;
  }

  void* m_rw = MAP_FAILED;
  size_t m_rw_len = 0;
};

VdirStat file_stat(uint64_t size) {
  VdirStat st;
  st.mode = kModeReg | 0644;
  st.size = size;
  return st;
}
std::string name(int i) { return "pkg/" + std::to_string(i % 17) + "/f" + std::to_string(i); }

TEST(VdirFingerprint, IsTheKeysTopByteAndNeverZero) {
  EXPECT_EQ(fingerprint(0xAB00'0000'0000'0001ULL), 0xAB);
  EXPECT_EQ(fingerprint(0x00FF'FFFF'FFFF'FFFFULL), 1);
  EXPECT_EQ(table_bytes(1024, kVersion), 1024u * 9);
  EXPECT_EQ(table_bytes(1024, kVersionSlotsOnly), 1024u * 8);
}

TEST_F(VdirFingerprintTest, WriterKeepsOnePerUsedSlotThroughEveryMutation) {
  VdirWriter w = make();
  VdirStat dir;
  dir.mode = kModeDir | 0755;
  for (int k = 0; k < 17; ++k)
    ASSERT_TRUE(w.upsert("pkg/" + std::to_string(k), dir).ok());
  for (int i = 0; i < 3000; ++i)
    ASSERT_TRUE(w.upsert(name(i), file_stat(static_cast<uint64_t>(i))).ok());
  ASSERT_TRUE(w.remove(name(5)).ok());
  ASSERT_TRUE(w.remove("never/there").ok()); // a tombstone inserted, not revived
  ASSERT_TRUE(w.rename("pkg/3", "moved/3").ok());
  EXPECT_EQ(hdr()->version, kVersion);
  EXPECT_GT(hdr()->growths, 5u);
  EXPECT_EQ(check_fingerprints(), w.record_count());
  VdirReader r = reader();
  VdirStat st;
  for (int i = 0; i < 3000; ++i) {
    const std::string p = name(i);
    const VdirResult want =
        i == 5 || p.rfind("pkg/3/", 0) == 0 ? VdirResult::kDeleted : VdirResult::kHit;
    ASSERT_EQ(r.lookup(p.data(), p.size(), &st), want) << p;
  }
  EXPECT_EQ(r.lookup("moved/3/f3", 10, &st), VdirResult::kHit);
  EXPECT_EQ(st.size, 3u);
  EXPECT_EQ(r.lookup("pkg/3/f3.mjs", 12, &st), VdirResult::kMiss);
}

// A reader decides from the fingerprint before it reads the slot: clear one and its entry is a
// miss (the shim then asks the real file system); put it back and the entry is found again.
TEST_F(VdirFingerprintTest, ReaderConsultsThemBeforeTheSlot) {
  VdirWriter w = make();
  for (int i = 0; i < 500; ++i)
    ASSERT_TRUE(w.upsert(name(i), file_stat(static_cast<uint64_t>(i))).ok());
  VdirReader r = reader();
  VdirStat st;
  const std::string p = name(123);
  const uint64_t i = slot_of(p);
  ASSERT_EQ(r.lookup(p.data(), p.size(), &st), VdirResult::kHit);
  const uint8_t saved = fps()[i];
  fps()[i] = 0;
  EXPECT_EQ(r.lookup(p.data(), p.size(), &st), VdirResult::kMiss);
  fps()[i] = saved == 0xFF ? 1 : static_cast<uint8_t>(saved + 1); // another one: skipped
  EXPECT_EQ(r.lookup(p.data(), p.size(), &st), VdirResult::kMiss);
  fps()[i] = saved;
  ASSERT_EQ(r.lookup(p.data(), p.size(), &st), VdirResult::kHit);
  EXPECT_EQ(st.size, 123u);
}

// A daemon killed between a slot and its fingerprint, or a damaged byte: reopening the file
// rewrites every fingerprint from the slots.
TEST_F(VdirFingerprintTest, ReopeningRepairsThem) {
  uint64_t hidden = 0, stray = 0;
  {
    VdirWriter w = make();
    for (int i = 0; i < 1000; ++i)
      ASSERT_TRUE(w.upsert(name(i), file_stat(static_cast<uint64_t>(i))).ok());
    hidden = slot_of(name(77));
    fps()[hidden] = 0;
    for (stray = 0; slots()[stray].word != 0; ++stray) {
    }
    fps()[stray] = 0x5A;
  }
  auto w = VdirWriter::open(file());
  ASSERT_TRUE(w.ok()) << w.error().message();
  EXPECT_EQ(check_fingerprints(), 1000u);
  VdirReader r = reader();
  VdirStat st;
  const std::string p = name(77);
  ASSERT_EQ(r.lookup(p.data(), p.size(), &st), VdirResult::kHit);
  EXPECT_EQ(st.size, 77u);
}

// Files written before fingerprints (version 1): read, reopened and grown as version 1.
TEST_F(VdirFingerprintTest, VersionOneFilesStillWork) {
  VdirOptions o;
  o.version = kVersionSlotsOnly;
  {
    VdirWriter w = make(o);
    for (int i = 0; i < 1000; ++i)
      ASSERT_TRUE(w.upsert(name(i), file_stat(static_cast<uint64_t>(i))).ok());
    EXPECT_EQ(hdr()->version, kVersionSlotsOnly);
    // The current table is the last thing in the index region, and it is slots only.
    EXPECT_EQ(hdr()->index_used - (hdr()->table_off - hdr()->index_off),
              hdr()->table_cap * kSlotSize);
  }
  auto w = VdirWriter::open(file());
  ASSERT_TRUE(w.ok()) << w.error().message();
  for (int i = 1000; i < 4000; ++i)
    ASSERT_TRUE(w->upsert(name(i), file_stat(static_cast<uint64_t>(i))).ok());
  EXPECT_EQ(hdr()->version, kVersionSlotsOnly);
  VdirReader r = reader();
  VdirStat st;
  for (int i = 0; i < 4000; ++i) {
    const std::string p = name(i);
    ASSERT_EQ(r.lookup(p.data(), p.size(), &st), VdirResult::kHit) << p;
    ASSERT_EQ(st.size, static_cast<uint64_t>(i));
  }
  EXPECT_EQ(r.lookup("pkg/1/f1.mjs", 12, &st), VdirResult::kMiss);
  VdirOptions bad;
  bad.version = 3;
  EXPECT_FALSE(VdirWriter::create(m_dir + "/other.vdir", bad).ok());
}

} // namespace
} // namespace vrift::vdir

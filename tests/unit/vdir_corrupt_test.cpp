// A reader attached to a damaged VDir refuses cleanly: attach() validates the header, every
// lookup bounds every offset it reads, and retries are bounded. Nothing here may crash or hang.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "vrift/vdir/vdir_reader.h"
#include "vrift/vdir/vdir_writer.h"

namespace vrift::vdir {
namespace {

constexpr uint64_t kFileSize = 256 << 10;

class VdirCorruptTest : public ::testing::Test {
public: // the damage table below uses the helpers from lambdas
  void SetUp() override {
    char tmpl[] = "/dev/shm/vrift-vdir-bad.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    m_dir = tmpl;
    VdirOptions o;
    o.max_bytes = kFileSize;
    o.initial_entries = 64;
    auto w = VdirWriter::create(file(), o);
    ASSERT_TRUE(w.ok()) << w.error().message();
    VdirStat st;
    st.mode = kModeLink | 0777;
    for (int i = 0; i < 40; ++i)
      ASSERT_TRUE(w->upsert(name(i), st, "target-" + std::to_string(i)).ok());
    // A pristine in-memory copy (8-byte aligned, as a mapping would be) to damage.
    m_image.resize(kFileSize / 8);
    std::memcpy(m_image.data(), w->data(), kFileSize);
  }
  void TearDown() override { std::system(("rm -rf " + m_dir).c_str()); }

  static std::string name(int i) { return "dir/entry-" + std::to_string(i); }
  std::string file() const { return m_dir + "/session.vdir"; }
  unsigned char* bytes() { return static_cast<unsigned char*>(static_cast<void*>(m_image.data())); }
  Header* hdr() { return static_cast<Header*>(static_cast<void*>(m_image.data())); }
  template <typename T> void put(uint64_t off, T v) { std::memcpy(bytes() + off, &v, sizeof v); }
  VdirAttach attach(VdirReader& r, size_t len = kFileSize) { return r.attach(m_image.data(), len); }
  VdirResult look(const VdirReader& r, const std::string& p) {
    VdirStat st;
    char t[64];
    return r.lookup(p.data(), p.size(), &st, t, sizeof t);
  }
  /// The file offset of the slot that entry I uses (0 if none), and of its record.
  uint64_t slot_of(int i, uint64_t* record_off) {
    const uint64_t table = hdr()->table_off;
    const Slot* t = static_cast<const Slot*>(static_cast<const void*>(bytes() + table));
    for (uint64_t s = 0; s < hdr()->table_cap; ++s) {
      if (t[s].word == 0) continue;
      const uint64_t off = hdr()->arena_off + slot_index(t[s].word) * kRecordAlign;
      const Record* rec = static_cast<const Record*>(static_cast<const void*>(bytes() + off));
      const std::string n = name(i);
      if (rec->path_len == n.size() &&
          std::memcmp(bytes() + off + kRecordSize, n.data(), n.size()) == 0) {
        *record_off = off;
        return table + s * kSlotSize;
      }
    }
    return 0;
  }

  std::string m_dir;
  std::vector<uint64_t> m_image;
};

TEST_F(VdirCorruptTest, PristineCopyWorks) {
  VdirReader r;
  ASSERT_EQ(attach(r), VdirAttach::kOk);
  for (int i = 0; i < 40; ++i)
    EXPECT_EQ(look(r, name(i)), VdirResult::kHit);
  EXPECT_EQ(look(r, "dir/none"), VdirResult::kMiss);
}

TEST_F(VdirCorruptTest, AttachRefusesBadHeaders) {
  VdirReader r;
  EXPECT_EQ(r.attach(nullptr, 0), VdirAttach::kTooSmall);
  EXPECT_EQ(attach(r, kHeaderSize - 1), VdirAttach::kTooSmall);
  EXPECT_EQ(attach(r, kFileSize / 2), VdirAttach::kTooSmall); // the file was cut short
  EXPECT_EQ(look(r, name(1)), VdirResult::kCorrupt);          // a refused reader stays refused
  const std::vector<uint64_t> good = m_image;
  struct Damage {
    const char* what;
    void (*apply)(VdirCorruptTest*);
    VdirAttach want;
  };
  const Damage cases[] = {
      {"magic", [](VdirCorruptTest* t) { t->bytes()[0] = 'X'; }, VdirAttach::kBadMagic},
      {"version", [](VdirCorruptTest* t) { t->hdr()->version = 99; }, VdirAttach::kBadVersion},
      {"header size", [](VdirCorruptTest* t) { t->hdr()->header_size = 128; },
       VdirAttach::kBadLayout},
      {"record size", [](VdirCorruptTest* t) { t->hdr()->record_size = 64; },
       VdirAttach::kBadLayout},
      {"hash fn", [](VdirCorruptTest* t) { t->hdr()->hash_fn = 7; }, VdirAttach::kBadLayout},
      {"file size", [](VdirCorruptTest* t) { t->hdr()->file_size = ~0ULL; }, VdirAttach::kTooSmall},
      {"arena off", [](VdirCorruptTest* t) { t->hdr()->arena_off = 8192; }, VdirAttach::kBadLayout},
      {"arena size", [](VdirCorruptTest* t) { t->hdr()->arena_size = ~0ULL - 100; },
       VdirAttach::kBadLayout},
      {"index off", [](VdirCorruptTest* t) { t->hdr()->index_off += 64; }, VdirAttach::kBadLayout},
      {"index size", [](VdirCorruptTest* t) { t->hdr()->index_size = kFileSize; },
       VdirAttach::kBadLayout},
  };
  for (const Damage& d : cases) {
    m_image = good;
    d.apply(this);
    EXPECT_EQ(attach(r), d.want) << d.what;
    EXPECT_FALSE(r.attached()) << d.what;
  }
}

TEST_F(VdirCorruptTest, TruncatedFileOnDisk) {
  ASSERT_EQ(::truncate(file().c_str(), 8192), 0);
  VdirMapping m;
  ASSERT_EQ(vdir_map_readonly(file().c_str(), &m), 0);
  VdirReader r;
  EXPECT_EQ(r.attach(m.base, m.len), VdirAttach::kTooSmall);
  vdir_unmap(&m);
  ASSERT_EQ(::truncate(file().c_str(), 0), 0);
  EXPECT_EQ(vdir_map_readonly(file().c_str(), &m), -EINVAL);
  EXPECT_EQ(vdir_map_readonly((m_dir + "/missing").c_str(), &m), -ENOENT);
  EXPECT_EQ(m.base, nullptr);
}

TEST_F(VdirCorruptTest, LookupBoundsEveryOffset) {
  const std::vector<uint64_t> good = m_image;
  VdirReader r;
  auto expect = [&](const char* what, VdirResult want, int entry = 3) {
    ASSERT_EQ(attach(r), VdirAttach::kOk) << what;
    EXPECT_EQ(look(r, name(entry)), want) << what;
    m_image = good;
  };
  hdr()->table_off = kFileSize; // past the end
  expect("table past the end", VdirResult::kCorrupt);
  hdr()->table_off = hdr()->arena_off; // inside the arena
  expect("table in the arena", VdirResult::kCorrupt);
  hdr()->table_cap = 100;
  expect("capacity not a power of two", VdirResult::kCorrupt);
  hdr()->table_cap = uint64_t{1} << 40;
  expect("capacity too large", VdirResult::kCorrupt);
  hdr()->table_seq = 1; // a writer that died mid-switch
  expect("table switch never finished", VdirResult::kBusy);

  uint64_t rec = 0;
  const uint64_t slot = slot_of(3, &rec);
  ASSERT_NE(slot, 0u);
  const uint64_t word = good[slot / 8];
  const uint64_t arena_end = hdr()->arena_off + hdr()->arena_size;
  auto index_of = [&](uint64_t off) { return (off - hdr()->arena_off) / kRecordAlign; };
  put<uint64_t>(slot, (word & ~0xFFFFFFFFull) | index_of(kFileSize - 64));
  expect("record in the index region", VdirResult::kCorrupt);
  put<uint64_t>(slot, (word & ~0xFFFFFFFFull) | index_of(arena_end - 64));
  expect("record cut by the arena's end", VdirResult::kCorrupt);
  put<uint64_t>(slot, (word & ~0xFFFFFFFFull) | 0xFFFFFFFFull);
  expect("largest record index", VdirResult::kCorrupt);
  put<uint32_t>(rec + offsetof(Record, path_len), 0xFFFFFFFF);
  expect("huge path length", VdirResult::kCorrupt);
  put<uint64_t>(rec + offsetof(Record, target_off), kFileSize * 4);
  expect("target past the arena", VdirResult::kCorrupt);
  put<uint32_t>(rec + offsetof(Record, target_len), 0x7FFFFFFF);
  expect("huge target", VdirResult::kCorrupt);
  put<uint64_t>(rec, 0); // a record that claims never to have been published
  expect("unpublished record", VdirResult::kCorrupt);
  put<uint64_t>(rec, 7); // a writer that died mid-update
  const auto start = std::chrono::steady_clock::now();
  expect("record write never finished", VdirResult::kBusy);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  put<uint64_t>(rec + offsetof(Record, key), 1); // a stale copy of the key in the record is unused
  expect("record key", VdirResult::kHit);
  // A full table with no empty slot: a miss must still terminate.
  const uint64_t cap = hdr()->table_cap;
  for (uint64_t s = 0; s < cap; ++s)
    if (static_cast<const Slot*>(static_cast<const void*>(bytes() + hdr()->table_off))[s].word == 0)
      put<uint64_t>(hdr()->table_off + s * kSlotSize, uint64_t{12345} << 32);
  expect("full table", VdirResult::kMiss, 1000);
}

// Random damage anywhere in the header, the table and the records: every outcome is allowed
// except a crash, a hang, or an out-of-bounds read (run under ASan to check the last one).
TEST_F(VdirCorruptTest, RandomDamageNeverCrashes) {
  const std::vector<uint64_t> good = m_image;
  const uint64_t table_off = hdr()->table_off;
  const uint64_t arena_used = hdr()->arena_used;
  std::mt19937_64 rng(42);
  int results[5] = {};
  for (int iter = 0; iter < 3000; ++iter) {
    m_image = good;
    for (int k = 0; k < 1 + static_cast<int>(rng() % 8); ++k) {
      uint64_t off;
      switch (rng() % 3) {
      case 0:
        off = rng() % 192;
        break; // header lines 0..2
      case 1:
        off = table_off + rng() % (64 * kSlotSize);
        break; // the table
      default:
        off = kHeaderSize + rng() % arena_used;
        break; // records and strings
      }
      bytes()[off] = static_cast<unsigned char>(rng());
    }
    VdirReader r;
    if (attach(r) != VdirAttach::kOk) continue;
    for (int i = 0; i < 45; ++i)
      ++results[static_cast<int>(look(r, name(i)))];
  }
  EXPECT_GT(results[static_cast<int>(VdirResult::kHit)], 0);
  EXPECT_GT(results[static_cast<int>(VdirResult::kCorrupt)], 0);
}

} // namespace
} // namespace vrift::vdir

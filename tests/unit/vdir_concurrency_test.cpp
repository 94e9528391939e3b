// VDir readers racing the writer: lookups during 100k+ inserts and many table growths, readers
// against a writer that rewrites the same entries constantly (run this file under TSan too),
// and a reader in another process that maps the file read-only.
//
// Every value the writer stores is a function of the entry's number and a version, so a reader
// can tell a torn copy (fields from two versions) or another entry's metadata from a good one.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "vrift/vdir/vdir_reader.h"
#include "vrift/vdir/vdir_writer.h"

namespace vrift::vdir {
namespace {

std::string entry_path(uint64_t i) {
  return "node_modules/pkg-" + std::to_string(i % 97) + "/lib/file-" + std::to_string(i) + ".js";
}

/// Version V of entry I: every field derived from (I, V).
VdirStat entry_stat(uint64_t i, uint64_t v) {
  VdirStat st;
  st.mode = kModeReg | static_cast<uint32_t>(v & 0777);
  st.size = i * 1000003 + v;
  st.mtime_ns = static_cast<int64_t>(v);
  st.ctime_ns = static_cast<int64_t>(v) + 1;
  st.atime_ns = static_cast<int64_t>(v) + 2;
  st.uid = static_cast<uint32_t>(v);
  st.gid = static_cast<uint32_t>(i);
  st.nlink = static_cast<uint32_t>(v % 5) + 1;
  std::memcpy(st.blob_hash, &i, 8);
  std::memcpy(st.blob_hash + 8, &v, 8);
  std::memset(st.blob_hash + 16, static_cast<int>(v & 0xff), 16);
  return st;
}
std::string entry_target(uint64_t v) { return "target-" + std::to_string(v); }

/// Empty if ST (and TARGET) is a consistent version of entry I, else what is wrong.
std::string check(uint64_t i, const VdirStat& st, const char* target = nullptr) {
  const uint64_t v = static_cast<uint64_t>(st.mtime_ns);
  VdirStat want = entry_stat(i, v);
  std::string what;
  if (st.size != want.size) what += " size";
  if (st.mode != want.mode || st.ctime_ns != want.ctime_ns || st.atime_ns != want.atime_ns)
    what += " mode/times";
  if (st.uid != want.uid || st.gid != want.gid || st.nlink != want.nlink) what += " owner/nlink";
  if (std::memcmp(st.blob_hash, want.blob_hash, 32) != 0) what += " hash";
  if (target && std::string(target, st.target_len) != entry_target(v)) what += " target";
  return what.empty() ? what : entry_path(i) + " v" + std::to_string(v) + ":" + what;
}

class VdirConcurrencyTest : public ::testing::Test {
protected:
  void SetUp() override {
    char tmpl[] = "/dev/shm/vrift-vdir-conc.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    m_dir = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + m_dir).c_str()); }
  std::string file() const { return m_dir + "/session.vdir"; }
  std::string m_dir;
};

TEST_F(VdirConcurrencyTest, LookupsDuringGrowthNeverAnswerWrong) {
  VdirOptions o;
  o.max_bytes = uint64_t{256} << 20;
  o.initial_entries = 16;
  auto w = VdirWriter::create(file(), o);
  ASSERT_TRUE(w.ok()) << w.error().message();
  // Same-process readers share the writer's mapping, so TSan sees both sides of every access.
  VdirReader r;
  ASSERT_EQ(r.attach(w->data(), w->size()), VdirAttach::kOk);

  const uint64_t n = 120000;
  std::atomic<uint64_t> published{0};
  std::atomic<bool> done{false};
  std::atomic<uint64_t> lookups{0}, busy{0};
  std::vector<std::string> errors;
  std::thread reader([&] {
    std::mt19937_64 rng(1);
    VdirStat st;
    while (!done.load(std::memory_order_acquire) && errors.size() < 10) {
      const uint64_t have = published.load(std::memory_order_acquire);
      if (have == 0) continue;
      const uint64_t i = rng() % have; // inserted before we looked: must hit
      const std::string p = entry_path(i);
      VdirResult res = r.lookup(p.data(), p.size(), &st);
      if (res == VdirResult::kBusy)
        ++busy;
      else if (res != VdirResult::kHit)
        errors.push_back(p + ": " + to_string(res));
      else if (auto bad = check(i, st); !bad.empty())
        errors.push_back(bad);
      const std::string q = entry_path(n + i); // never inserted: must miss
      res = r.lookup(q.data(), q.size(), &st);
      if (res != VdirResult::kMiss && res != VdirResult::kBusy)
        errors.push_back(q + ": " + to_string(res));
      lookups += 2;
    }
  });
  for (uint64_t i = 0; i < n; ++i) {
    ASSERT_TRUE(w->upsert(entry_path(i), entry_stat(i, i % 1000)).ok());
    published.store(i + 1, std::memory_order_release);
  }
  done.store(true, std::memory_order_release);
  reader.join();
  for (const auto& e : errors)
    ADD_FAILURE() << e;
  EXPECT_GE(w->growths(), 12u);
  EXPECT_EQ(w->record_count(), n);
  EXPECT_GT(lookups.load(), 1000u);
  EXPECT_LT(busy.load(), lookups.load() / 100 + 10);
  // Everything is there afterwards too.
  VdirStat st;
  for (uint64_t i = 0; i < n; i += 7) {
    const std::string p = entry_path(i);
    ASSERT_EQ(r.lookup(p.data(), p.size(), &st), VdirResult::kHit);
    ASSERT_EQ(check(i, st), "");
  }
}

TEST_F(VdirConcurrencyTest, ReadersNeverSeeATornEntry) {
  VdirOptions o;
  o.max_bytes = uint64_t{64} << 20;
  auto w = VdirWriter::create(file(), o);
  ASSERT_TRUE(w.ok()) << w.error().message();
  const uint64_t n = 64; // few entries: readers and the writer meet on the same records
  for (uint64_t i = 0; i < n; ++i)
    ASSERT_TRUE(w->upsert(entry_path(i), entry_stat(i, 0), entry_target(0)).ok());
  VdirReader r;
  ASSERT_EQ(r.attach(w->data(), w->size()), VdirAttach::kOk);

  std::atomic<bool> done{false};
  std::atomic<uint64_t> hits{0}, busy{0}, deleted{0};
  std::atomic<int> failures{0};
  std::vector<std::string> errors[2];
  auto read_loop = [&](int id) {
    std::mt19937_64 rng(static_cast<uint64_t>(id) + 10);
    VdirStat st;
    char target[64];
    while (!done.load(std::memory_order_acquire) && errors[id].size() < 10) {
      const uint64_t i = rng() % n;
      const std::string p = entry_path(i);
      switch (r.lookup(p.data(), p.size(), &st, target, sizeof target)) {
      case VdirResult::kHit:
        ++hits;
        if (auto bad = check(i, st, target); !bad.empty()) errors[id].push_back(bad);
        break;
      case VdirResult::kBusy:
        ++busy;
        break;
      case VdirResult::kDeleted:
        ++deleted;
        break; // entry 0 is removed and revived
      default:
        errors[id].push_back(p + ": unexpected result");
        ++failures;
      }
    }
  };
  std::thread r0(read_loop, 0), r1(read_loop, 1);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  uint64_t v = 1;
  for (; std::chrono::steady_clock::now() < deadline || v < 20000; ++v) {
    const uint64_t i = v % n;
    ASSERT_TRUE(w->upsert(entry_path(i), entry_stat(i, v), entry_target(v)).ok());
    if (v % 1000 == 0) {
      ASSERT_TRUE(w->remove(entry_path(0)).ok());
    }
  }
  done.store(true, std::memory_order_release);
  r0.join();
  r1.join();
  for (auto& list : errors)
    for (const auto& e : list)
      ADD_FAILURE() << e;
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(hits.load(), 1000u);
  std::printf("[          ] %llu updates, %llu consistent hits, %llu busy, %llu tombstones seen\n",
              static_cast<unsigned long long>(v), static_cast<unsigned long long>(hits.load()),
              static_cast<unsigned long long>(busy.load()),
              static_cast<unsigned long long>(deleted.load()));
}

TEST_F(VdirConcurrencyTest, ReaderInAnotherProcessSeesUpdates) {
  auto w = VdirWriter::create(file(), VdirOptions{uint64_t{16} << 20});
  ASSERT_TRUE(w.ok()) << w.error().message();
  ASSERT_TRUE(w->upsert(entry_path(1), entry_stat(1, 5)).ok());
  int to_child[2], to_parent[2];
  ASSERT_EQ(::pipe(to_child), 0);
  ASSERT_EQ(::pipe(to_parent), 0);
  const std::string path = file();
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: its own PROT_READ mapping, no writer object. Exit codes name the failed step.
    VdirMapping m;
    if (vdir_map_readonly(path.c_str(), &m) != 0) ::_exit(10);
    VdirReader r;
    if (r.attach(m.base, m.len) != VdirAttach::kOk) ::_exit(11);
    VdirStat st;
    const std::string p1 = entry_path(1), p2 = entry_path(2);
    if (r.lookup(p1.data(), p1.size(), &st) != VdirResult::kHit || !check(1, st).empty())
      ::_exit(12);
    char c = 'a';
    if (::write(to_parent[1], &c, 1) != 1 || ::read(to_child[0], &c, 1) != 1) ::_exit(13);
    // The parent has inserted entry 2, updated entry 1 and deleted entry 1's neighbour.
    if (r.lookup(p2.data(), p2.size(), &st) != VdirResult::kHit || !check(2, st).empty())
      ::_exit(14);
    if (r.lookup(p1.data(), p1.size(), &st) != VdirResult::kHit || st.mtime_ns != 6) ::_exit(15);
    const std::string p3 = entry_path(3);
    if (r.lookup(p3.data(), p3.size(), &st) != VdirResult::kDeleted) ::_exit(16);
    vdir_unmap(&m);
    ::_exit(0);
  }
  char c;
  ASSERT_EQ(::read(to_parent[0], &c, 1), 1);
  ASSERT_TRUE(w->upsert(entry_path(2), entry_stat(2, 9)).ok());
  ASSERT_TRUE(w->upsert(entry_path(1), entry_stat(1, 6)).ok());
  ASSERT_TRUE(w->remove(entry_path(3)).ok());
  ASSERT_EQ(::write(to_child[1], &c, 1), 1);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "child failed at step " << WEXITSTATUS(status);
  for (int fd : {to_child[0], to_child[1], to_parent[0], to_parent[1]})
    ::close(fd);
}

} // namespace
} // namespace vrift::vdir

// VDir lookup latency against the kernel's stat(), in the same run.
//
// VDir tables of 10k, 100k and 1M node_modules-like paths (52-98 bytes) on /dev/shm, looked up
// through a separate read-only mapping (as a shimmed process would) in a random order, hits and
// misses (the same paths with ".mjs": the probes of Node's module resolution), with or without
// one writer thread rewriting existing entries as fast as it can; and hits cycling over 1024
// or 4096 entries of the 1M table that were filled together (a build's working set). The kernel
// side stats 10k real files with the same shapes under /tmp (the work disk), round-robin, and their
// ".mjs" misses. And the memory floor of a hit on each table: the same two dependent loads (a
// random slot of a table as large as the VDir's, then the record it names in an arena as large as
// the VDir's), with nothing else, on tmpfs pages like the VDir's; and the floor of any index
// that compares full paths: one dependent load per step over one cache line per entry.
//
//   vrift_vdir_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// Instruction counts per lookup (no writer; valgrind serialises threads anyway):
//   VRIFT_VDIR_BENCH_COUNT=100000 valgrind --tool=callgrind --collect-atstart=no
//       --toggle-collect='*count_hits*' --toggle-collect='*count_misses*' vrift_vdir_bench
//   callgrind_annotate --inclusive=yes callgrind.out.PID | grep count_
// (one command line; divide each function's Ir by the count)
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "vrift/vdir/vdir_reader.h"
#include "vrift/vdir/vdir_writer.h"

namespace {

using namespace vrift::vdir;

/// Path I of the synthetic tree (52-98 bytes, mean 77), e.g.
/// "node_modules/@types/plugin-transform-runtime-20/es/components/base/index-40321.js".
std::string make_path(uint64_t i, const char* ext = ".js") {
  static const char* const scopes[] = {"", "@babel/", "@types/", "@jest/", "@eslint/", "@smithy/"};
  static const char* const names[] = {"plugin-transform-runtime",
                                      "core-js-compat",
                                      "lodash",
                                      "react-dom",
                                      "typescript",
                                      "webpack-sources",
                                      "eslint-scope",
                                      "source-map-support",
                                      "regenerator-runtime",
                                      "postcss-value-parser"};
  static const char* const dirs[] = {"lib/internal/utils",   "dist/cjs/helpers",
                                     "dist/esm/internal",    "src/utils/shared",
                                     "build/helpers/legacy", "es/components/base"};
  static const char* const files[] = {
      "index", "helpers", "module-transforms", "normalize-options", "parse-file", "visitor-keys"};
  const uint64_t pkg = i % 211;
  return std::string("node_modules/") + scopes[pkg % 6] + names[pkg % 10] + "-" +
         std::to_string(pkg) + "/" + dirs[(i / 211) % 6] + "/" + files[(i / 7) % 6] + "-" +
         std::to_string(i) + ext;
}

/// Paths packed in one buffer in lookup order, so that reading the next query is sequential.
struct PathSet {
  std::string blob;
  std::vector<std::pair<uint32_t, uint32_t>> at; // offset, length
  void add(const std::string& p) {
    at.emplace_back(static_cast<uint32_t>(blob.size()), static_cast<uint32_t>(p.size()));
    blob += p;
  }
  const char* data(size_t i) const { return blob.data() + at[i].first; }
};

PathSet shuffled(uint64_t n, const char* ext, uint64_t seed) {
  std::vector<uint64_t> order(n);
  for (uint64_t i = 0; i < n; ++i)
    order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937_64(seed));
  PathSet s;
  s.blob.reserve(n * 90);
  for (uint64_t i : order)
    s.add(make_path(i, ext));
  return s;
}

VdirStat stat_for(uint64_t i, uint64_t version) {
  VdirStat st;
  st.mode = kModeReg | 0644;
  st.size = 1000 + i + version;
  st.mtime_ns = st.ctime_ns = st.atime_ns = 1767323045123456789 + static_cast<int64_t>(version);
  st.blob_hash[0] = static_cast<uint8_t>(i);
  return st;
}

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "vrift_vdir_bench: %s\n", msg.c_str());
  std::exit(1);
}

/// One VDir of N entries, built once per process, with its own read-only mapping.
struct Table {
  std::string file;
  VdirWriter writer;
  VdirMapping map;
  VdirReader reader;
  PathSet hits, misses;
  uint64_t n = 0;

  explicit Table(uint64_t entries) : n(entries) {
    file = "/dev/shm/vrift-vdir-bench-" + std::to_string(::getpid()) + "-" + std::to_string(n);
    VdirOptions o;
    o.initial_entries = n;
    o.index_bytes = std::max<uint64_t>(uint64_t{4} << 20, n * 128);
    o.max_bytes = o.index_bytes + (uint64_t{16} << 20) + n * 320; // records take 256 bytes
    auto w = VdirWriter::create(file, o);
    if (!w.ok()) die(w.error().message());
    writer = std::move(w).value();
    auto give_up = [&](const std::string& msg) {
      ::unlink(file.c_str());
      die(msg);
    };
    for (uint64_t i = 0; i < n; ++i)
      if (auto st = writer.upsert(make_path(i), stat_for(i, 0)); !st) give_up(st.error().message());
    if (vdir_map_readonly(file.c_str(), &map) != 0 ||
        reader.attach(map.base, map.len) != VdirAttach::kOk)
      give_up("cannot map " + file);
    ::unlink(file.c_str()); // both mappings keep the tmpfs file alive; nothing is left behind
    hits = shuffled(n, ".js", 1);
    misses = shuffled(n, ".mjs", 2);
  }
  ~Table() { vdir_unmap(&map); }
};

Table& table(uint64_t n) {
  static std::map<uint64_t, std::unique_ptr<Table>> tables;
  auto& t = tables[n];
  if (!t) t = std::make_unique<Table>(n);
  return *t;
}

/// Rewrites existing entries in a loop (each upsert goes through the record's seqlock) while
/// the benchmark runs.
class WriterThread {
public:
  WriterThread(Table& t, bool on) : m_table(t) {
    if (on) m_thread = std::thread([this] { run(); });
  }
  ~WriterThread() {
    m_stop.store(true);
    if (m_thread.joinable()) m_thread.join();
  }
  uint64_t updates() const { return m_updates.load(); }

private:
  void run() {
    std::mt19937_64 rng(3);
    uint64_t version = 1;
    while (!m_stop.load(std::memory_order_relaxed)) {
      const uint64_t i = rng() % m_table.n;
      if (!m_table.writer.upsert(make_path(i), stat_for(i, version++)).ok()) std::abort();
      m_updates.fetch_add(1, std::memory_order_relaxed);
    }
  }
  Table& m_table;
  std::atomic<bool> m_stop{false};
  std::atomic<uint64_t> m_updates{0};
  std::thread m_thread;
};

/// Lookups in random order over all N entries; or, with HOT, over HOT entries filled one after
/// the other (a build's working set: a fill from a manifest stores a directory's entries
/// together, so they share arena pages; their slots are scattered by the hash anyway).
void run_lookups(benchmark::State& state, bool hit, size_t hot = 0) {
  Table& t = table(static_cast<uint64_t>(state.range(0)));
  const PathSet hot_paths = hot ? shuffled(hot, ".js", 3) : PathSet{};
  const PathSet& paths = hot ? hot_paths : hit ? t.hits : t.misses;
  const size_t cycle = hot ? hot : t.n;
  const VdirResult want = hit ? VdirResult::kHit : VdirResult::kMiss;
  WriterThread writer(t, state.range(hot ? 2 : 1) != 0);
  VdirStat st;
  size_t i = 0, wrong = 0;
  for (auto _ : state) {
    VdirResult r = t.reader.lookup(paths.data(i), paths.at[i].second, &st);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(st);
    wrong += r != want;
    if (++i == cycle) i = 0;
  }
  state.counters["not_" + std::string(hit ? "hit" : "miss")] = static_cast<double>(wrong);
  state.counters["writer_updates/s"] =
      benchmark::Counter(static_cast<double>(writer.updates()), benchmark::Counter::kIsRate);
}

/// A shared mapping of a new, unlinked tmpfs file of BYTES (the VDir's kind of memory: no
/// transparent huge pages unless tmpfs is mounted with them), filled by the kernel with zeros.
struct ShmBuffer {
  void* base = MAP_FAILED;
  size_t len = 0;
  explicit ShmBuffer(size_t bytes) : len(bytes) {
    const std::string file = "/dev/shm/vrift-vdir-bench-chase-" + std::to_string(::getpid());
    const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) die("cannot create " + file);
    ::unlink(file.c_str());
    if (::ftruncate(fd, static_cast<off_t>(len)) == 0)
      base = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (base == MAP_FAILED) die("cannot map " + std::to_string(len) + " bytes of " + file);
  }
  ~ShmBuffer() { ::munmap(base, len); }
  uint32_t* words() const { return static_cast<uint32_t*>(base); }
};

/// The memory floor of a hit on the N-entry table: entries are visited in a random cycle, and
/// each step makes a hit's two dependent loads and nothing else: the entry's slot (at a random
/// position of a slot array of the table's capacity) holds the entry's number, and the entry's
/// record (one of N in an arena of the table's size, records as far apart as the table's)
/// holds the slot position of the next entry. Per step: one slot access, then one record
/// access, each missing the caches and TLBs as often as a random hit's do.
void BM_MemoryFloor(benchmark::State& state) {
  const Table& t = table(static_cast<uint64_t>(state.range(0)));
  const auto* h = static_cast<const Header*>(t.map.base);
  const uint64_t cap = h->table_cap, arena = h->arena_used;
  const uint64_t stride = arena / t.n / sizeof(uint32_t); // words from one record to the next
  ShmBuffer slots(cap * kSlotSize), records(arena);
  std::mt19937_64 rng(4);
  std::vector<uint64_t> pos(cap), order(t.n);
  for (uint64_t i = 0; i < cap; ++i)
    pos[i] = i;
  std::shuffle(pos.begin(), pos.end(), rng); // entry e's slot: pos[e]
  for (uint64_t e = 0; e < t.n; ++e)
    order[e] = e;
  std::shuffle(order.begin(), order.end(), rng); // the cycle: order[0] -> order[1] -> ...
  uint32_t* s = slots.words();
  uint32_t* r = records.words();
  for (uint64_t k = 0; k < t.n; ++k) {
    const uint64_t e = order[k], next = order[(k + 1) % t.n];
    s[pos[e] * (kSlotSize / sizeof(uint32_t))] = static_cast<uint32_t>(e);
    r[e * stride] = static_cast<uint32_t>(pos[next] * (kSlotSize / sizeof(uint32_t)));
  }
  uint32_t at = static_cast<uint32_t>(pos[order[0]] * (kSlotSize / sizeof(uint32_t)));
  for (auto _ : state) {
    at = r[s[at] * stride];
    benchmark::DoNotOptimize(at);
  }
  state.counters["slot_bytes"] = static_cast<double>(cap * kSlotSize);
  state.counters["arena_bytes"] = static_cast<double>(arena);
}

/// The floor of ANY index that compares full paths: one dependent load per step, entries visited
/// in a random cycle, each entry a single cache line (smaller than any record that holds a
/// 52-98 byte path), so N lines of tmpfs pages. A layout with records inline in the table
/// could at best make one such access per hit; where this exceeds 50 ns, no layout can meet it.
void BM_MemoryFloorOneLoad(benchmark::State& state) {
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  constexpr uint64_t kLine = 64 / sizeof(uint32_t); // words per cache line
  ShmBuffer lines(n * 64);
  std::vector<uint64_t> order(n);
  for (uint64_t e = 0; e < n; ++e)
    order[e] = e;
  std::shuffle(order.begin(), order.end(), std::mt19937_64(5));
  uint32_t* w = lines.words();
  for (uint64_t k = 0; k < n; ++k)
    w[order[k] * kLine] = static_cast<uint32_t>(order[(k + 1) % n] * kLine);
  uint32_t at = static_cast<uint32_t>(order[0] * kLine);
  for (auto _ : state) {
    at = w[at];
    benchmark::DoNotOptimize(at);
  }
  state.counters["bytes"] = static_cast<double>(n * 64);
}

void BM_VdirHit(benchmark::State& state) { run_lookups(state, true); }
void BM_VdirMiss(benchmark::State& state) { run_lookups(state, false); }
void BM_VdirHitHot(benchmark::State& state) {
  run_lookups(state, true, static_cast<size_t>(state.range(1)));
}

/// 10k real files (same path shapes) under /tmp, created once; paths NUL-terminated for stat().
struct RealFiles {
  std::string root;
  PathSet hits, misses;
  RealFiles() {
    root = "/tmp/vrift-vdir-bench-" + std::to_string(::getpid());
    const uint64_t n = 10000;
    for (uint64_t i = 0; i < n; ++i) {
      const std::string p = root + "/" + make_path(i);
      for (size_t s = p.find('/', 1); s != std::string::npos; s = p.find('/', s + 1))
        ::mkdir(p.substr(0, s).c_str(), 0755);
      const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0) std::exit(1);
      ::close(fd);
    }
    const PathSet h = shuffled(n, ".js", 1), m = shuffled(n, ".mjs", 2);
    for (size_t i = 0; i < n; ++i) {
      hits.add(root + "/" + std::string(h.data(i), h.at[i].second));
      hits.blob += '\0';
      misses.add(root + "/" + std::string(m.data(i), m.at[i].second));
      misses.blob += '\0';
    }
  }
  ~RealFiles() { std::system(("rm -rf " + root).c_str()); }
};

RealFiles& real_files() {
  static RealFiles files;
  return files;
}

void run_stat(benchmark::State& state, bool hit) {
  const PathSet& paths = hit ? real_files().hits : real_files().misses;
  struct stat st {};
  size_t i = 0, wrong = 0;
  for (auto _ : state) {
    const int r = ::stat(paths.data(i), &st);
    benchmark::DoNotOptimize(st);
    wrong += (r == 0) != hit;
    if (++i == paths.at.size()) i = 0;
  }
  state.counters["not_" + std::string(hit ? "hit" : "miss")] = static_cast<double>(wrong);
}

void BM_KernelStatHit(benchmark::State& state) { run_stat(state, true); }
void BM_KernelStatMiss(benchmark::State& state) { run_stat(state, false); }

void vdir_args(benchmark::internal::Benchmark* b) {
  for (int64_t n : {10000, 100000, 1000000})
    for (int64_t writer : {0, 1})
      b->Args({n, writer});
  b->ArgNames({"entries", "writer"})->MinTime(0.2);
}

BENCHMARK(BM_VdirHit)->Apply(vdir_args);
BENCHMARK(BM_VdirMiss)->Apply(vdir_args);
BENCHMARK(BM_VdirHitHot)
    ->Args({1000000, 1024, 0})
    ->Args({1000000, 1024, 1})
    ->Args({1000000, 4096, 1})
    ->ArgNames({"entries", "hot", "writer"})
    ->MinTime(0.2);
BENCHMARK(BM_MemoryFloor)->Arg(10000)->Arg(100000)->Arg(1000000)->ArgName("entries")->MinTime(0.2);
BENCHMARK(BM_MemoryFloorOneLoad)
    ->Arg(10000)
    ->Arg(100000)
    ->Arg(1000000)
    ->ArgName("entries")
    ->MinTime(0.2);
BENCHMARK(BM_KernelStatHit)->MinTime(0.2);
BENCHMARK(BM_KernelStatMiss)->MinTime(0.2);

// The callgrind mode: N lookups of each kind in functions that --toggle-collect can name.
__attribute__((noinline)) size_t count_hits(const Table& t, size_t n) {
  VdirStat st;
  size_t ok = 0;
  for (size_t i = 0; i < n; ++i)
    ok += t.reader.lookup(t.hits.data(i % t.n), t.hits.at[i % t.n].second, &st) == VdirResult::kHit;
  return ok;
}
__attribute__((noinline)) size_t count_misses(const Table& t, size_t n) {
  VdirStat st;
  size_t ok = 0;
  for (size_t i = 0; i < n; ++i)
    ok += t.reader.lookup(t.misses.data(i % t.n), t.misses.at[i % t.n].second, &st) ==
          VdirResult::kMiss;
  return ok;
}

} // namespace

int main(int argc, char** argv) {
  if (const char* count = std::getenv("VRIFT_VDIR_BENCH_COUNT")) {
    const size_t n = std::strtoull(count, nullptr, 10);
    Table& t = table(10000);
    const size_t h = count_hits(t, n), m = count_misses(t, n);
    std::printf("%zu lookups each on 10k entries: %zu hits, %zu misses\n", n, h, m);
    return h == n && m == n ? 0 : 1;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

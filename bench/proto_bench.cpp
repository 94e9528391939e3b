// Cost of the wire codec on the shim's hot message: encoding a COMMIT, reading and decoding it,
// and both together; plus the largest v1 frame (two 4 KiB paths) for the worst case.
// usage: vrift_proto_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <string>

#include "vrift/proto/codec.h"

namespace {

using namespace vrift::proto;

const Commit kCommit{42, "target/debug/deps/libserde-1a2b3c4d5e6f.rlib",
                     "/home/user/project/.vrift/staging/pid_12345/fd_17.tmp"};

void BM_EncodeCommit(benchmark::State& state) {
  uint8_t buf[512];
  uint32_t id = 0;
  for (auto _ : state) {
    size_t n = encode(buf, sizeof buf, ++id, kCommit);
    benchmark::DoNotOptimize(n);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_EncodeCommit);

void BM_DecodeCommit(benchmark::State& state) {
  uint8_t buf[512];
  size_t n = encode(buf, sizeof buf, 1, kCommit);
  for (auto _ : state) {
    Frame f;
    size_t used = 0;
    Commit c;
    Err e = read_frame(buf, n, kMaxFrameSize, &f, &used);
    if (e == Err::Ok) e = decode(f, &c);
    benchmark::DoNotOptimize(e);
    benchmark::DoNotOptimize(c);
  }
}
BENCHMARK(BM_DecodeCommit);

void BM_EncodeDecodeCommit(benchmark::State& state) {
  uint8_t buf[512];
  uint32_t id = 0;
  for (auto _ : state) {
    size_t n = encode(buf, sizeof buf, ++id, kCommit);
    Frame f;
    size_t used = 0;
    Commit c;
    Err e = read_frame(buf, n, kMaxFrameSize, &f, &used);
    if (e == Err::Ok) e = decode(f, &c);
    benchmark::DoNotOptimize(e);
    benchmark::DoNotOptimize(c);
  }
}
BENCHMARK(BM_EncodeDecodeCommit);

void BM_EncodeDecodeLargestRename(benchmark::State& state) {
  std::string path;
  while (path.size() < kMaxPathLen - 2)
    path += "d/";
  path += "fx";
  const Rename r{1, 0, path, path};
  static uint8_t buf[kMaxV1Frame];
  for (auto _ : state) {
    size_t n = encode(buf, sizeof buf, 1, r);
    Frame f;
    size_t used = 0;
    Rename out;
    Err e = read_frame(buf, n, kMaxFrameSize, &f, &used);
    if (e == Err::Ok) e = decode(f, &out);
    benchmark::DoNotOptimize(e);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(kMaxV1Frame));
}
BENCHMARK(BM_EncodeDecodeLargestRename);

} // namespace

BENCHMARK_MAIN();

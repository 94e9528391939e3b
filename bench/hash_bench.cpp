// Hash throughput of large files: vrift's hashing path (vrift::blake3_file, as ingest calls it:
// mappings for large files, else reads into a 256 KiB buffer) against the plain BLAKE3 C reference
// loop (64 KiB reads, as in shared/tools/b3bench.c), same files, same run, alternating, best of N.
// usage: vrift_hash_bench REPS FILE...
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "vrift/hash/blake3.h"
#include <blake3.h> // the official C implementation (not vrift/hash/blake3.h)

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

uint64_t reference(const char* path, std::vector<uint8_t>& buf) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  blake3_hasher h;
  blake3_hasher_init(&h);
  uint64_t total = 0;
  ssize_t n;
  while ((n = ::read(fd, buf.data(), 1 << 16)) > 0) {
    blake3_hasher_update(&h, buf.data(), static_cast<size_t>(n));
    total += static_cast<uint64_t>(n);
  }
  uint8_t out[32];
  blake3_hasher_finalize(&h, out, 32);
  ::close(fd);
  return total;
}

uint64_t ours(const char* path, std::vector<uint8_t>& buf) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  uint64_t n = 0;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return 0;
  }
  auto r = vrift::blake3_file(fd, static_cast<uint64_t>(st.st_size), &n, buf.data(), buf.size());
  ::close(fd);
  return r.ok() ? n : 0;
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s REPS FILE...\n", argv[0]);
    return 2;
  }
  int reps = std::atoi(argv[1]);
  std::vector<uint8_t> buf(1 << 18);
  double best_ref = 0, best_ours = 0;
  for (int r = 0; r < reps; ++r) {
    for (int pass = 0; pass < 2; ++pass) {
      double t0 = now();
      uint64_t bytes = 0;
      for (int i = 2; i < argc; ++i)
        bytes += pass ? ours(argv[i], buf) : reference(argv[i], buf);
      double gbs = static_cast<double>(bytes) / (now() - t0) / 1e9;
      double& best = pass ? best_ours : best_ref;
      if (gbs > best) best = gbs;
    }
  }
  std::printf(
      "reference BLAKE3 C loop: %.3f GB/s\nvrift blake3_file:       %.3f GB/s\nratio: %.3f\n",
      best_ref, best_ours, best_ours / best_ref);
  return 0;
}

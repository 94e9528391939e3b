#include "vrift/maint/projects.h"

#include <dirent.h>
#include <fcntl.h>

#include <algorithm>
#include <atomic>
#include <system_error>
#include <thread>

#include "vrift/util/fd.h"

#include <fcntl.h>
#include <unistd.h>

namespace vrift {

Result<std::vector<LiveProject>> load_projects(const Registry& reg, const std::string& store_root) {
  VRIFT_ASSIGN(auto rows, reg.list(store_root));
  std::vector<LiveProject> out;
  out.reserve(rows.size());
  for (auto& r : rows) {
    LiveProject p;
    p.rec = std::move(r);
    p.manifest_gone = ::access(p.rec.manifest_path.c_str(), F_OK) != 0;
    p.root_gone = ::access(p.rec.root.c_str(), F_OK) != 0;
    // vrift's own copy is authoritative (the user may have edited or moved theirs).
    auto m = Manifest::open(p.rec.copy_path);
    if (!m.ok() && !p.manifest_gone) m = Manifest::open(p.rec.manifest_path);
    if (m.ok()) {
      p.manifest = std::move(m).value();
    } else {
      p.load_error = m.error().message();
    }
    out.push_back(std::move(p));
  }
  return out;
}

void add_references(const Manifest& m, BlobSet& out) {
  for (size_t i = 0; i < m.size(); ++i) {
    EntryView e = m.at(i);
    if (e.type == EntryType::File) out.insert(BlobKey{e.hash_value(), e.size});
  }
}

/// Calls FN with every name in the directory FD except "." and "..", reading with getdents64
/// into BUF.
namespace {

template <typename Fn> void for_each_name(int fd, char* buf, size_t size, Fn&& fn) {
  for (;;) {
    ssize_t got = ::getdents64(fd, buf, size);
    if (got <= 0) return;
    for (ssize_t off = 0; off < got;) {
      const auto* d = reinterpret_cast<const struct dirent64*>(buf + off);
      off += d->d_reclen;
      if (d->d_name[0] == '.' && (!d->d_name[1] || (d->d_name[1] == '.' && !d->d_name[2])))
        continue;
      fn(d->d_name);
    }
  }
}

} // namespace

/// From the names alone (no stat). A
/// store of 100,000 blobs spreads them over ~65,000 shard directories, so the cost is per
/// directory. Each is opened relative to its parent's fd and read with getdents64 into one
/// reusable buffer (no opendir allocation, no full-path lookup), and the 256 top-level shards
/// are split between a few threads. Unreadable shards are skipped.
Result<std::vector<BlobKey>> list_blobs(const Store& store) {
  std::string base = store.root() + "/blake3";
  UniqueFd top(::open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!top.valid()) return fail_os("listing '" + base + "'");
  unsigned n = std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
  std::vector<std::vector<BlobKey>> parts(n);
  std::atomic<unsigned> next{0};
  auto work = [&](std::vector<BlobKey>& out) {
    alignas(8) char buf[32768];
    for (unsigned t; (t = next.fetch_add(1)) < 256;) {
      char name1[3] = {"0123456789abcdef"[t >> 4], "0123456789abcdef"[t & 15], 0};
      UniqueFd d1(::openat(top.get(), name1, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!d1.valid()) continue;
      for_each_name(d1.get(), buf, sizeof buf, [&](const char* name2) {
        UniqueFd d2(::openat(d1.get(), name2, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!d2.valid()) return;
        for_each_name(d2.get(), buf + 16384, sizeof buf - 16384, [&](const char* blob) {
          BlobKey k;
          if (Store::parse_blob_name(blob, k.hash, k.size)) out.push_back(k);
        });
      });
    }
  };
  std::vector<std::thread> threads;
  for (unsigned i = 1; i < n; ++i) {
    try {
      threads.emplace_back(work, std::ref(parts[i]));
    } catch (const std::system_error&) {
      break; // no more threads: the ones we have (at least this one) take the rest
    }
  }
  work(parts[0]);
  for (auto& th : threads)
    th.join();
  for (unsigned i = 1; i < n; ++i)
    parts[0].insert(parts[0].end(), parts[i].begin(), parts[i].end());
  return std::move(parts[0]);
}

} // namespace vrift

// How the scan works: blake3/ is read with one open directory fd per level (openat/fstatat, no
// path re-resolution per entry, symlinks never followed). An entry is a blob only when its name
// is canonical (lowercase hex, decimal size) and it sits in the shard its hash names; anything
// else is reported as stray rather than silently skipped as Store::for_each_blob does.
#include "vrift/maint/doctor_scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

#include "vrift/util/fs.h"

namespace vrift::doctor {

namespace {

using DirPtr = std::unique_ptr<DIR, int (*)(DIR*)>;

// Opens NAME under PARENT as a directory stream; *FD receives its fd (owned by the stream).
DirPtr open_dir_at(int parent, const char* name, int* fd) {
  int d = ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (d < 0) return DirPtr(nullptr, ::closedir);
  DIR* dir = ::fdopendir(d);
  if (!dir) {
    ::close(d);
    return DirPtr(nullptr, ::closedir);
  }
  *fd = d;
  return DirPtr(dir, ::closedir);
}

bool is_dot(const char* n) { return n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && !n[2])); }

bool is_hex2(const char* n) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  return hex(n[0]) && hex(n[1]) && n[2] == '\0';
}

// Whether a store directory is usable: a real directory we own with rwx for the owner.
bool dir_ok(const struct stat& st) {
  return S_ISDIR(st.st_mode) && st.st_uid == ::geteuid() && (st.st_mode & S_IRWXU) == S_IRWXU;
}

class BlobScanner {
public:
  explicit BlobScanner(const std::string& root) : m_base(root + "/blake3") {}

  BlobScan run() {
    int fd = -1;
    DirPtr top = open_dir_at(AT_FDCWD, m_base.c_str(), &fd);
    if (!top) {
      m_out.error = "listing '" + m_base + "': " + std::strerror(errno);
      return std::move(m_out);
    }
    while (dirent* d = ::readdir(top.get())) {
      if (is_dot(d->d_name)) continue;
      std::string path = m_base + "/" + d->d_name;
      if (shard_dir(fd, d->d_name, path)) scan_mid(fd, d->d_name, path);
    }
    return std::move(m_out);
  }

private:
  // True when NAME (under PARENT, at PATH) is a shard directory to descend into.
  bool shard_dir(int parent, const char* name, const std::string& path) {
    struct stat st {};
    if (!is_hex2(name) || ::fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISDIR(st.st_mode)) {
      m_out.stray.add(path);
      return false;
    }
    if (!dir_ok(st)) m_out.bad_dirs.add(path);
    return true;
  }

  void scan_mid(int parent, const char* top_name, const std::string& path) {
    int fd = -1;
    DirPtr mid = open_dir_at(parent, top_name, &fd);
    if (!mid) {
      m_out.bad_dirs.add(path);
      return;
    }
    while (dirent* d = ::readdir(mid.get())) {
      if (is_dot(d->d_name)) continue;
      std::string sub = path + "/" + d->d_name;
      if (shard_dir(fd, d->d_name, sub)) scan_leaf(fd, d->d_name, sub, top_name);
    }
  }

  void scan_leaf(int parent, const char* mid_name, const std::string& path, const char* top_name) {
    int fd = -1;
    DirPtr leaf = open_dir_at(parent, mid_name, &fd);
    if (!leaf) {
      m_out.bad_dirs.add(path);
      return;
    }
    std::string prefix = std::string(top_name) + mid_name;
    while (dirent* d = ::readdir(leaf.get())) {
      if (!is_dot(d->d_name)) entry(fd, d->d_name, path + "/" + d->d_name, prefix);
    }
  }

  void entry(int dirfd, const char* name, const std::string& path, const std::string& prefix) {
    BlobKey k;
    struct stat st {};
    bool named = Store::parse_blob_name(name, k.hash, k.size);
    std::string hex = named ? k.hash.hex() : std::string();
    // The name must be canonical (lowercase) and in its own shard, the entry a regular file.
    if (!named || hex.compare(0, 64, name, 64) != 0 || hex.compare(0, 4, prefix) != 0 ||
        ::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
      m_out.stray.add(path);
      return;
    }
    blob(k, st, path);
  }

  void blob(const BlobKey& k, const struct stat& st, const std::string& path) {
    m_out.blobs.push_back(k);
    m_out.bytes += k.size;
    if (st.st_nlink > m_out.max_links) m_out.max_links = st.st_nlink;
    if (st.st_nlink > kNearLinkLimit) m_out.near_link_limit.add(path);
    bool suspect = static_cast<uint64_t>(st.st_size) != k.size;
    char fp[32];
    ssize_t n = ::lgetxattr(path.c_str(), kFingerprintXattr, fp, sizeof fp - 1);
    if (n >= 0) {
      ++m_out.linked;
      fp[n] = '\0';
      suspect = suspect || std::to_string(fs::ns(st.st_mtim)) != fp;
    } else {
      if (st.st_mode & 0222) m_out.writable_owned.add(path);
      if (st.st_nlink > 1) m_out.shared_unmarked.add(path);
    }
    if (suspect) m_out.suspects.push_back(k);
  }

  std::string m_base;
  BlobScan m_out;
};

void check_top_dirs(const std::string& root, BlobScan& out) {
  for (const char* sub : {"", "/blake3", "/tmp", "/quarantine", "/manifests"}) {
    std::string p = root + sub;
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0 || !dir_ok(st)) out.bad_dirs.add(p);
  }
}

} // namespace

BlobScan scan_blobs(const std::string& root) {
  BlobScan out = BlobScanner(root).run();
  check_top_dirs(root, out);
  return out;
}

TempScan scan_tmp(const std::string& root) {
  TempScan out;
  std::string dir = root + "/tmp";
  int fd = -1;
  DirPtr d = open_dir_at(AT_FDCWD, dir.c_str(), &fd);
  if (!d) return out;
  time_t cutoff = ::time(nullptr) - 3600;
  while (dirent* e = ::readdir(d.get())) {
    struct stat st {};
    if (is_dot(e->d_name) || ::fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (st.st_mtim.tv_sec < cutoff) {
      out.old.add(dir + "/" + e->d_name);
      out.old_bytes += static_cast<uint64_t>(st.st_size);
    } else {
      ++out.recent;
    }
  }
  return out;
}

std::vector<QuarantinedBlob> scan_quarantine(const std::string& root) {
  std::vector<QuarantinedBlob> out;
  std::string dir = root + "/quarantine";
  int fd = -1;
  DirPtr d = open_dir_at(AT_FDCWD, dir.c_str(), &fd);
  if (!d) return out;
  while (dirent* e = ::readdir(d.get())) {
    if (is_dot(e->d_name)) continue;
    QuarantinedBlob q;
    q.name = e->d_name;
    // "<hex>_<size>.bin.<unix time>.<pid>" (Store::revalidate; before session 15 without the pid).
    auto pos = q.name.find(".bin.");
    if (pos != std::string::npos)
      q.parsed = Store::parse_blob_name(std::string_view(q.name).substr(0, pos + 4), q.key.hash,
                                        q.key.size);
    out.push_back(std::move(q));
  }
  return out;
}

namespace {

// Re-hashes KEYS[i] for every i handed out by NEXT; merges into OUT under MU.
void verify_worker(const Store& store, const std::vector<BlobKey>& keys, std::atomic<size_t>& next,
                   std::mutex& mu, VerifyResult& out) {
  VerifyResult mine;
  for (size_t i; (i = next.fetch_add(1)) < keys.size();) {
    const BlobKey& k = keys[i];
    auto good = store.verify(k.hash, k.size);
    if (!good.ok() && good.error().errnum() == ENOENT) {
      mine.vanished.push_back(k);
      continue;
    }
    ++mine.blobs;
    mine.bytes += k.size;
    if (!good.ok())
      mine.unreadable.push_back(k.hash.hex() + "_" + std::to_string(k.size) + ": " +
                                good.error().message());
    else if (!*good)
      mine.bad.push_back(k);
  }
  std::lock_guard lk(mu);
  out.blobs += mine.blobs;
  out.bytes += mine.bytes;
  out.bad.insert(out.bad.end(), mine.bad.begin(), mine.bad.end());
  out.unreadable.insert(out.unreadable.end(), mine.unreadable.begin(), mine.unreadable.end());
  out.vanished.insert(out.vanished.end(), mine.vanished.begin(), mine.vanished.end());
}

} // namespace

VerifyResult verify_blobs(const Store& store, const std::vector<BlobKey>& keys, unsigned threads) {
  VerifyResult out;
  auto t0 = std::chrono::steady_clock::now();
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::vector<std::thread> pool;
  unsigned extra = threads > 1 ? threads - 1 : 0;
  if (extra > keys.size()) extra = static_cast<unsigned>(keys.size());
  for (unsigned t = 0; t < extra; ++t) {
    try {
      pool.emplace_back([&] { verify_worker(store, keys, next, mu, out); });
    } catch (const std::system_error&) {
      break; // no more threads: the calling thread does the rest
    }
  }
  verify_worker(store, keys, next, mu, out);
  for (auto& t : pool)
    t.join();
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

FsProbe probe_filesystem(const std::string& root) {
  FsProbe out;
  std::string base = root + "/tmp/doctor-probe." + std::to_string(::getpid());
  std::string a = base + ".a", b = base + ".b";
  UniqueFd fa(::open(a.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fa.valid()) return out;
  UniqueFd fb(::open(b.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  static const char kData[] = "vrift doctor probe\n";
  if (fb.valid() && ::write(fa.get(), kData, sizeof kData - 1) > 0) {
    out.probed = true;
    out.reflink = ::ioctl(fb.get(), FICLONE, fa.get()) == 0;
    out.xattr = ::fsetxattr(fa.get(), "user.vrift.probe", "1", 1, 0) == 0;
  }
  ::unlink(a.c_str());
  if (fb.valid()) ::unlink(b.c_str());
  return out;
}

} // namespace vrift::doctor

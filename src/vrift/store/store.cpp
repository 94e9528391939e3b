// How insertion stays safe (details in docs/store-format.md):
//  * A blob appears under its name only by link(2) of a complete file (a temp file we wrote, or
//    the user's file we hashed), so readers never see a partial blob; EEXIST means another
//    process placed the same bytes first, which is success.
//  * When the blob is the user's inode (hard link), the inode is re-checked after linking: if
//    size/mtime moved since hashing, the name is withdrawn again. The blob then carries a
//    fingerprint xattr so later in-place edits are detected before the blob is trusted.
#include "vrift/store/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <thread>

#include "vrift/util/fs.h"
#include "vrift/util/hex.h"
#include "vrift/util/log.h"
#include "vrift/util/scratch.h"

namespace vrift {

namespace {

constexpr const char* kStoreFile = "STORE";
constexpr const char* kStoreFormat = "vrift-store 1";

int64_t mtime_ns(const struct stat& st) { return fs::ns(st.st_mtim); }

std::string random_hex(size_t bytes) {
  std::random_device rd;
  std::string raw(bytes, '\0');
  for (auto& c : raw)
    c = static_cast<char>(rd() & 0xff);
  return to_hex(reinterpret_cast<const uint8_t*>(raw.data()), raw.size());
}

bool is_reflink_unsupported(int e) {
  return e == EOPNOTSUPP || e == EXDEV || e == EINVAL || e == ENOTTY || e == ENOSYS || e == EPERM;
}

} // namespace

const char* placement_name(Placement p) {
  switch (p) {
  case Placement::Existing:
    return "existing";
  case Placement::Reflink:
    return "reflink";
  case Placement::Link:
    return "link";
  case Placement::Copy:
    return "copy";
  case Placement::Move:
    return "move";
  }
  return "?";
}

Result<std::unique_ptr<Store>> Store::open(const std::string& root, bool create) {
  struct stat st {};
  if (::stat(root.c_str(), &st) != 0) {
    if (errno != ENOENT || !create) return fail_os("opening store '" + root + "'");
    VRIFT_TRY(fs::mkdir_p(root, 0755));
  } else if (!S_ISDIR(st.st_mode)) {
    return fail("store '" + root + "' is not a directory", ENOTDIR);
  }
  std::unique_ptr<Store> s(new Store(root));
  std::string meta = root + "/" + kStoreFile;
  if (::access(meta.c_str(), F_OK) != 0) {
    if (!create) return fail("'" + root + "' is not a vrift store (no " + kStoreFile + " file)");
    for (const char* sub : {"blake3", "tmp", "quarantine", "manifests"}) {
      VRIFT_TRY(fs::mkdir_p(root + "/" + sub, 0755));
    }
    // First creator wins: write a temp file and link it into place (EEXIST: someone else did).
    std::string tmp = root + "/tmp/STORE." + random_hex(8);
    std::string body = std::string(kStoreFormat) + "\nid " + random_hex(16) + "\n";
    VRIFT_TRY(fs::write_file_atomic(tmp, body, 0444));
    if (::link(tmp.c_str(), meta.c_str()) != 0 && errno != EEXIST) {
      int e = errno;
      ::unlink(tmp.c_str());
      return fail_os("creating '" + meta + "'", e);
    }
    ::unlink(tmp.c_str());
    VRIFT_TRY(fs::fsync_dir(root));
  }
  VRIFT_ASSIGN(std::string body, fs::read_file(meta));
  if (body.rfind(kStoreFormat, 0) != 0) {
    return fail("'" + meta + "' is not a supported store format (expected '" + kStoreFormat + "')");
  }
  auto pos = body.find("\nid ");
  if (pos == std::string::npos || body.size() < pos + 4 + 32)
    return fail("'" + meta + "' has no store id");
  s->m_id = body.substr(pos + 4, 32);
  for (const char* sub : {"blake3", "tmp", "quarantine", "manifests"}) {
    VRIFT_TRY(fs::mkdir_p(root + "/" + sub, 0755));
  }
  s->m_leaf_known.reset(new std::atomic<uint64_t>[65536 / 64]());
  s->m_top_known.reset(new std::atomic<uint64_t>[256 / 64]());
  return s;
}

std::string Store::blob_relpath(const Hash& h, uint64_t size) {
  std::string hex = h.hex();
  std::string out;
  out.reserve(7 + 6 + hex.size() + 24);
  out += "blake3/";
  out.append(hex, 0, 2);
  out += '/';
  out.append(hex, 2, 2);
  out += '/';
  out += hex;
  out += '_';
  out += std::to_string(size);
  out += ".bin";
  return out;
}

std::string Store::blob_path(const Hash& h, uint64_t size) const {
  return m_root + "/" + blob_relpath(h, size);
}

bool Store::parse_blob_name(std::string_view name, Hash& h, uint64_t& size) {
  if (name.size() < 64 + 1 + 1 + 4 || name[64] != '_' || name.substr(name.size() - 4) != ".bin")
    return false;
  if (!Hash::from_hex(name.substr(0, 64), h)) return false;
  std::string_view digits = name.substr(65, name.size() - 65 - 4);
  if (digits.empty() || digits.size() > 20) return false;
  uint64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    uint64_t nv = v * 10 + static_cast<uint64_t>(c - '0');
    if (nv / 10 != v) return false;
    v = nv;
  }
  if (digits.size() > 1 && digits[0] == '0') return false; // canonical decimal only
  size = v;
  return true;
}

std::string Store::temp_path() const {
  static std::atomic<uint64_t> counter{0};
  static const std::string salt = random_hex(4);
  return m_root + "/tmp/" + std::to_string(::getpid()) + "." + salt + "." +
         std::to_string(counter.fetch_add(1)) + ".tmp";
}

namespace {
unsigned leaf_of(const Hash& h) { return static_cast<unsigned>(h.bytes[0]) << 8 | h.bytes[1]; }
} // namespace

Status Store::ensure_shard_dir(const Hash& h) const { return make_shard(leaf_of(h)); }

Status Store::make_shard(unsigned leaf) const {
  unsigned top = leaf >> 8;
  uint64_t leaf_bit = 1ULL << (leaf % 64);
  if (m_leaf_known[leaf / 64].load(std::memory_order_acquire) & leaf_bit) return {};
  char hex[5];
  std::snprintf(hex, sizeof hex, "%04x", leaf);
  std::string topdir = m_root + "/blake3/" + std::string(hex, 2);
  uint64_t top_bit = 1ULL << (top % 64);
  if (!(m_top_known[top / 64].load(std::memory_order_relaxed) & top_bit)) {
    if (::mkdir(topdir.c_str(), 0755) != 0 && errno != EEXIST)
      return fail_os("creating '" + topdir + "'");
    m_top_known[top / 64].fetch_or(top_bit);
  }
  std::string leafdir = topdir + "/" + std::string(hex + 2, 2);
  if (::mkdir(leafdir.c_str(), 0755) != 0 && errno != EEXIST)
    return fail_os("creating '" + leafdir + "'");
  m_leaf_known[leaf / 64].fetch_or(leaf_bit, std::memory_order_release);
  return {};
}

void Store::start_shard_maker() {
  if (m_maker_enabled) return;
  if (!m_leaf_wanted) m_leaf_wanted.reset(new std::atomic<uint64_t>[65536 / 64]());
  m_maker_stop = false;
  m_maker_status = {};
  m_maker_enabled = true;
}

void Store::request_shard(const Hash& h) {
  unsigned leaf = leaf_of(h);
  uint64_t bit = 1ULL << (leaf % 64);
  if (m_leaf_known[leaf / 64].load(std::memory_order_relaxed) & bit) return;
  uint64_t old = m_leaf_wanted[leaf / 64].fetch_or(bit, std::memory_order_relaxed);
  if (!(old & bit)) {
    {
      std::lock_guard lk(m_maker_mu);
      if (!m_maker_on.load(std::memory_order_relaxed)) {
        m_maker = std::thread([this] { shard_maker_loop(); });
        m_maker_on.store(true, std::memory_order_release);
      }
      m_maker_kick = true;
    }
    m_maker_cv.notify_one();
  }
}

bool Store::shard_ready(const Hash& h) const {
  unsigned leaf = leaf_of(h);
  return m_leaf_known[leaf / 64].load(std::memory_order_acquire) & (1ULL << (leaf % 64));
}

void Store::shard_maker_loop() {
  for (;;) {
    bool stop;
    {
      std::unique_lock lk(m_maker_mu);
      m_maker_cv.wait(lk, [&] { return m_maker_kick || m_maker_stop; });
      m_maker_kick = false;
      stop = m_maker_stop;
    }
    // Create every wanted shard that does not exist yet, in order (one pass over 1,024 words).
    for (unsigned w = 0; w < 65536 / 64; ++w) {
      uint64_t todo = m_leaf_wanted[w].load(std::memory_order_relaxed) &
                      ~m_leaf_known[w].load(std::memory_order_relaxed);
      while (todo && !m_maker_abandon.load(std::memory_order_relaxed)) {
        unsigned b = static_cast<unsigned>(__builtin_ctzll(todo));
        todo &= todo - 1;
        Status st = make_shard(w * 64 + b);
        if (!st.ok()) {
          std::lock_guard lk(m_maker_mu);
          if (m_maker_status.ok()) m_maker_status = std::move(st);
          m_leaf_wanted[w].fetch_and(~(1ULL << b));
        }
      }
    }
    if (stop || m_maker_abandon.load(std::memory_order_relaxed)) return;
  }
}

Status Store::finish_shard_maker() {
  m_maker_enabled = false;
  // Every request_shard caller has finished (the workers are joined), so m_maker is stable.
  if (!m_maker_on.load(std::memory_order_acquire)) return {};
  m_maker_on.store(false, std::memory_order_relaxed);
  {
    std::lock_guard lk(m_maker_mu);
    m_maker_stop = true;
  }
  m_maker_cv.notify_one();
  m_maker.join();
  return std::move(m_maker_status);
}

Status Store::abandon_shard_maker() {
  m_maker_abandon = true;
  Status st = finish_shard_maker();
  m_maker_abandon = false;
  return st;
}

BlobState Store::check(const Hash& h, uint64_t size) const {
  std::string p = blob_path(h, size);
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) return BlobState::Missing;
  if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) != size) return BlobState::Suspect;
  char buf[32];
  ssize_t n = ::lgetxattr(p.c_str(), kFingerprintXattr, buf, sizeof buf - 1);
  if (n < 0) {
    // No fingerprint: only an owned blob (read-only, not shared) is trusted.
    return (st.st_nlink == 1 && (st.st_mode & 0222) == 0) ? BlobState::Ok : BlobState::Suspect;
  }
  buf[n] = '\0';
  return std::to_string(mtime_ns(st)) == buf ? BlobState::Ok : BlobState::Suspect;
}

Status Store::set_fingerprint(const std::string& blob, int64_t mtime) {
  return set_fingerprint(-1, blob, mtime);
}

Status Store::set_fingerprint(int fd, const std::string& blob, int64_t mtime) {
  std::string v = std::to_string(mtime);
  if ((fd >= 0 ? ::fsetxattr(fd, kFingerprintXattr, v.data(), v.size(), 0)
               : ::lsetxattr(blob.c_str(), kFingerprintXattr, v.data(), v.size(), 0)) != 0) {
    return fail_os("setting fingerprint on '" + blob + "'");
  }
  return {};
}

Status Store::publish_temp(const std::string& tmp, const Hash& h, uint64_t size,
                           bool* existed) const {
  VRIFT_TRY(ensure_shard_dir(h));
  std::string dst = blob_path(h, size);
  *existed = false;
  if (::link(tmp.c_str(), dst.c_str()) != 0) {
    if (errno != EEXIST) {
      int e = errno;
      ::unlink(tmp.c_str());
      return fail_os("placing blob '" + dst + "'", e);
    }
    *existed = true;
  }
  ::unlink(tmp.c_str());
  return {};
}

Result<Placement> Store::place_private(int fd, const Hash& h, uint64_t size) {
  std::string tmp = temp_path();
  UniqueFd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
  if (!out.valid()) return fail_os("creating temp file '" + tmp + "'");
  Placement how = Placement::Copy;
  bool cloned = false;
  if (m_reflink.load(std::memory_order_relaxed) != 0) {
    if (::ioctl(out.get(), FICLONE, fd) == 0) {
      cloned = true;
      how = Placement::Reflink;
      m_reflink.store(1);
    } else if (is_reflink_unsupported(errno)) {
      m_reflink.store(0);
    }
  }
  if (!cloned) {
    auto copied = fs::copy_fd(fd, out.get());
    if (!copied.ok()) {
      ::unlink(tmp.c_str());
      return fail(std::move(copied).error());
    }
  }
  // Re-hash what we wrote: the source may have changed between hashing and copying.
  UniqueFd in(::open(tmp.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) {
    ::unlink(tmp.c_str());
    return fail_os("reopening '" + tmp + "'");
  }
  uint64_t n = 0;
  auto rh = blake3_fd(in.get(), &n, scratch_buffer<struct PlacePrivateTag>(), kScratchSize);
  if (!rh.ok() || *rh != h || n != size) {
    ::unlink(tmp.c_str());
    if (!rh.ok()) return fail(std::move(rh).error());
    return fail("file changed while being read", EAGAIN);
  }
  out.reset();
  bool existed = false;
  VRIFT_TRY(publish_temp(tmp, h, size, &existed));
  return existed ? Placement::Existing : how;
}

Result<Placement> Store::on_existing(int fd, const std::string& path, const struct stat& st,
                                     const Hash& h, uint64_t size, InsertPolicy policy,
                                     Placement how) {
  if (policy != InsertPolicy::ReadOnly) return how;
  // tier1: the user's file becomes read-only; where its mode then equals the blob's, it becomes
  // a hard link to the blob (one inode for both, as a pnpm store does).
  std::string dst = blob_path(h, size);
  mode_t ro = st.st_mode & 07777 & ~0222u;
  struct stat bst {};
  if (::stat(dst.c_str(), &bst) == 0 && bst.st_dev == st.st_dev && bst.st_ino != st.st_ino &&
      (bst.st_mode & 07777) == ro) {
    if (bst.st_nlink == 1) VRIFT_TRY(set_fingerprint(dst, mtime_ns(bst))); // shared from now on
    std::string tmp = path + std::string(kLinkTempMark) + std::to_string(::getpid());
    if (::link(dst.c_str(), tmp.c_str()) == 0) {
      if (::rename(tmp.c_str(), path.c_str()) == 0) return how;
      ::unlink(tmp.c_str());
    }
  }
  // Already read-only: no chmod. (One to the same mode still changes ctime, and every other
  // name of a shared inode would then miss the re-ingest cache on the next run, be re-hashed,
  // chmod-ed again, and so on for ever.)
  if ((st.st_mode & 07777) == ro) return how;
  if ((fd >= 0 ? ::fchmod(fd, ro) : ::chmod(path.c_str(), ro)) != 0) {
    return fail_os("making '" + path + "' read-only");
  }
  return how;
}

std::string Store::generation() const {
  struct stat st {};
  if (::stat((m_root + "/quarantine").c_str(), &st) != 0) return m_id;
  return m_id + ":" + std::to_string(fs::ns(st.st_mtim));
}

void Store::probe_reflink() {
  // Two temp files in the store: whether FICLONE works here decides, for this store, between a
  // private clone per blob and a hard link of the user's file. Probed once, before any insert,
  // so that parallel first inserts do not all fall back to copies while one probe runs.
  std::string a = temp_path(), b = temp_path();
  UniqueFd fa(::open(a.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  UniqueFd fb(::open(b.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  int result = 0;
  if (fa.valid() && fb.valid() && ::write(fa.get(), "vrift", 5) == 5 && ::fsync(fa.get()) == 0) {
    result = ::ioctl(fb.get(), FICLONE, fa.get()) == 0 ? 1 : 0;
  }
  ::unlink(a.c_str());
  ::unlink(b.c_str());
  m_reflink.store(result);
}

Result<Placement> Store::insert_file(int fd, const std::string& path, const struct stat& st,
                                     const Hash& h, uint64_t size, InsertPolicy policy,
                                     struct stat* final_st) {
  std::call_once(m_reflink_probe, [this] { probe_reflink(); });
  UniqueFd opened;
  if (fd < 0 &&
      (policy == InsertPolicy::Private || m_reflink.load(std::memory_order_relaxed) != 0 ||
       !m_xattr_ok.load(std::memory_order_relaxed))) {
    // Copies and reflinks need the content: open it and make sure it is the file we hashed.
    opened.reset(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    struct stat ost {};
    if (!opened.valid()) return fail_os("opening '" + path + "'");
    if (::fstat(opened.get(), &ost) != 0 || ost.st_ino != st.st_ino || ost.st_size != st.st_size ||
        mtime_ns(ost) != mtime_ns(st)) {
      return fail("file changed while being read", EAGAIN);
    }
    fd = opened.get();
  }
  auto finish = [&](Result<Placement> r) -> Result<Placement> {
    if (r.ok() && final_st &&
        (fd >= 0 ? ::fstat(fd, final_st) : ::lstat(path.c_str(), final_st)) != 0) {
      *final_st = st;
    }
    return r;
  };
  if (policy == InsertPolicy::Private || m_reflink.load(std::memory_order_relaxed) != 0 ||
      !m_xattr_ok.load(std::memory_order_relaxed)) {
    // Reflink where it works (probed by the first insert), else a private copy.
    BlobState state = check(h, size);
    if (state == BlobState::Suspect) {
      VRIFT_ASSIGN(state, revalidate(h, size));
    }
    if (state == BlobState::Ok)
      return finish(on_existing(fd, path, st, h, size, policy, Placement::Existing));
    VRIFT_ASSIGN(Placement how, place_private(fd, h, size));
    return finish(on_existing(fd, path, st, h, size, policy, how));
  }

  // Hard link the very inode we hashed. EEXIST is the common dedup case: then check the blob
  // that is there (it may be a linked blob edited since) before trusting it.
  std::string dst = blob_path(h, size);
  int rc = -1;
  auto link_proc = [&]() {
    char proc[64];
    std::snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    return ::linkat(AT_FDCWD, proc, AT_FDCWD, dst.c_str(), AT_SYMLINK_FOLLOW);
  };
  auto link_once = [&]() {
    // By path (no symlink following) when the caller has no fd; verified below either way.
    if (fd < 0) return ::linkat(AT_FDCWD, path.c_str(), AT_FDCWD, dst.c_str(), 0);
    if (!m_empty_path_ok.load(std::memory_order_relaxed)) return link_proc();
    return ::linkat(fd, "", AT_FDCWD, dst.c_str(), AT_EMPTY_PATH);
  };
  int link_err = 0; // the last link's errno: check() and revalidate() below change errno
  for (int attempt = 0; attempt < 3; ++attempt) {
    rc = link_once();
    if (rc != 0 && errno == ENOENT && attempt == 0) {
      // Either the shard directory is missing or AT_EMPTY_PATH is not permitted (it needs
      // CAP_DAC_READ_SEARCH): make sure of the first, then fall back to /proc/self/fd.
      VRIFT_TRY(ensure_shard_dir(h));
      rc = link_once();
      if (rc != 0 && errno == ENOENT && fd >= 0 && m_empty_path_ok.load()) {
        rc = link_proc();
        if (rc == 0 || errno != ENOENT) m_empty_path_ok = false; // the shard was there
      }
    }
    link_err = rc == 0 ? 0 : errno;
    if (rc == 0 || link_err != EEXIST) break;
    BlobState state = check(h, size);
    if (state == BlobState::Suspect) {
      VRIFT_ASSIGN(state, revalidate(h, size));
    }
    if (state == BlobState::Ok)
      return finish(on_existing(fd, path, st, h, size, policy, Placement::Existing));
    // Quarantined just now: try to place ours.
  }
  if (rc != 0) {
    // EEXIST still: a blob under the name three times that could be neither trusted nor moved
    // aside; an error, never "existing".
    errno = link_err;
    if (errno == EXDEV || errno == EPERM || errno == EMLINK || errno == ENOENT || errno == EACCES) {
      if (fd < 0) {
        return insert_file_opened(path, st, h, size, policy, final_st);
      }
      VRIFT_ASSIGN(Placement how, place_private(fd, h, size));
      return finish(on_existing(fd, path, st, h, size, policy, how));
    }
    return fail_os("linking into '" + dst + "'");
  }
  // The stat at the end (after the fingerprint, which changes ctime) proves the blob is the
  // inode we hashed, unchanged, before anything trusts it. Linked by path, the name may have
  // been given another inode meanwhile: then make sure first, before its xattr or mode change.
  auto same_inode = [&](const struct stat& b) {
    return S_ISREG(b.st_mode) && b.st_dev == st.st_dev && b.st_ino == st.st_ino &&
           b.st_size == st.st_size && mtime_ns(b) == mtime_ns(st);
  };
  if (fd < 0) {
    struct stat bst {};
    if (::lstat(dst.c_str(), &bst) != 0 || !same_inode(bst)) {
      ::unlink(dst.c_str());
      return fail("file changed while being read", EAGAIN);
    }
  }
  if (auto fp = set_fingerprint(fd, dst, mtime_ns(st)); !fp.ok()) {
    ::unlink(dst.c_str());
    if (fp.error().errnum() == ENOTSUP || fp.error().errnum() == EOPNOTSUPP) {
      m_xattr_ok.store(0); // no xattrs here: never share inodes, copy instead
      if (fd < 0) return insert_file_opened(path, st, h, size, policy, final_st);
      VRIFT_ASSIGN(Placement how, place_private(fd, h, size));
      return finish(on_existing(fd, path, st, h, size, policy, how));
    }
    return fail(std::move(fp).error());
  }
  if (policy == InsertPolicy::ReadOnly) {
    mode_t ro = st.st_mode & 07777 & ~0222u;
    if ((fd >= 0 ? ::fchmod(fd, ro) : ::chmod(dst.c_str(), ro)) != 0) {
      return fail_os("making '" + path + "' read-only");
    }
  }
  // The inode must be exactly what we hashed; otherwise withdraw the name again.
  struct stat after {};
  if ((fd >= 0 ? ::fstat(fd, &after) : ::lstat(dst.c_str(), &after)) != 0 || !same_inode(after)) {
    ::unlink(dst.c_str());
    return fail("file changed while being read", EAGAIN);
  }
  if (final_st) *final_st = after;
  return Placement::Link;
}

Result<Placement> Store::insert_file_opened(const std::string& path, const struct stat& st,
                                            const Hash& h, uint64_t size, InsertPolicy policy,
                                            struct stat* final_st) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return fail_os("opening '" + path + "'");
  struct stat ost {};
  if (::fstat(fd.get(), &ost) != 0 || ost.st_ino != st.st_ino || ost.st_size != st.st_size ||
      mtime_ns(ost) != mtime_ns(st)) {
    return fail("file changed while being read", EAGAIN);
  }
  return insert_file(fd.get(), path, st, h, size, policy, final_st);
}

Result<Placement> Store::insert_bytes(std::string_view data) {
  Hash h = blake3(data.data(), data.size());
  if (check(h, data.size()) == BlobState::Ok) return Placement::Existing;
  std::string tmp = temp_path();
  UniqueFd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
  if (!out.valid()) return fail_os("creating temp file '" + tmp + "'");
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(out.get(), data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::unlink(tmp.c_str());
      return fail_os("writing temp file", e);
    }
    off += static_cast<size_t>(n);
  }
  out.reset();
  bool existed = false;
  VRIFT_TRY(publish_temp(tmp, h, data.size(), &existed));
  return existed ? Placement::Existing : Placement::Copy;
}

Status Store::make_owned(const Hash& h, uint64_t size, const std::string& src_path) {
  std::string dst = blob_path(h, size);
  struct stat bst {
  }, sst{};
  if (::lstat(dst.c_str(), &bst) != 0) return fail_os("blob '" + dst + "'");
  if (::lstat(src_path.c_str(), &sst) != 0) return fail_os("'" + src_path + "'");
  if (bst.st_dev == sst.st_dev && bst.st_ino == sst.st_ino) {
    // The blob is the user's inode and the user's name is about to go: the store owns it now.
    if (::chmod(dst.c_str(), 0444) != 0) return fail_os("making blob read-only");
    ::lremovexattr(dst.c_str(), kFingerprintXattr);
    return {};
  }
  char buf[8];
  bool linked = ::lgetxattr(dst.c_str(), kFingerprintXattr, buf, sizeof buf) >= 0 ||
                bst.st_nlink > 1 || (bst.st_mode & 0222) != 0;
  if (!linked) return {}; // already owned: the source is a duplicate
  // The blob shares its inode with someone else's writable file: give the store a private copy.
  UniqueFd in(::open(src_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!in.valid()) return fail_os("opening '" + src_path + "'");
  std::string tmp = temp_path();
  {
    UniqueFd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
    if (!out.valid()) return fail_os("creating temp file '" + tmp + "'");
    auto c = fs::copy_fd(in.get(), out.get());
    if (!c.ok()) {
      ::unlink(tmp.c_str());
      return fail(std::move(c).error());
    }
  }
  UniqueFd check_fd(::open(tmp.c_str(), O_RDONLY | O_CLOEXEC));
  uint64_t n = 0;
  auto rh = blake3_fd(check_fd.get(), &n, scratch_buffer<struct MakeOwnedTag>(), kScratchSize);
  if (!rh.ok() || *rh != h || n != size) {
    ::unlink(tmp.c_str());
    return fail("'" + src_path + "' changed while being moved into the store", EAGAIN);
  }
  if (::rename(tmp.c_str(), dst.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return fail_os("replacing blob '" + dst + "'", e);
  }
  return {};
}

Result<bool> Store::verify(const Hash& h, uint64_t size) const {
  std::string p = blob_path(h, size);
  UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return fail_os("opening blob '" + p + "'");
  uint64_t n = 0;
  VRIFT_ASSIGN(Hash got, blake3_fd(fd.get(), &n, scratch_buffer<struct VerifyTag>(), kScratchSize)
                             .context("blob '" + p + "'"));
  return got == h && n == size;
}

std::string Store::quarantine_path(const std::string& blob) const {
  // Two threads of one process may move blobs aside in the same second.
  static std::atomic<unsigned> serial{0};
  const unsigned k = serial.fetch_add(1, std::memory_order_relaxed);
  return m_root + "/quarantine/" + fs::basename(blob) + "." + std::to_string(::time(nullptr)) +
         "." + std::to_string(::getpid()) + (k ? "." + std::to_string(k) : std::string());
}

Result<BlobState> Store::revalidate(const Hash& h, uint64_t size) {
  std::string p = blob_path(h, size);
  const std::string qdir = m_root + "/quarantine";
  auto same = [](const struct stat& a, const struct stat& b) {
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
  };
  // Hashed, judged and moved aside as one inode, read through one descriptor: two ingests may
  // revalidate the same blob at once (zero-config runs of one project after an edit in place),
  // and the name may meanwhile have been moved aside, or given to a new blob, by the other.
  for (int round = 0;; ++round) {
    if (round == 3) return fail("blob '" + p + "' kept changing while being checked", EAGAIN);
    UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd.valid()) {
      if (errno == ENOENT) return BlobState::Missing;
      return fail_os("opening blob '" + p + "'");
    }
    struct stat before {};
    if (::fstat(fd.get(), &before) != 0) return fail_os("blob '" + p + "'");
    uint64_t n = 0;
    VRIFT_ASSIGN(Hash got, blake3_fd(fd.get(), &n, scratch_buffer<struct VerifyTag>(), kScratchSize)
                               .context("blob '" + p + "'"));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return fail_os("blob '" + p + "'");
    // Its bytes held still while they were read (a write into a part already read leaves the
    // hash right and the inode changed): the same size and mtime before and after, and the
    // fingerprint is the mtime they were read at. Not the ctime: another ingest revalidating
    // the same blob (one shared by two projects) sets its fingerprint xattr meanwhile.
    const bool still = st.st_size == before.st_size && mtime_ns(st) == mtime_ns(before);
    if (got == h && n == size && still) {
      if (st.st_nlink > 1 || (st.st_mode & 0222) != 0)
        VRIFT_TRY(set_fingerprint(fd.get(), p, mtime_ns(before)));
      return BlobState::Ok;
    }
    // A linked blob (the fingerprint xattr, or the user's write bits) shares its inode with a
    // user's file, which tier2 leaves the user's to edit: its bytes moving is the user saving
    // that file in place (zero-config's next `vrift run` finds it after every save of such an
    // editor), said with -v. An owned blob's bytes moving is damage to the store: a warning.
    // Not judged by the link count: a tier1 file is the store's own inode linked read-only into
    // a project.
    char fp[8];
    const bool linked =
        (st.st_mode & 0222) != 0 || ::fgetxattr(fd.get(), kFingerprintXattr, fp, sizeof fp) >= 0;
    // Another ingest may have moved this inode aside and stored the content anew under the
    // name: that blob is then judged in its turn, and nothing is moved.
    struct stat cur {};
    if (::lstat(p.c_str(), &cur) != 0) {
      if (errno == ENOENT) return BlobState::Missing;
      return fail_os("blob '" + p + "'");
    }
    if (!same(cur, st)) continue;
    std::string q = quarantine_path(p);
    int rc = ::rename(p.c_str(), q.c_str());
    if (rc != 0 && errno == ENOENT && ::access(qdir.c_str(), F_OK) != 0) {
      VRIFT_TRY(fs::mkdir_p(qdir, 0755)); // removed by hand: the blob must still go aside
      rc = ::rename(p.c_str(), q.c_str());
    }
    if (rc != 0) {
      if (errno != ENOENT) return fail_os("quarantining '" + p + "'");
      log::debug("blob {}: moved aside meanwhile by another ingest", fs::basename(p));
      return BlobState::Missing;
    }
    struct stat qs {};
    if (::lstat(q.c_str(), &qs) == 0 && !same(qs, st)) {
      // Not the inode hashed above (the name changed hands between the look and the move): it
      // goes back, unless a third took the name, and is judged itself in the next round. Where
      // the file system cannot rename without replacing, a link does the same.
      if (::renameat2(AT_FDCWD, q.c_str(), AT_FDCWD, p.c_str(), RENAME_NOREPLACE) != 0) {
        if (errno == EINVAL || errno == ENOSYS) {
          if (::link(q.c_str(), p.c_str()) == 0) {
            ::unlink(q.c_str());
          } else if (errno != EEXIST) {
            return fail_os("putting blob '" + p + "' back");
          }
        } else if (errno != EEXIST) {
          return fail_os("putting blob '" + p + "' back");
        }
      }
      continue;
    }
    if (linked) {
      log::info("blob {}: the file it was linked with was edited in place; the old name moved "
                "to {}",
                fs::basename(p), q);
    } else {
      log::warn("blob {} changed after it was stored; moved to {}", fs::basename(p), q);
    }
    return BlobState::Missing;
  }
}

Status Store::for_each_blob(const std::function<void(const BlobInfo&, const struct stat&)>& fn,
                            uint64_t* bad_names, bool with_stat) const {
  std::string base = m_root + "/blake3";
  DIR* top = ::opendir(base.c_str());
  if (!top) return fail_os("listing '" + base + "'");
  std::unique_ptr<DIR, int (*)(DIR*)> top_guard(top, ::closedir);
  while (dirent* d1 = ::readdir(top)) {
    if (d1->d_name[0] == '.') continue;
    std::string p1 = base + "/" + d1->d_name;
    DIR* mid = ::opendir(p1.c_str());
    if (!mid) continue;
    std::unique_ptr<DIR, int (*)(DIR*)> mid_guard(mid, ::closedir);
    while (dirent* d2 = ::readdir(mid)) {
      if (d2->d_name[0] == '.') continue;
      std::string p2 = p1 + "/" + d2->d_name;
      int dfd = ::open(p2.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dfd < 0) continue;
      DIR* leaf = ::fdopendir(dfd);
      if (!leaf) {
        ::close(dfd);
        continue;
      }
      std::unique_ptr<DIR, int (*)(DIR*)> leaf_guard(leaf, ::closedir);
      while (dirent* d3 = ::readdir(leaf)) {
        if (d3->d_name[0] == '.') continue;
        BlobInfo bi;
        struct stat st {};
        if (!parse_blob_name(d3->d_name, bi.hash, bi.size) ||
            (with_stat && ::fstatat(dfd, d3->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)) {
          if (bad_names) ++*bad_names;
          continue;
        }
        bi.path = p2 + "/" + d3->d_name;
        fn(bi, st);
      }
    }
  }
  return {};
}

Result<StoreLock> Store::lock_for(bool exclusive, int timeout_ms) const {
  std::string p = m_root + "/lock";
  UniqueFd fd(::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.valid()) return fail_os("opening '" + p + "'");
  for (int waited = 0;; waited += 50) {
    if (::flock(fd.get(), (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0)
      return StoreLock(std::move(fd));
    if (errno != EWOULDBLOCK && errno != EINTR) return fail_os("locking '" + p + "'");
    if (waited >= timeout_ms) {
      return fail("the store is busy (an ingest or gc holds '" + p +
                      "'); try again when it is done",
                  EWOULDBLOCK);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Result<UniqueFd> Store::open_lock_file() const {
  std::string p = m_root + "/lock";
  UniqueFd fd(::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.valid()) return fail_os("opening '" + p + "'");
  return fd;
}

void Store::forget_shards() {
  for (unsigned i = 0; i < 65536 / 64; ++i)
    m_leaf_known[i].store(0);
  for (unsigned i = 0; i < 256 / 64; ++i)
    m_top_known[i].store(0);
}

Result<StoreLock> Store::lock(bool exclusive) const {
  std::string p = m_root + "/lock";
  UniqueFd fd(::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.valid()) return fail_os("opening '" + p + "'");
  while (::flock(fd.get(), exclusive ? LOCK_EX : LOCK_SH) != 0) {
    if (errno != EINTR) return fail_os("locking '" + p + "'");
  }
  return StoreLock(std::move(fd));
}

} // namespace vrift

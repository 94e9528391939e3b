#include "vrift/ingest/cache.h"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>

#include "vrift/manifest/manifest.h"
#include "vrift/util/fd.h"
#include "vrift/util/fs.h"
#include "vrift/vdir/vdir_hash.h"

namespace vrift {

namespace {
// Version 3 added the manifest stamp (an older file is not read: the next ingest hashes again).
constexpr char kMagic[8] = {'V', 'R', 'C', 'A', 'C', 'H', 'E', '3'};
static_assert(ManifestStamp::kHeaderBytes == kManifestHeaderSize);

template <typename T> void put(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
template <typename T> bool get(std::string_view& in, T& v) {
  if (in.size() < sizeof v) return false;
  std::memcpy(&v, in.data(), sizeof v);
  in.remove_prefix(sizeof v);
  return true;
}
// A file's identity as records and the stamp store it: dev, ino, size, mtime ns, ctime ns.
template <typename T> void put_identity(std::string& out, const T& x) {
  put(out, x.dev);
  put(out, x.ino);
  put(out, x.size);
  put(out, x.mtime_ns);
  put(out, x.ctime_ns);
}
template <typename T> bool get_identity(std::string_view& in, T& x) {
  return get(in, x.dev) && get(in, x.ino) && get(in, x.size) && get(in, x.mtime_ns) &&
         get(in, x.ctime_ns);
}
} // namespace

bool CacheRecord::matches(const struct stat& st) const {
  return dev == st.st_dev && ino == st.st_ino && size == static_cast<uint64_t>(st.st_size) &&
         mtime_ns == fs::ns(st.st_mtim) && ctime_ns == fs::ns(st.st_ctim) && mode == st.st_mode;
}

CacheRecord CacheRecord::from_stat(std::string path, const struct stat& st, const Hash& h) {
  CacheRecord r;
  r.dev = st.st_dev;
  r.ino = st.st_ino;
  r.size = static_cast<uint64_t>(st.st_size);
  r.mtime_ns = fs::ns(st.st_mtim);
  r.ctime_ns = fs::ns(st.st_ctim);
  r.mode = st.st_mode;
  r.hash = h;
  r.path = std::move(path);
  return r;
}

ManifestStamp ManifestStamp::of(const std::string& path, const Hash& tree,
                                const std::array<uint8_t, kHeaderBytes>& header) {
  ManifestStamp s;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return s;
  std::array<uint8_t, kHeaderBytes> got{};
  if (::pread(fd.get(), got.data(), got.size(), 0) != static_cast<ssize_t>(got.size()) ||
      got != header)
    return s;
  s.valid = true;
  s.tree = tree;
  s.header = header;
  s.dev = st.st_dev;
  s.ino = st.st_ino;
  s.size = static_cast<uint64_t>(st.st_size);
  s.mtime_ns = fs::ns(st.st_mtim);
  s.ctime_ns = fs::ns(st.st_ctim);
  return s;
}

bool ManifestStamp::same(const ManifestStamp& o) const {
  return valid && o.valid && tree == o.tree && header == o.header && dev == o.dev && ino == o.ino &&
         size == o.size && mtime_ns == o.mtime_ns && ctime_ns == o.ctime_ns;
}

IngestCache IngestCache::load(const std::string& path, const std::string& store_id) {
  IngestCache c;
  auto data = fs::read_file(path);
  if (!data.ok()) return c;
  std::string_view in(*data);
  if (in.size() < 8 + 32 + 8 || std::memcmp(in.data(), kMagic, 8) != 0) return c;
  in.remove_prefix(8);
  if (in.substr(0, 32) != store_id) return c;
  in.remove_prefix(32);
  ManifestStamp stamp;
  uint8_t has_stamp = 0;
  if (!get(in, has_stamp) || !get(in, stamp.tree.bytes) || !get(in, stamp.header) ||
      !get_identity(in, stamp))
    return c;
  stamp.valid = has_stamp == 1;
  uint64_t count = 0;
  if (!get(in, count) || count > in.size() / 64) return c;
  std::vector<CacheRecord> recs;
  recs.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    CacheRecord r;
    uint32_t len = 0;
    if (!get_identity(in, r) || !get(in, r.mode) || !get(in, r.hash.bytes) || !get(in, len) ||
        in.size() < len) {
      return c;
    }
    r.path.assign(in.data(), len);
    in.remove_prefix(len);
    recs.push_back(std::move(r));
  }
  if (!in.empty()) return c;
  if (recs.size() >= UINT32_MAX / 4) return c;
  size_t cap = 16;
  while (cap < recs.size() * 2)
    cap *= 2;
  std::vector<uint32_t> slots(cap, 0);
  if (::getrandom(&c.m_seed, sizeof c.m_seed, GRND_NONBLOCK) != sizeof c.m_seed)
    c.m_seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  for (size_t i = 0; i < recs.size(); ++i) {
    size_t j = c.key_of(recs[i].path) & (cap - 1);
    while (slots[j] != 0) {
      if (recs[slots[j] - 1].path == recs[i].path) return c; // a duplicate: not ours
      j = (j + 1) & (cap - 1);
    }
    slots[j] = static_cast<uint32_t>(i + 1);
  }
  c.m_records = std::move(recs);
  c.m_slots = std::move(slots);
  c.m_stamp = stamp;
  return c;
}

uint64_t IngestCache::key_of(std::string_view path) const {
  return vdir::hash_path_keyed(path.data(), path.size(), m_seed);
}

Status IngestCache::save(const std::string& path, const std::string& store_id,
                         const std::vector<CacheRecord>& records, const ManifestStamp& stamp) {
  std::string out;
  out.reserve(64 + records.size() * 128);
  out.append(kMagic, 8);
  std::string id = store_id;
  id.resize(32, '\0');
  out += id;
  put(out, static_cast<uint8_t>(stamp.valid ? 1 : 0));
  put(out, stamp.tree.bytes);
  put(out, stamp.header);
  put_identity(out, stamp);
  put(out, static_cast<uint64_t>(records.size()));
  for (const auto& r : records) {
    put_identity(out, r);
    put(out, r.mode);
    put(out, r.hash.bytes);
    put(out, static_cast<uint32_t>(r.path.size()));
    out += r.path;
  }
  VRIFT_TRY(fs::mkdir_p(fs::dirname(path), 0755));
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    FILE* f = std::fopen(tmp.c_str(), "wbe");
    if (!f) return fail_os("writing ingest cache '" + tmp + "'");
    bool ok = std::fwrite(out.data(), 1, out.size(), f) == out.size();
    ok = (std::fclose(f) == 0) && ok;
    if (!ok) {
      ::unlink(tmp.c_str());
      return fail_os("writing ingest cache '" + tmp + "'");
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return fail_os("renaming ingest cache into '" + path + "'");
  }
  return {};
}

const CacheRecord* IngestCache::find(std::string_view path) const {
  if (m_slots.empty()) return nullptr;
  const size_t mask = m_slots.size() - 1;
  for (size_t j = key_of(path) & mask;; j = (j + 1) & mask) {
    const uint32_t s = m_slots[j];
    if (s == 0) return nullptr;
    if (m_records[s - 1].path == path) return &m_records[s - 1];
  }
}

} // namespace vrift

#include "vrift/daemon/journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "vrift/util/fs.h"

namespace vrift {

namespace {

constexpr char kMagic[8] = {'V', 'R', 'J', 'R', 'N', 'L', '0', '1'};
constexpr size_t kHeader = 8 + 32;
constexpr uint32_t kMaxPayload = 3 * 4096 + 256;

template <typename T> void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
void put_str(std::string& out, const std::string& s) {
  put(out, static_cast<uint32_t>(s.size()));
  out += s;
}
template <typename T> bool get(std::string_view& in, T& v) {
  if (in.size() < sizeof v) return false;
  std::memcpy(&v, in.data(), sizeof v);
  in.remove_prefix(sizeof v);
  return true;
}
bool get_str(std::string_view& in, std::string& s) {
  uint32_t n = 0;
  if (!get(in, n) || n > in.size() || n > 4096) return false;
  s.assign(in.data(), n);
  in.remove_prefix(n);
  return true;
}

uint64_t checksum(std::string_view body) {
  Hash h = blake3(body.data(), body.size());
  uint64_t v;
  std::memcpy(&v, h.bytes.data(), sizeof v);
  return v;
}

bool decode_body(std::string_view body, JournalRecord& r) {
  uint8_t op = 0;
  if (!get(body, op) || op < 1 || op > 7) return false;
  r.op = static_cast<JournalOp>(op);
  ManifestEntry& e = r.entry;
  uint8_t type = 0;
  if (!get_str(body, e.path) || !get(body, type) || !get(body, e.mode) || !get(body, e.size) ||
      !get(body, e.mtime_ns) || !get(body, e.hash.bytes) || !get_str(body, e.target) ||
      !get_str(body, r.to)) {
    return false;
  }
  if (type < 1 || type > 3) return false;
  e.type = static_cast<EntryType>(type);
  return body.empty();
}

} // namespace

std::string encode_record(const JournalRecord& r) {
  std::string body;
  put(body, static_cast<uint8_t>(r.op));
  put_str(body, r.entry.path);
  put(body, static_cast<uint8_t>(r.entry.type));
  put(body, r.entry.mode);
  put(body, r.entry.size);
  put(body, r.entry.mtime_ns);
  put(body, r.entry.hash.bytes);
  put_str(body, r.entry.target);
  put_str(body, r.to);
  std::string out;
  put(out, static_cast<uint32_t>(body.size()));
  out += body;
  put(out, checksum(body));
  return out;
}

Result<std::vector<JournalRecord>> read_journal(const std::string& path, Hash* base) {
  VRIFT_ASSIGN(std::string data, fs::read_file(path));
  std::vector<JournalRecord> out;
  if (data.size() < kHeader || std::memcmp(data.data(), kMagic, 8) != 0) return out;
  if (base) std::memcpy(base->bytes.data(), data.data() + 8, 32);
  std::string_view in(data);
  in.remove_prefix(kHeader);
  while (!in.empty()) {
    uint32_t len = 0;
    std::string_view rec = in;
    if (!get(rec, len) || len > kMaxPayload || rec.size() < len + 8u) break;
    std::string_view body = rec.substr(0, len);
    uint64_t sum = 0;
    std::memcpy(&sum, rec.data() + len, 8);
    JournalRecord r;
    if (sum != checksum(body) || !decode_body(body, r)) break;
    out.push_back(std::move(r));
    in.remove_prefix(4 + len + 8);
  }
  return out;
}

Result<Journal> Journal::open(const std::string& path, const Hash& base,
                              std::vector<JournalRecord>* replay) {
  VRIFT_TRY(fs::mkdir_p(fs::dirname(path), 0700));
  Journal j;
  j.m_path = path;
  Hash on_disk;
  std::vector<JournalRecord> recs;
  if (::access(path.c_str(), F_OK) == 0) {
    VRIFT_ASSIGN(recs, read_journal(path, &on_disk));
  }
  if (!recs.empty() && on_disk == base) {
    // Keep the intact prefix; drop a torn tail by rewriting exactly those records.
    std::string bytes(kMagic, 8);
    bytes.append(reinterpret_cast<const char*>(base.bytes.data()), 32);
    for (const auto& r : recs)
      bytes += encode_record(r);
    VRIFT_TRY(fs::write_file_atomic(path, bytes, 0600));
    j.m_records = recs.size();
    if (replay) *replay = std::move(recs);
    j.m_fd.reset(::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
    if (!j.m_fd.valid()) return fail_os("opening journal '" + path + "'");
    return j;
  }
  VRIFT_TRY(j.reset(base));
  return j;
}

Status Journal::reset(const Hash& base) {
  std::string bytes(kMagic, 8);
  bytes.append(reinterpret_cast<const char*>(base.bytes.data()), 32);
  VRIFT_TRY(fs::write_file_atomic(m_path, bytes, 0600));
  m_fd.reset(::open(m_path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  if (!m_fd.valid()) return fail_os("opening journal '" + m_path + "'");
  m_records = 0;
  return {};
}

Status Journal::append(const JournalRecord& rec, bool sync) {
  std::string bytes = encode_record(rec);
  // One write(2) of the whole record: a kill leaves it whole or torn, never interleaved.
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::write(m_fd.get(), bytes.data() + off, bytes.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_os("appending to journal '" + m_path + "'");
    }
    off += static_cast<size_t>(n);
  }
  if (sync && ::fdatasync(m_fd.get()) != 0) return fail_os("syncing journal '" + m_path + "'");
  ++m_records;
  return {};
}

bool apply_record(Tree& tree, const JournalRecord& r) {
  const ManifestEntry& e = r.entry;
  switch (r.op) {
  case JournalOp::Put:
    return tree.put(e).ok();
  case JournalOp::Unlink:
    return tree.unlink(e.path).ok();
  case JournalOp::Mkdir:
    return tree.mkdir(e.path, e.mode, e.mtime_ns).ok();
  case JournalOp::Rmdir:
    return tree.rmdir(e.path).ok();
  case JournalOp::Rename:
    return tree.rename(e.path, r.to).ok();
  case JournalOp::Chmod:
    return tree.chmod(e.path, e.mode).ok();
  case JournalOp::Mtime:
    return tree.set_mtime(e.path, e.mtime_ns).ok();
  }
  return false;
}

} // namespace vrift

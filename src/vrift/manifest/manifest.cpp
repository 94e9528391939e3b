// Manifest writer and reader for the binary format in manifest.h (docs/manifest-format.md).
//
// How this works: the writer sorts and checks the entries, lays out the header, the fixed-size
// records and the string arena, then fills in the id and the body checksum. The reader maps the
// file and validates it once, in an order that never reads a byte it has not bounds-checked:
// header fields, sizes, checksum, then every record (string bounds, path safety, order, type
// rules, parent directory), and last the id. After that, at() and find() index straight into the
// mapping without parsing. Writer and reader share the per-entry rules (check_fields,
// check_parent), so a file the writer produces is exactly a file the reader accepts.
#include "vrift/manifest/manifest.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <fmt/core.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <climits>
#include <cstddef>
#include <cstring>

#include "vrift/util/escape.h"
#include "vrift/util/fd.h"
#include "vrift/util/fs.h"

namespace vrift {

static_assert(std::endian::native == std::endian::little,
              "the manifest format is little-endian; a big-endian host needs byte swaps here");
static_assert(sizeof(size_t) == 8, "manifest offsets assume a 64-bit size_t");

namespace {

constexpr uint32_t kMaxMode = 07777;

// Unaligned, aliasing-safe read of a trivially copyable T (an owned buffer may sit anywhere).
template <typename T> T load(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

bool all_zero(const uint8_t* p, size_t n) {
  return std::all_of(p, p + n, [](uint8_t b) { return b == 0; });
}

std::string quoted(std::string_view s) { return "'" + escape_control(s) + "'"; }

// Feeds the canonical form of manifest_id() to BLAKE3 through a buffer (few, large updates).
class IdHasher {
public:
  void add(std::string_view path, uint8_t type, uint32_t mode, const uint8_t* hash,
           std::string_view target) {
    put(path.data(), path.size());
    put_byte(0);
    put_byte(type);
    for (int shift = 0; shift < 32; shift += 8)
      put_byte(static_cast<uint8_t>(mode >> shift));
    if (type == static_cast<uint8_t>(EntryType::File)) {
      put(hash, 32);
    } else if (type == static_cast<uint8_t>(EntryType::Symlink)) {
      put(target.data(), target.size());
      put_byte(0);
    }
  }
  Hash finish() {
    m_b3.update(m_buf, m_used);
    m_used = 0;
    return m_b3.finish();
  }

private:
  void put_byte(uint8_t b) { put(&b, 1); }
  void put(const void* p, size_t n) {
    if (m_used + n > sizeof m_buf) {
      m_b3.update(m_buf, m_used);
      m_used = 0;
      if (n > sizeof m_buf) return m_b3.update(p, n);
    }
    std::memcpy(m_buf + m_used, p, n);
    m_used += n;
  }
  Blake3 m_b3;
  uint8_t m_buf[16384];
  size_t m_used = 0;
};

// The rules every entry obeys, whether a writer built it or it was read from a file: a known
// type, a mode within 07777, and per type what size, hash and target may hold.
Status check_fields(std::string_view path, uint8_t type, uint32_t mode, uint64_t size,
                    const uint8_t* hash, std::string_view target) {
  auto bad = [&](const std::string& what) { return fail("entry " + quoted(path) + ": " + what); };
  if (mode > kMaxMode) return bad(fmt::format("mode {:o} has bits beyond 07777", mode));
  switch (type) {
  case static_cast<uint8_t>(EntryType::File):
    if (!target.empty()) return bad("a file has no symlink target");
    return {};
  case static_cast<uint8_t>(EntryType::Dir):
    if (!all_zero(hash, 32)) return bad("a directory has a content hash");
    if (!target.empty()) return bad("a directory has a symlink target");
    return {};
  case static_cast<uint8_t>(EntryType::Symlink):
    if (target.empty()) return bad("symlink target is empty");
    if (target.find('\0') != std::string_view::npos) return bad("symlink target contains a NUL");
    if (target.size() > kMaxManifestPath)
      return bad(
          fmt::format("symlink target is {} bytes (at most {})", target.size(), kMaxManifestPath));
    if (size != target.size())
      return bad(fmt::format("symlink size {} is not its target length {}", size, target.size()));
    if (!all_zero(hash, 32)) return bad("a symlink has a content hash");
    return {};
  default:
    return bad(fmt::format("unknown entry type {}", type));
  }
}

// Top-level entries have no parent; any other entry's parent must be listed, as a directory.
// FIND_TYPE(parent) returns the type byte of a listed path, or -1 when it is not listed.
template <typename FindType> Status check_parent(std::string_view path, FindType&& find_type) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return {};
  std::string_view parent = path.substr(0, slash);
  int type = find_type(parent);
  if (type < 0)
    return fail("entry " + quoted(path) + ": parent directory " + quoted(parent) + " is missing");
  if (type != static_cast<int>(EntryType::Dir))
    return fail("entry " + quoted(path) + ": parent " + quoted(parent) + " is not a directory");
  return {};
}

Status check_origin(std::string_view origin) {
  if (origin.find('\0') != std::string_view::npos) return fail("origin contains a NUL byte");
  if (origin.size() > kMaxManifestPath)
    return fail(fmt::format("origin is {} bytes (at most {})", origin.size(), kMaxManifestPath));
  return {};
}

// Where the records and the arena sit inside a manifest's bytes.
struct Layout {
  const char* records;
  const char* arena;
  uint64_t arena_size;
  size_t count;

  Layout(const char* data, size_t len, size_t n)
      : records(data + kManifestHeaderSize), arena(records + n * kManifestEntrySize),
        arena_size(len - kManifestHeaderSize - n * kManifestEntrySize), count(n) {}

  ManifestEntryRaw rec(size_t i) const {
    return load<ManifestEntryRaw>(records + i * kManifestEntrySize);
  }
  // Only for records whose strings have been checked (all of them, once validated).
  std::string_view str(uint32_t off, uint32_t len) const {
    return len ? std::string_view(arena + off, len) : std::string_view();
  }
  std::string_view path(size_t i) const {
    const char* r = records + i * kManifestEntrySize;
    return str(load<uint32_t>(r + offsetof(ManifestEntryRaw, path_off)),
               load<uint32_t>(r + offsetof(ManifestEntryRaw, path_len)));
  }
  // Binary search for PATH among the first END records (sorted, already checked).
  std::optional<size_t> find(std::string_view p, size_t end) const {
    size_t lo = 0, hi = end;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      int c = path(mid).compare(p); // char_traits<char>: bytewise, as unsigned bytes
      if (c == 0) return mid;
      if (c < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
    return std::nullopt;
  }

  // The next string of the arena, which is laid out in one canonical order (origin, then each
  // entry's path and target; NUL-terminated, no gaps, no sharing). NEXT is where it must start;
  // it must lie inside the arena and hold no NUL. 0/0 is "none". Checking the order, not only
  // the bounds, means no offset or length can change without the reader noticing.
  Result<std::string_view> checked_str(uint32_t off, uint32_t len, uint64_t& next, size_t entry,
                                       const char* what) const {
    auto where = [&] { // ENTRY is SIZE_MAX for the origin, which belongs to no entry
      std::string who = entry == SIZE_MAX ? what : fmt::format("entry {}: {}", entry, what);
      return fmt::format("{} (offset {}, {} bytes)", who, off, len);
    };
    if (len == 0) {
      if (off != 0) return fail(where() + ": empty string with a non-zero offset");
      return std::string_view();
    }
    if (off != next)
      return fail(
          fmt::format("{}: expected at offset {} (strings are stored in order)", where(), next));
    uint64_t end = uint64_t{off} + len; // < 2^33: no overflow
    if (end >= arena_size)
      return fail(fmt::format("{}: outside the {}-byte string arena", where(), arena_size));
    if (arena[end] != '\0') return fail(where() + ": not NUL-terminated");
    if (std::memchr(arena + off, 0, len) != nullptr) return fail(where() + ": contains a NUL byte");
    next = end + 1;
    return std::string_view(arena + off, len);
  }
};

// Header fields and the sizes they imply, against LEN, the actual length (>= the header).
Status check_header(const ManifestHeader& h, size_t len) {
  if (std::memcmp(h.magic, kManifestMagic, sizeof h.magic) != 0)
    return fail("not a vrift manifest (bad magic)");
  if (h.version != kManifestVersion)
    return fail(fmt::format("unsupported manifest version {} (this vrift reads {})",
                            uint32_t{h.version}, kManifestVersion));
  if (h.header_size != kManifestHeaderSize || h.entry_size != kManifestEntrySize)
    return fail(fmt::format(
        "corrupt manifest header: header/entry size {}/{} (version 1 uses {}/{})",
        uint32_t{h.header_size}, uint32_t{h.entry_size}, kManifestHeaderSize, kManifestEntrySize));
  if (h.flags != 0 || !all_zero(h.reserved, sizeof h.reserved))
    return fail("corrupt manifest header: reserved fields are not zero");
  if (h.file_size > len)
    return fail(fmt::format("truncated manifest: {} bytes, the header says {}", len,
                            uint64_t{h.file_size}));
  if (h.file_size < len)
    return fail(fmt::format("manifest is corrupt: {} bytes, the header says {} (trailing data)",
                            len, uint64_t{h.file_size}));
  uint64_t body = len - kManifestHeaderSize;
  if (h.entry_count > body / kManifestEntrySize) // entry_count * 80 would not fit (or overflow)
    return fail(fmt::format("corrupt manifest header: {} entries do not fit in {} bytes",
                            uint64_t{h.entry_count}, len));
  if (h.strings_size != body - h.entry_count * kManifestEntrySize)
    return fail(fmt::format("corrupt manifest header: {} entries and {} string bytes do not make "
                            "{} bytes",
                            uint64_t{h.entry_count}, uint64_t{h.strings_size}, len));
  return {};
}

std::string too_short(size_t len) {
  return fmt::format("truncated manifest: {} bytes, shorter than the {}-byte header", len,
                     kManifestHeaderSize);
}

} // namespace

const char* entry_type_name(EntryType t) {
  switch (t) {
  case EntryType::File:
    return "file";
  case EntryType::Dir:
    return "dir";
  case EntryType::Symlink:
    return "symlink";
  }
  return "unknown";
}

Hash EntryView::hash_value() const {
  Hash h;
  std::memcpy(h.bytes.data(), hash, h.bytes.size());
  return h;
}

Status validate_manifest_path(std::string_view path) {
  if (path.empty()) return fail("empty path");
  if (path.size() > kMaxManifestPath)
    return fail(fmt::format("path {}... is {} bytes (at most {})", quoted(path.substr(0, 64)),
                            path.size(), kMaxManifestPath));
  if (path.find('\0') != std::string_view::npos)
    return fail("path " + quoted(path) + " contains a NUL byte");
  if (path.front() == '/') return fail("absolute path " + quoted(path));
  if (path.back() == '/') return fail("path " + quoted(path) + " ends with '/'");
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = std::min(path.find('/', start), path.size());
    std::string_view comp = path.substr(start, end - start);
    if (comp.empty()) return fail("path " + quoted(path) + " has an empty component");
    if (comp == ".") return fail("path " + quoted(path) + " has a '.' component");
    if (comp == "..") return fail("path " + quoted(path) + " has a '..' component");
    start = end + 1;
  }
  return {};
}

// The canonical form: for each entry in order, path bytes, 0x00, the type byte, the mode as 4
// bytes little-endian, then for a file its 32 hash bytes, for a symlink its target bytes and
// 0x00 (a directory adds nothing). Paths and targets hold no NUL, so the form is unambiguous.
Hash manifest_id(const std::vector<ManifestEntry>& sorted_entries) {
  IdHasher h;
  for (const auto& e : sorted_entries)
    h.add(e.path, static_cast<uint8_t>(e.type), e.mode, e.hash.bytes.data(), e.target);
  return h.finish();
}

Result<std::string> serialize_manifest(std::vector<ManifestEntry> entries,
                                       std::string_view origin) {
  std::sort(entries.begin(), entries.end(), [](const ManifestEntry& a, const ManifestEntry& b) {
    return std::string_view(a.path) < std::string_view(b.path); // bytewise, unsigned
  });
  auto find_type = [&](std::string_view p) {
    auto it =
        std::lower_bound(entries.begin(), entries.end(), p,
                         [](const ManifestEntry& e, std::string_view k) { return e.path < k; });
    return it != entries.end() && it->path == p ? static_cast<int>(it->type) : -1;
  };
  for (size_t i = 0; i < entries.size(); ++i) {
    const ManifestEntry& e = entries[i];
    VRIFT_TRY(validate_manifest_path(e.path));
    if (i > 0 && entries[i - 1].path == e.path) return fail("duplicate path " + quoted(e.path));
    VRIFT_TRY(check_fields(e.path, static_cast<uint8_t>(e.type), e.mode, e.size,
                           e.hash.bytes.data(), e.target));
    VRIFT_TRY(check_parent(e.path, find_type));
  }
  VRIFT_TRY(check_origin(origin));

  // The arena: origin first, then each entry's path and target, each NUL-terminated.
  std::string arena;
  bool too_big = false;
  auto place = [&](std::string_view s, uint32_t& off, uint32_t& len) {
    off = len = 0;
    if (s.empty()) return;
    if (arena.size() + s.size() + 1 > UINT32_MAX) { // offsets are 32-bit
      too_big = true;
      return;
    }
    off = static_cast<uint32_t>(arena.size());
    len = static_cast<uint32_t>(s.size());
    arena.append(s);
    arena.push_back('\0');
  };
  ManifestHeader h{}; // zero: reserved fields and padding stay zero (determinism)
  std::memcpy(h.magic, kManifestMagic, sizeof h.magic);
  h.version = kManifestVersion;
  h.header_size = kManifestHeaderSize;
  h.entry_size = kManifestEntrySize;
  uint32_t off = 0, len = 0;
  place(origin, off, len);
  h.origin_off = off;
  h.origin_len = len;

  std::string out(kManifestHeaderSize + entries.size() * kManifestEntrySize, '\0');
  for (size_t i = 0; i < entries.size(); ++i) {
    const ManifestEntry& e = entries[i];
    ManifestEntryRaw r{};
    place(e.path, off, len);
    r.path_off = off;
    r.path_len = len;
    place(e.target, off, len);
    r.target_off = off;
    r.target_len = len;
    r.type = static_cast<uint8_t>(e.type);
    r.mode = e.mode;
    r.size = e.size;
    r.mtime_ns = e.mtime_ns;
    if (e.type == EntryType::File) std::memcpy(r.hash, e.hash.bytes.data(), sizeof r.hash);
    std::memcpy(out.data() + kManifestHeaderSize + i * kManifestEntrySize, &r, sizeof r);
  }
  if (too_big) return fail("manifest too large: its strings exceed 4 GiB");
  out += arena;

  h.entry_count = entries.size();
  h.strings_size = arena.size();
  h.file_size = out.size();
  Hash id = manifest_id(entries);
  std::memcpy(h.id, id.bytes.data(), sizeof h.id);
  Hash sum = blake3(out.data() + kManifestHeaderSize, out.size() - kManifestHeaderSize);
  std::memcpy(h.body_checksum, sum.bytes.data(), sizeof h.body_checksum);
  std::memcpy(out.data(), &h, sizeof h);
  return out;
}

Status write_manifest(const std::string& path, std::vector<ManifestEntry> entries,
                      std::string_view origin) {
  std::string ctx = "writing manifest " + quoted(path);
  std::string dir = fs::dirname(path);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return fail(ctx + ": output directory " + quoted(dir) + " does not exist");
    return fail_os(ctx + ": output directory " + quoted(dir));
  }
  if (!S_ISDIR(st.st_mode)) return fail(ctx + ": " + quoted(dir) + " is not a directory", ENOTDIR);
  auto bytes = serialize_manifest(std::move(entries), origin);
  if (!bytes) return fail(std::move(bytes).error().context(ctx));
  return fs::write_file_atomic(path, *bytes, 0644);
}

Manifest::Manifest(Manifest&& o) noexcept { *this = std::move(o); }

Manifest& Manifest::operator=(Manifest&& o) noexcept {
  if (this == &o) return *this;
  if (m_mapped) ::munmap(const_cast<char*>(m_data), m_len);
  m_mapped = o.m_mapped;
  m_len = o.m_len;
  m_count = o.m_count;
  m_records = o.m_records;
  m_lazy = o.m_lazy;
  m_owned = std::move(o.m_owned);
  // An owned buffer may live inside the string object (small-string storage): re-point at it.
  m_data = m_mapped ? o.m_data : (o.m_data ? m_owned.data() : nullptr);
  o.m_data = nullptr;
  o.m_len = o.m_count = o.m_records = 0;
  o.m_mapped = o.m_lazy = false;
  o.m_owned.clear();
  return *this;
}

Manifest::~Manifest() {
  if (m_mapped) ::munmap(const_cast<char*>(m_data), m_len);
}

Result<Manifest> Manifest::open(const std::string& path) { return map_file(path, Check::Full); }

Result<Manifest> Manifest::open_shallow(const std::string& path) {
  return map_file(path, Check::Shallow);
}

Result<Manifest> Manifest::open_lazy(const std::string& path) {
  return map_file(path, Check::Lazy);
}

Status Manifest::load_entries() {
  if (!m_lazy) return {};
  VRIFT_TRY(validate(Check::Shallow));
  m_lazy = false;
  return {};
}

Result<Manifest> Manifest::map_file(const std::string& path, Check how) {
  std::string ctx = "loading manifest " + quoted(path);
  // O_NONBLOCK: a FIFO given by mistake is refused below instead of hanging the open.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) return fail_os(ctx);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail_os(ctx);
  if (!S_ISREG(st.st_mode)) return fail(ctx + ": not a regular file");
  auto len = static_cast<size_t>(st.st_size);
  if (len < kManifestHeaderSize) return fail(ctx + ": " + too_short(len));
  // Manifests are replaced by rename, never rewritten in place, so the mapping stays whole.
  void* p = ::mmap(nullptr, len, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (p == MAP_FAILED) return fail_os(ctx + ": mapping");
  Manifest m;
  m.m_data = static_cast<const char*>(p);
  m.m_len = len;
  m.m_mapped = true;
  if (auto ok = m.validate(how); !ok) return fail(std::move(ok).error().context(ctx));
  m.m_lazy = how == Check::Lazy;
  return m;
}

Result<Manifest> Manifest::from_bytes(std::string_view bytes) {
  Manifest m;
  m.m_owned.assign(bytes.data(), bytes.size());
  m.m_data = m.m_owned.data();
  m.m_len = m.m_owned.size();
  VRIFT_TRY(m.validate());
  return m;
}

Status Manifest::validate(Check how) {
  const bool full = how == Check::Full;
  m_count = 0;
  if (m_len < kManifestHeaderSize) return fail(too_short(m_len));
  auto h = load<ManifestHeader>(m_data);
  VRIFT_TRY(check_header(h, m_len));
  if (full) {
    Hash sum = blake3(m_data + kManifestHeaderSize, m_len - kManifestHeaderSize);
    if (std::memcmp(sum.bytes.data(), h.body_checksum, sizeof h.body_checksum) != 0)
      return fail("manifest is corrupt: checksum mismatch");
  }

  Layout lay(m_data, m_len, h.entry_count);
  // Lazy: the first entry only (what run::plan_projection looks at without the rest).
  const size_t count = how == Check::Lazy && lay.count > 1 ? 1 : lay.count;
  uint64_t next = 0; // where the next string of the arena must start
  VRIFT_ASSIGN(std::string_view origin,
               lay.checked_str(h.origin_off, h.origin_len, next, SIZE_MAX, "origin"));
  VRIFT_TRY(check_origin(origin));
  IdHasher id;
  std::string_view last_parent;
  int last_parent_type = -1;
  for (size_t i = 0; i < count; ++i) {
    ManifestEntryRaw r = lay.rec(i);
    VRIFT_ASSIGN(std::string_view path, lay.checked_str(r.path_off, r.path_len, next, i, "path"));
    VRIFT_ASSIGN(std::string_view target,
                 lay.checked_str(r.target_off, r.target_len, next, i, "target"));
    // Shallow: only directories' paths matter (vrift run creates those).
    if (full || r.type == static_cast<uint8_t>(EntryType::Dir)) {
      if (auto ok = validate_manifest_path(path); !ok)
        return fail(std::move(ok).error().context(fmt::format("entry {}", i)));
    }
    if (!full) {
      if (r.type < static_cast<uint8_t>(EntryType::File) ||
          r.type > static_cast<uint8_t>(EntryType::Symlink))
        return fail("entry " + quoted(path) + ": unknown type");
      continue;
    }
    if (i > 0) {
      int c = lay.path(i - 1).compare(path); // bytewise, as unsigned bytes
      if (c == 0) return fail("duplicate path " + quoted(path));
      if (c > 0)
        return fail("paths are not sorted: " + quoted(lay.path(i - 1)) + " comes before " +
                    quoted(path));
    }
    if (!all_zero(r.reserved0, sizeof r.reserved0) || !all_zero(r.reserved1, sizeof r.reserved1))
      return fail("entry " + quoted(path) + ": reserved fields are not zero");
    VRIFT_TRY(check_fields(path, r.type, r.mode, r.size, r.hash, target));
    VRIFT_TRY(check_parent(path, [&](std::string_view p) {
      // Siblings mostly follow each other: remember the last parent found (a binary search per
      // entry was most of the time `vrift run` spent loading a 10k-entry manifest).
      if (p == last_parent) return last_parent_type;
      auto j = lay.find(p, i);
      last_parent = p;
      last_parent_type = j ? static_cast<int>(lay.rec(*j).type) : -1;
      return last_parent_type;
    }));
    id.add(path, r.type, r.mode, r.hash, target);
  }
  if (count == lay.count && next != lay.arena_size)
    return fail(fmt::format("manifest is corrupt: {} unused bytes at the end of the string arena",
                            lay.arena_size - next));
  if (full && std::memcmp(id.finish().bytes.data(), h.id, sizeof h.id) != 0)
    return fail("manifest is corrupt: its id does not match its entries");
  m_count = count;
  m_records = lay.count;
  return {};
}

EntryView Manifest::at(size_t i) const {
  assert(i < m_count);
  Layout lay(m_data, m_len, m_records);
  ManifestEntryRaw r = lay.rec(i);
  const char* rec = lay.records + i * kManifestEntrySize;
  return EntryView{lay.str(r.path_off, r.path_len),
                   lay.str(r.target_off, r.target_len),
                   static_cast<EntryType>(r.type),
                   r.mode,
                   r.size,
                   r.mtime_ns,
                   reinterpret_cast<const uint8_t*>(rec + offsetof(ManifestEntryRaw, hash))};
}

std::optional<size_t> Manifest::find(std::string_view path) const {
  if (!m_data) return std::nullopt;
  return Layout(m_data, m_len, m_records).find(path, m_count);
}

Hash Manifest::id() const {
  Hash h;
  if (m_data) std::memcpy(h.bytes.data(), m_data + offsetof(ManifestHeader, id), h.bytes.size());
  return h;
}

std::string_view Manifest::origin() const {
  if (!m_data) return {};
  auto h = load<ManifestHeader>(m_data);
  return Layout(m_data, m_len, m_records).str(h.origin_off, h.origin_len);
}

std::vector<ManifestEntry> Manifest::entries() const {
  std::vector<ManifestEntry> out;
  out.reserve(m_count);
  for (size_t i = 0; i < m_count; ++i) {
    EntryView v = at(i);
    out.push_back(ManifestEntry{std::string(v.path), v.type, v.mode, v.size, v.mtime_ns,
                                v.hash_value(), std::string(v.target)});
  }
  return out;
}

} // namespace vrift

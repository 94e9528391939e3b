// VdirWriter: creating and reopening the file, the arena, the index and its growth.
//
// The writer's half of the protocol (the reader's half and why it is enough: vdir_reader.cpp):
// * Updating a record: seq odd (relaxed store), release fence, the 15 data words as relaxed
//   atomic stores, seq even (release store).
// * A new record: its fields and path are written with plain stores into arena space nothing
//   refers to yet, then its seq is set to 2 with a release store, then the slot word
//   (tag | record index) is stored with release, which publishes it.
// * Growth: the new table is written with relaxed atomic stores (a reader that read table_off
//   across the switch may already probe it; its result is then discarded by the table_seq
//   check, but its loads must not race), the header switches inside table_seq, and the old
//   table's pages are punched out of the file.
// * Counters (header line 2) are relaxed stores after each mutation, generation last (release).
#include "vrift/vdir/vdir_writer.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "vrift/vdir/vdir_hash.h"
#include "vrift/vdir/vdir_reader.h"

namespace vrift::vdir {
namespace {

inline void fence_release() { __atomic_thread_fence(__ATOMIC_RELEASE); }

uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

uint64_t random_seed() {
  uint64_t s = 0;
  if (::getrandom(&s, sizeof s, 0) != static_cast<ssize_t>(sizeof s) || s == 0)
    s = 0x9e3779b97f4a7c15ULL ^ static_cast<uint64_t>(::getpid());
  return s;
}

/// The smallest power-of-two capacity that holds ENTRIES below MAX_LOAD percent.
uint64_t capacity_for(uint64_t entries, uint32_t max_load) {
  uint64_t cap = kMinTableCap;
  while (cap < kMaxTableCap && entries * 100 >= cap * max_load)
    cap <<= 1;
  return cap;
}

} // namespace

VdirWriter::Mapping::Mapping(Mapping&& o) noexcept
    : base(std::exchange(o.base, nullptr)), len(std::exchange(o.len, 0)) {}

VdirWriter::Mapping& VdirWriter::Mapping::operator=(Mapping&& o) noexcept {
  if (this != &o) {
    if (base) ::munmap(base, len);
    base = std::exchange(o.base, nullptr);
    len = std::exchange(o.len, 0);
  }
  return *this;
}

VdirWriter::Mapping::~Mapping() {
  if (base) ::munmap(base, len);
}

Status VdirWriter::map_file(int fd, uint64_t len) {
  void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return fail_os("mapping " + std::to_string(len) + " bytes");
  // Best effort: where tmpfs may use huge pages (shmem_enabled=advise), 2 MiB pages cut the
  // TLB misses that dominate lookups in large tables. Elsewhere this is a no-op.
  (void)::madvise(p, len, MADV_HUGEPAGE);
  m_map.base = static_cast<unsigned char*>(p);
  m_map.len = len;
  return {};
}

Result<VdirWriter> VdirWriter::create(const std::string& path, const VdirOptions& o) {
  const std::string ctx = "creating VDir '" + path + "'";
  if (o.max_load_percent < 10 || o.max_load_percent > 95)
    return fail(ctx + ": max_load_percent must be within 10..95", EINVAL);
  if (o.hash_fn != kHashMum64 && o.hash_fn != kHashMum64Keyed && o.hash_fn != kHashConstantForTests)
    return fail(ctx + ": unknown hash function " + std::to_string(o.hash_fn), EINVAL);
  const uint64_t max = round_up(o.max_bytes, kTableAlign);
  if (max < (uint64_t{1} << 16) || max > (uint64_t{1} << 40))
    return fail(ctx + ": max_bytes must be within 64 KiB..1 TiB", EINVAL);
  const uint64_t index = round_up(o.index_bytes ? o.index_bytes : max / 8, kTableAlign);
  if (index >= max - kHeaderSize)
    return fail(ctx + ": the index region leaves no room for the arena", EINVAL);
  if (max - kHeaderSize - index > kMaxArenaSize)
    return fail(ctx + ": the arena cannot exceed 256 GiB", EINVAL);
  if (o.version != kVersion && o.version != kVersionSlotsOnly)
    return fail(ctx + ": unknown layout version " + std::to_string(o.version), EINVAL);
  const uint64_t cap = capacity_for(o.initial_entries, o.max_load_percent);
  if (table_bytes(cap, o.version) > index)
    return fail(ctx + ": the first table does not fit in the index region", EINVAL);

  // Build the file under a temporary name so that readers never see a half-made header.
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  ::unlink(tmp.c_str());
  UniqueFd fd(::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, o.file_mode));
  if (!fd.valid()) return fail_os(ctx + ": creating '" + tmp + "'");
  auto bail = [&](Error e) {
    ::unlink(tmp.c_str());
    return fail(std::move(e.context(ctx)));
  };
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) return bail(os_error("locking"));
  if (::fchmod(fd.get(), o.file_mode) != 0) return bail(os_error("setting its mode"));
  if (::ftruncate(fd.get(), static_cast<off_t>(max)) != 0)
    return bail(os_error("reserving " + std::to_string(max) + " bytes"));

  VdirWriter w;
  w.m_path = path;
  if (auto st = w.map_file(fd.get(), max); !st) return bail(std::move(st).error());
  w.m_hash_fn = o.hash_fn;
  w.m_version = o.version;
  w.m_seed = o.hash_seed ? o.hash_seed : random_seed();
  w.m_max_load = o.max_load_percent;
  w.m_punch = o.punch_retired_tables;
  w.m_arena_off = kHeaderSize;
  w.m_arena_size = max - kHeaderSize - index;
  w.m_index_off = kHeaderSize + w.m_arena_size;
  w.m_index_size = index;
  w.m_table_off = w.m_index_off;
  w.m_cap = cap;
  w.m_index_used = table_bytes(cap, o.version);

  Header* h = w.hdr(); // fresh zero pages, not yet visible to anyone: plain stores
  std::memcpy(h->magic, kMagic, sizeof kMagic);
  h->version = w.m_version;
  h->header_size = kHeaderSize;
  h->record_size = kRecordSize;
  h->hash_fn = w.m_hash_fn;
  h->file_size = max;
  h->arena_off = w.m_arena_off;
  h->arena_size = w.m_arena_size;
  h->index_off = w.m_index_off;
  h->index_size = w.m_index_size;
  h->hash_seed = w.m_seed;
  h->table_seq = 0;
  h->table_off = w.m_table_off;
  h->table_cap = w.m_cap;
  w.publish_counters();

  if (::rename(tmp.c_str(), path.c_str()) != 0) return bail(os_error("renaming into place"));
  w.m_fd = std::move(fd);
  return w;
}

Status VdirWriter::create_stale_map(const std::string& path) const {
  const std::string ctx = "creating the stale map '" + path + "'";
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  ::unlink(tmp.c_str());
  UniqueFd fd(::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) return fail_os(ctx + ": creating '" + tmp + "'");
  StaleHeader h{};
  std::memcpy(h.magic, kStaleMagic, sizeof kStaleMagic);
  h.version = kStaleVersion;
  h.header_size = kStaleHeaderSize;
  h.units = m_arena_size / kRecordAlign;
  h.vdir_seed = m_seed;
  // The pages of the records there are, and room for 65,536 more, are allocated now: a shim
  // that sets a byte on a page tmpfs cannot give it would get SIGBUS inside the program.
  const uint64_t reserve =
      kStaleHeaderSize + std::min<uint64_t>(h.units, m_arena_used / kRecordAlign + 65536);
  Status st;
  if (::ftruncate(fd.get(), static_cast<off_t>(kStaleHeaderSize + h.units)) != 0)
    st = fail_os(ctx + ": sizing it");
  else if (::fallocate(fd.get(), 0, 0, static_cast<off_t>(reserve)) != 0 && errno != EOPNOTSUPP)
    st = fail_os(ctx + ": reserving " + std::to_string(reserve) + " bytes");
  else if (::pwrite(fd.get(), &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h))
    st = fail_os(ctx + ": writing its header");
  else if (::rename(tmp.c_str(), path.c_str()) != 0)
    st = fail_os(ctx + ": renaming into place");
  if (!st) ::unlink(tmp.c_str());
  return st;
}

Result<VdirWriter> VdirWriter::open(const std::string& path) {
  const std::string ctx = "opening VDir '" + path + "'";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.valid()) return fail_os(ctx);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return fail(ctx + ": locked by another writer", EBUSY);
    return fail_os(ctx + ": locking");
  }
  const off_t len = ::lseek(fd.get(), 0, SEEK_END);
  if (len < 0) return fail_os(ctx + ": measuring");
  VdirReader check;
  VdirWriter w;
  w.m_path = path;
  if (len > 0) VRIFT_TRY(w.map_file(fd.get(), static_cast<uint64_t>(len)).context(ctx));
  if (auto a = check.attach(w.m_map.base, w.m_map.len); a != VdirAttach::kOk)
    return fail(ctx + ": " + to_string(a), EINVAL);
  VRIFT_TRY(w.load_state(ctx));
  w.m_fd = std::move(fd);
  return w;
}

// Reads the header into the writer's mirrors and rebuilds the directory index from the table,
// refusing anything inconsistent (the reader-side checks passed already).
Status VdirWriter::load_state(const std::string& ctx) {
  const Header* h = hdr();
  m_hash_fn = h->hash_fn;
  m_version = h->version; // the reader's attach accepted it: kVersion or kVersionSlotsOnly
  m_seed = h->hash_seed;
  m_arena_off = h->arena_off;
  m_arena_size = h->arena_size;
  m_index_off = h->index_off;
  m_index_size = h->index_size;
  m_table_off = h->table_off;
  m_cap = h->table_cap;
  m_count = h->record_count;
  m_live = h->live_count;
  m_arena_used = h->arena_used;
  m_index_used = h->index_used;
  m_generation = h->generation;
  m_next_ino = h->next_ino;
  m_growths = h->growths;
  if (h->table_seq & 1) return fail(ctx + ": interrupted table switch", EINVAL);
  const bool table_ok = m_cap >= kMinTableCap && m_cap <= kMaxTableCap &&
                        (m_cap & (m_cap - 1)) == 0 && m_table_off >= m_index_off &&
                        m_table_off % kTableAlign == 0 && m_index_used <= m_index_size &&
                        table_bytes(m_cap, m_version) <= m_index_used &&
                        m_table_off - m_index_off <= m_index_used - table_bytes(m_cap, m_version);
  if (!table_ok || m_arena_used > m_arena_size || m_count >= m_cap || m_live > m_count)
    return fail(ctx + ": header counters out of range", EINVAL);
  const Slot* t = slots_at(m_table_off);
  uint8_t* fps = m_version >= 2 ? fingerprints_of(m_table_off, m_cap) : nullptr;
  uint64_t used = 0;
  for (uint64_t i = 0; i < m_cap; ++i) {
    if (t[i].word == 0) {
      // A fingerprint over an empty slot (damage) would end probes early: clear it.
      if (fps && fps[i] != 0) store_release(&fps[i], uint8_t{0});
      continue;
    }
    const uint64_t off = m_arena_off + slot_index(t[i].word) * kRecordAlign;
    const uint64_t end = m_arena_off + m_arena_used;
    if (off >= end || end - off < kRecordSize || record(off)->path_len > kMaxPath ||
        end - off < record_footprint(record(off)->path_len))
      return fail(ctx + ": slot " + std::to_string(i) + " points outside the arena", EINVAL);
    if (record(off)->seq & 1) return fail(ctx + ": interrupted write; rebuild the VDir", EINVAL);
    // A wrong fingerprint would hide the entry from readers (a write cut short between the slot
    // and its fingerprint, or damage): rewrite it from the record's key.
    if (fps && fps[i] != fingerprint(record(off)->key))
      store_release(&fps[i], fingerprint(record(off)->key));
    index_child(off);
    ++used;
  }
  if (used != m_count) return fail(ctx + ": record count disagrees with the table", EINVAL);
  return {};
}

std::string_view VdirWriter::record_path(uint64_t off) const {
  const char* p =
      static_cast<const char*>(static_cast<const void*>(m_map.base + off + kRecordSize));
  return {p, record(off)->path_len};
}

uint64_t VdirWriter::key_of(std::string_view path) const {
  return path_key(m_hash_fn, m_seed, path.data(), path.size());
}

// The writer is the only thread that stores to the table, so it reads its own words plainly.
uint64_t VdirWriter::find(uint64_t key, std::string_view path) const {
  const Slot* t = slots_at(m_table_off);
  const uint64_t mask = m_cap - 1;
  const uint64_t tag = slot_tag(key);
  for (uint64_t i = key & mask;; i = (i + 1) & mask) {
    const uint64_t w = t[i].word;
    if (w == 0) return 0;
    if (w >> 32 != tag) continue;
    const uint64_t off = m_arena_off + slot_index(w) * kRecordAlign;
    if (record_path(off) == path) return off;
  }
}

Result<uint64_t> VdirWriter::append(uint64_t bytes, uint64_t align) {
  const uint64_t off = round_up(m_arena_used, align);
  if (off > m_arena_size || bytes > m_arena_size - off)
    return fail("VDir arena full (" + std::to_string(m_arena_size) +
                    " bytes): create it with a larger max_bytes",
                ENOSPC);
  m_arena_used = off + bytes;
  return m_arena_off + off;
}

Status VdirWriter::ensure_room_for_one() {
  if ((m_count + 1) * 100 < m_cap * m_max_load) return {};
  return grow_to(m_cap * 2);
}

Status VdirWriter::reserve(uint64_t entries) {
  const uint64_t cap = capacity_for(entries, m_max_load);
  return cap > m_cap ? grow_to(cap) : Status{};
}

Status VdirWriter::grow_to(uint64_t cap) {
  if (cap > kMaxTableCap) return fail("VDir table cannot grow past 2^32 slots", ENOSPC);
  const uint64_t rel = round_up(m_index_used, kTableAlign);
  const uint64_t bytes = table_bytes(cap, m_version);
  if (rel > m_index_size || bytes > m_index_size - rel)
    return fail("VDir index region full (" + std::to_string(m_index_size) +
                    " bytes): create it with a larger max_bytes or index_bytes",
                ENOSPC);
  // Build the new table in index space no table has used (still zero). A slot keeps only the
  // key's high half, so the new position comes from the key kept in the record (prefetched a
  // few slots ahead: at 1M entries these are random reads).
  Slot* nt = slots_at(m_index_off + rel);
  uint8_t* nfps = m_version >= 2 ? fingerprints_of(m_index_off + rel, cap) : nullptr;
  const Slot* old = slots_at(m_table_off);
  const uint64_t mask = cap - 1;
  auto record_of = [&](uint64_t w) { return record(m_arena_off + slot_index(w) * kRecordAlign); };
  constexpr uint64_t kAhead = 16;
  for (uint64_t j = 0; j < m_cap; ++j) {
    if (j + kAhead < m_cap && old[j + kAhead].word != 0)
      __builtin_prefetch(&record_of(old[j + kAhead].word)->key);
    const uint64_t w = old[j].word;
    if (w == 0) continue;
    const uint64_t key = record_of(w)->key;
    uint64_t i = key & mask;
    while (nt[i].word != 0)
      i = (i + 1) & mask;
    // Release, like every slot store: a reader that reaches a record through this slot (even
    // one that read the new table_off before the switch is validated) happens-after the
    // record's publication, so its early read of path_len and the path is ordered.
    publish_slot(nt, nfps, i, w, key);
  }
  // Switch readers to it inside the table seqlock.
  Header* h = hdr();
  const uint64_t seq = h->table_seq;
  store_relaxed(&h->table_seq, seq + 1);
  fence_release();
  store_relaxed(&h->table_off, m_index_off + rel);
  store_relaxed(&h->table_cap, cap);
  store_release(&h->table_seq, seq + 2);
  const uint64_t old_off = m_table_off;
  const uint64_t old_bytes = round_up(table_bytes(m_cap, m_version), kTableAlign);
  m_table_off = m_index_off + rel;
  m_cap = cap;
  m_index_used = rel + bytes;
  ++m_growths;
  // Readers still probing the old table discard what they read there (table_seq changed), so
  // its pages can go back to tmpfs now; the file keeps its size, so nothing faults.
  if (m_punch)
    (void)::fallocate(m_fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                      static_cast<off_t>(old_off), static_cast<off_t>(old_bytes));
  publish_counters();
  return {};
}

Result<uint64_t> VdirWriter::insert_record(std::string_view path, uint64_t key,
                                           const Record& fields) {
  VRIFT_TRY(ensure_room_for_one());
  VRIFT_ASSIGN(const uint64_t off, append(record_footprint(path.size()), kRecordAlign));
  Record* r = record(off); // unreferenced arena space: plain stores, then a release of seq
  *r = fields;
  r->seq = 0;
  r->path_len = static_cast<uint32_t>(path.size());
  r->key = key;
  char* p = static_cast<char*>(static_cast<void*>(m_map.base + off + kRecordSize));
  std::memcpy(p, path.data(), path.size());
  p[path.size()] = '\0';
  store_release(&r->seq, uint64_t{2});
  Slot* t = slots_at(m_table_off);
  const uint64_t mask = m_cap - 1;
  uint64_t i = key & mask;
  while (t[i].word != 0)
    i = (i + 1) & mask;
  publish_slot(t, m_version >= 2 ? fingerprints_of(m_table_off, m_cap) : nullptr, i,
               slot_word(key, (off - m_arena_off) / kRecordAlign), key);
  ++m_count;
  index_child(off);
  return off;
}

void VdirWriter::publish_slot(Slot* t, uint8_t* fps, uint64_t i, uint64_t word, uint64_t key) {
  store_release(&t[i].word, word);
  if (fps) store_release(&fps[i], fingerprint(key));
}

void VdirWriter::write_fields(Record* r, const Record& v) {
  uint64_t* w = record_words(r);
  const uint64_t* nv = record_words(&v);
  const uint64_t seq = w[0];
  store_relaxed(&w[0], seq + 1);
  fence_release();
  for (size_t j = 1; j < kRecordSize / 8; ++j)
    store_relaxed(&w[j], nv[j]);
  store_release(&w[0], seq + 2);
}

void VdirWriter::publish_counters() {
  Header* h = hdr();
  store_relaxed(&h->record_count, m_count);
  store_relaxed(&h->live_count, m_live);
  store_relaxed(&h->arena_used, m_arena_used);
  store_relaxed(&h->index_used, m_index_used);
  store_relaxed(&h->next_ino, m_next_ino);
  store_relaxed(&h->growths, m_growths);
  store_release(&h->generation, ++m_generation);
}

} // namespace vrift::vdir

// VDir lookups: lock-free, bounded, and safe on a damaged file.
//
// How the synchronisation works (the writer's half is in vdir_writer.cpp):
// * Record seqlock. The writer makes seq odd (relaxed store), issues a release fence, stores
//   the data words (relaxed atomic stores), then makes seq even with a release store. A reader
//   loads seq with acquire (s1), loads the data words relaxed, issues an acquire fence and
//   reloads seq (s2); the copy is valid iff s1 == s2 and s1 is even. If any data load saw a
//   store of a later write, the acquire fence synchronises with that write's release fence, so
//   the reload sees at least its odd seq and the copy is rejected. A release *store* of the odd
//   seq would not do: it orders what comes before it, not the data stores after it. These are
//   real barriers on aarch64 (dmb) and compiler barriers on x86; all shared words are atomics,
//   so there is no data race for TSan (or the C++ model) to object to.
// * Publication. A new record and its path are written with plain stores into unreferenced
//   arena space, then the slot word (tag | record index) is stored with release. A reader
//   that loads the slot with acquire, or a record's seq with acquire, therefore sees the path
//   and any symlink target that record refers to: arena bytes are never rewritten, so they are
//   read with plain loads after the record copy has been validated.
// * Fingerprints (version 2). Each table's slots are followed by one byte per slot. The writer
//   stores a slot word and then its fingerprint, both with release; a probe loads fingerprints
//   with acquire and reads a slot only where the byte matches, so a fingerprint it sees
//   publishes the slot and the record. A miss then touches an array 1/8 the size of the slots.
// * Table switch. On growth the writer builds a new table where no reader looks, then updates
//   (table_off, table_cap) inside the header's table_seq seqlock, then may punch the old table
//   out of the file. A lookup reads the table under table_seq and re-checks it at the end
//   (acquire fence, reload); on a change it restarts, so zeros read from a punched table never
//   become an answer. Records live in the arena and do not move, so both tables point at the
//   same records and an update is visible whichever table a reader probes.
// Every offset read from the file is bounds-checked against the regions recorded at attach.
#include "vrift/vdir/vdir_reader.h"

#include "vrift/vdir/vdir_hash.h"

namespace vrift::vdir {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

inline void fence_acquire() { __atomic_thread_fence(__ATOMIC_ACQUIRE); }

inline bool is_pow2(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

// A record read a word at a time, as the writer stores it: the index of each field's word, and
// the halves of a word that holds two 32-bit fields (the file is little-endian, vdir.md).
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "VDir words hold little-endian halves");
constexpr size_t kWordFlagsMode = offsetof(Record, flags) / 8;
constexpr size_t kWordSize = offsetof(Record, size) / 8;
constexpr size_t kWordMtime = offsetof(Record, mtime_ns) / 8;
constexpr size_t kWordCtime = offsetof(Record, ctime_ns) / 8;
constexpr size_t kWordIno = offsetof(Record, ino) / 8;
constexpr size_t kWordUidGid = offsetof(Record, uid) / 8;
constexpr size_t kWordNlinkPathLen = offsetof(Record, nlink) / 8;
constexpr size_t kWordBlobHash = offsetof(Record, blob_hash) / 8;
constexpr size_t kWordAtime = offsetof(Record, atime_ns) / 8;
constexpr size_t kWordTargetOff = offsetof(Record, target_off) / 8;
constexpr size_t kWordTargetLen = offsetof(Record, target_len) / 8;
static_assert(offsetof(Record, mode) == offsetof(Record, flags) + 4 &&
              offsetof(Record, gid) == offsetof(Record, uid) + 4 &&
              offsetof(Record, path_len) == offsetof(Record, nlink) + 4 &&
              offsetof(Record, flags) % 8 == 0 && offsetof(Record, uid) % 8 == 0 &&
              offsetof(Record, nlink) % 8 == 0 && offsetof(Record, target_len) % 8 == 0);
// The path's key, out of line: inlined into lookup(), GCC 12 keeps the multiply's 128-bit result
// on the stack in every round of the hash loop for want of registers (a store and a reload on
// the loop's critical path); on its own the loop stays in registers.
__attribute__((noinline)) uint64_t key_of(uint32_t hash_fn, uint64_t seed, const char* path,
                                          size_t len) {
  return path_key(hash_fn, seed, path, len);
}

inline uint32_t lo32(uint64_t w) { return static_cast<uint32_t>(w); }
inline uint32_t hi32(uint64_t w) { return static_cast<uint32_t>(w >> 32); }

} // namespace

const char* to_string(VdirResult r) {
  switch (r) {
  case VdirResult::kHit:
    return "hit";
  case VdirResult::kMiss:
    return "miss";
  case VdirResult::kDeleted:
    return "deleted";
  case VdirResult::kBusy:
    return "busy";
  case VdirResult::kCorrupt:
    return "corrupt";
  case VdirResult::kStale:
    return "stale";
  }
  return "?";
}

const char* to_string(VdirAttach a) {
  switch (a) {
  case VdirAttach::kOk:
    return "ok";
  case VdirAttach::kTooSmall:
    return "file too small";
  case VdirAttach::kBadMagic:
    return "bad magic";
  case VdirAttach::kBadVersion:
    return "unsupported version";
  case VdirAttach::kBadLayout:
    return "layout out of range";
  }
  return "?";
}

VdirAttach VdirReader::attach(const void* base, size_t len) {
  *this = VdirReader{};
  if (base == nullptr || len < kHeaderSize) return VdirAttach::kTooSmall;
  const auto* h = static_cast<const Header*>(base);
  // Line 0 is immutable once the file is published; read it like every other shared word.
  for (size_t i = 0; i < sizeof kMagic; ++i)
    if (load_relaxed(&h->magic[i]) != kMagic[i]) return VdirAttach::kBadMagic;
  const uint32_t version = load_relaxed(&h->version);
  if (version != kVersion && version != kVersionSlotsOnly) return VdirAttach::kBadVersion;
  const uint64_t file_size = load_relaxed(&h->file_size);
  const uint64_t arena_off = load_relaxed(&h->arena_off);
  const uint64_t arena_size = load_relaxed(&h->arena_size);
  const uint64_t index_off = load_relaxed(&h->index_off);
  const uint64_t index_size = load_relaxed(&h->index_size);
  const uint32_t hash_fn = load_relaxed(&h->hash_fn);
  if (file_size > len) return VdirAttach::kTooSmall;
  if (load_relaxed(&h->header_size) != kHeaderSize || load_relaxed(&h->record_size) != kRecordSize)
    return VdirAttach::kBadLayout;
  if (hash_fn != kHashMum64 && hash_fn != kHashMum64Keyed && hash_fn != kHashConstantForTests)
    return VdirAttach::kBadLayout;
  // The regions must tile the file in order; each comparison is written so it cannot overflow.
  if (arena_off != kHeaderSize || arena_size > file_size - arena_off ||
      arena_size % kRecordAlign != 0 || arena_size > kMaxArenaSize ||
      index_off != arena_off + arena_size || index_off % kTableAlign != 0 ||
      index_size > file_size - index_off || index_size < kMinTableCap * kSlotSize)
    return VdirAttach::kBadLayout;
  m_base = static_cast<const unsigned char*>(base);
  m_len = file_size;
  m_arena_begin = arena_off;
  m_arena_end = arena_off + arena_size;
  m_index_begin = index_off;
  m_index_end = index_off + index_size;
  m_seed = load_relaxed(&h->hash_seed);
  m_hash_fn = hash_fn;
  m_fingerprints = version >= 2;
  return VdirAttach::kOk;
}

uint64_t VdirReader::generation() const {
  if (!m_base) return 0;
  return load_acquire(&static_cast<const Header*>(static_cast<const void*>(m_base))->generation);
}

uint64_t VdirReader::record_count() const {
  if (!m_base) return 0;
  return load_relaxed(&static_cast<const Header*>(static_cast<const void*>(m_base))->record_count);
}

VdirAttach VdirReader::attach_stale(void* base, size_t len) {
  if (!m_base) return VdirAttach::kBadLayout;
  if (base == nullptr || len < kStaleHeaderSize) return VdirAttach::kTooSmall;
  auto* h = static_cast<StaleHeader*>(base);
  for (size_t i = 0; i < sizeof kStaleMagic; ++i)
    if (load_relaxed(&h->magic[i]) != kStaleMagic[i]) return VdirAttach::kBadMagic;
  if (load_relaxed(&h->version) != kStaleVersion) return VdirAttach::kBadVersion;
  const uint64_t units = load_relaxed(&h->units);
  // Another session's map (both files replaced between the two mappings) would mark the wrong
  // records.
  if (load_relaxed(&h->header_size) != kStaleHeaderSize || load_relaxed(&h->vdir_seed) != m_seed)
    return VdirAttach::kBadLayout;
  // Every record index the arena can hold must have its byte.
  if (units < (m_arena_end - m_arena_begin) / kRecordAlign) return VdirAttach::kBadLayout;
  if (units > len - kStaleHeaderSize) return VdirAttach::kTooSmall;
  m_stale = static_cast<unsigned char*>(base) + kStaleHeaderSize;
  m_stale_count = &h->count;
  return VdirAttach::kOk;
}

unsigned char* VdirReader::stale_byte(const char* path, size_t len) const {
  if (!m_stale) return nullptr;
  uint64_t index = 0;
  VdirStat unused;
  if (search(path, len, &unused, nullptr, 0, &index) != VdirResult::kHit) return nullptr;
  return &m_stale[index];
}

void VdirReader::mark_stale(unsigned char* byte) const {
  // The byte first, then the count (release): a lookup that sees the count sees the byte.
  if ((__atomic_fetch_or(byte, kStaleMarked, __ATOMIC_ACQ_REL) & kStaleMarked) == 0)
    __atomic_fetch_add(m_stale_count, 1, __ATOMIC_RELEASE);
}

bool VdirReader::mark_stale(const char* path, size_t len) const {
  unsigned char* b = stale_byte(path, len);
  if (b) mark_stale(b);
  return b != nullptr;
}

VdirResult VdirReader::lookup(const char* path, size_t len, VdirStat* out, char* target,
                              size_t target_cap) const {
  return search(path, len, out, target, target_cap, nullptr);
}

VdirResult VdirReader::lookup_any(const char* path, size_t len, VdirStat* out) const {
  return search(path, len, out, nullptr, 0, nullptr, true);
}

VdirResult VdirReader::search(const char* path, size_t len, VdirStat* out, char* target,
                              size_t target_cap, uint64_t* index, bool any_stale) const {
  if (!m_base) return VdirResult::kCorrupt;
  if (len == 1 && path[0] == '.') len = 0; // the root's other spelling
  if (len > kMaxPath) return VdirResult::kMiss;
  const auto* h = static_cast<const Header*>(static_cast<const void*>(m_base));
  const uint64_t key = key_of(m_hash_fn, m_seed, path, len);
  for (int attempt = 0; attempt < kTableRetries; ++attempt) {
    const uint64_t seq = load_acquire(&h->table_seq);
    if (seq & 1) {
      cpu_relax();
      continue;
    }
    const uint64_t off = load_relaxed(&h->table_off);
    const uint64_t cap = load_relaxed(&h->table_cap);
    VdirResult r = VdirResult::kCorrupt;
    const uint64_t per_slot = m_fingerprints ? kSlotSize + 1 : kSlotSize;
    if (is_pow2(cap) && cap <= kMaxTableCap && off >= m_index_begin && off % kSlotSize == 0 &&
        off < m_index_end && cap <= (m_index_end - off) / per_slot)
      r = m_fingerprints
              ? probe<true>(off, cap, key, path, len, out, target, target_cap, index, any_stale)
              : probe<false>(off, cap, key, path, len, out, target, target_cap, index, any_stale);
    // Whatever the probe saw counts only if the table did not change meanwhile (the old table
    // may have been punched to zeros, or off/cap may have been read across a switch).
    fence_acquire();
    if (load_relaxed(&h->table_seq) == seq) return r;
  }
  return VdirResult::kBusy;
}

// The probe, of a version 2 table (KFINGERPRINTS: fingerprint bytes first, a slot only where its
// fingerprint matches) or of a version 1 table (slots only). The writer stores a slot, then its
// fingerprint, both with release, so a fingerprint read with acquire makes its slot (and the
// record behind it) visible. An empty slot under a set fingerprint (a damaged file, or a punched
// table this lookup will discard) ends the probe as a miss, as an empty slot does.
template <bool kFingerprints>
VdirResult VdirReader::probe(uint64_t table_off, uint64_t cap, uint64_t key, const char* path,
                             size_t len, VdirStat* out, char* target, size_t target_cap,
                             uint64_t* index, bool any_stale) const {
  const auto* slots = static_cast<const Slot*>(static_cast<const void*>(m_base + table_off));
  const uint8_t* fps = m_base + table_off + cap * kSlotSize; // read only in version 2
  const uint64_t mask = cap - 1;
  const uint64_t tag = slot_tag(key);
  const uint8_t want = fingerprint(key);
  uint64_t i = key & mask;
  // The first probe's slot is fetched while its fingerprint is: in a process that has just
  // started (every program under `vrift run`) both are usually cache misses, and the slot's
  // would otherwise wait for the fingerprint's. A miss that ends at that fingerprint wastes it.
  if constexpr (kFingerprints) __builtin_prefetch(&slots[i]);
  // A sound table always has an empty slot (load <= max_load < 1); the bound is for damage.
  for (uint64_t n = 0; n < cap; ++n, i = (i + 1) & mask) {
    if constexpr (kFingerprints) {
      const uint8_t f = load_acquire(&fps[i]);
      if (f == 0) return VdirResult::kMiss;
      if (f != want) continue;
    }
    const uint64_t w = load_acquire(&slots[i].word);
    if (w == 0) return VdirResult::kMiss;
    if (w >> 32 != tag) continue;
    if (const VdirResult r = match_slot(w, path, len, out, target, target_cap, index, any_stale);
        r != VdirResult::kMiss)
      return r;
  }
  return VdirResult::kMiss;
}

// Slot word W has the wanted tag: kHit (or kDeleted, kStale) if its record holds PATH, kMiss if
// the record is another path's (the probe goes on), kCorrupt if it points outside the arena.
VdirResult VdirReader::match_slot(uint64_t w, const char* path, size_t len, VdirStat* out,
                                  char* target, size_t target_cap, uint64_t* index,
                                  bool any_stale) const {
  const uint64_t roff = m_arena_begin + slot_index(w) * kRecordAlign; // < 2^39: no overflow
  if (roff >= m_arena_end || m_arena_end - roff < kRecordSize) return VdirResult::kCorrupt;
  const auto* rec = static_cast<const Record*>(static_cast<const void*>(m_base + roff));
  // path_len never changes once the record is published, and every slot word is stored with
  // release after its record was (also by a growth), so the slot's acquire load makes both
  // visible: the path is matched before the seqlocked copy, and a record whose key merely
  // shares the tag costs no copy.
  const uint32_t path_len = hi32(load_relaxed(&record_words(rec)[kWordNlinkPathLen]));
  if (path_len > kMaxPath || m_arena_end - roff - kRecordSize < path_len)
    return VdirResult::kCorrupt;
  if (path_len != len) return VdirResult::kMiss;
  __builtin_prefetch(m_base + roff + 64); // the record's second line, read after the compare
  if (len != 0 && __builtin_memcmp(m_base + roff + kRecordSize, path, len) != 0)
    return VdirResult::kMiss;
  if (index) {
    *index = slot_index(w);
    return VdirResult::kHit;
  }
  // The stale map: its count is one hot word, and a byte is read only once something is stale.
  // (Its byte exists: the record lies in the arena, checked above, and attach_stale checked
  // that every arena record index has one.)
  if (!any_stale && m_stale_count && load_acquire(m_stale_count) != 0 &&
      (load_relaxed(&m_stale[slot_index(w)]) & kStaleMarked))
    return VdirResult::kStale;
  return read_record(rec, out, target, target_cap);
}

// Copies record REC's fields straight into *OUT under its seqlock, a word at a time (the writer
// stores whole words), with no intermediate copy: this runs once per stat the shim answers.
VdirResult VdirReader::read_record(const Record* rec, VdirStat* out, char* target,
                                   size_t target_cap) const {
  const uint64_t* w = record_words(rec);
  uint64_t target_off = 0;
  uint32_t target_len = 0;
  for (int spin = 0;; ++spin) {
    if (spin == kRecordSpins) return VdirResult::kBusy;
    const uint64_t s1 = load_acquire(&w[0]);
    if (s1 == 0) return VdirResult::kCorrupt; // never published, yet a slot points at it
    if (s1 & 1) {
      cpu_relax();
      continue;
    }
    const uint64_t flags_mode = load_relaxed(&w[kWordFlagsMode]);
    const uint64_t uid_gid = load_relaxed(&w[kWordUidGid]);
    const uint64_t target_len_word = load_relaxed(&w[kWordTargetLen]);
    out->flags = lo32(flags_mode);
    out->mode = hi32(flags_mode);
    out->size = load_relaxed(&w[kWordSize]);
    out->mtime_ns = static_cast<int64_t>(load_relaxed(&w[kWordMtime]));
    out->ctime_ns = static_cast<int64_t>(load_relaxed(&w[kWordCtime]));
    out->atime_ns = static_cast<int64_t>(load_relaxed(&w[kWordAtime]));
    out->ino = load_relaxed(&w[kWordIno]);
    out->uid = lo32(uid_gid);
    out->gid = hi32(uid_gid);
    out->nlink = lo32(load_relaxed(&w[kWordNlinkPathLen]));
#pragma GCC unroll 4
    for (size_t j = 0; j < sizeof out->blob_hash / 8; ++j) {
      const uint64_t v = load_relaxed(&w[kWordBlobHash + j]);
      __builtin_memcpy(out->blob_hash + 8 * j, &v, 8);
    }
    target_off = load_relaxed(&w[kWordTargetOff]);
    target_len = lo32(target_len_word);
    fence_acquire();
    if (load_relaxed(&w[0]) == s1) break;
  }
  out->target_len = target_len;
  if (out->flags & kFlagDeleted) return VdirResult::kDeleted;
  if (target != nullptr && target_len != 0) {
    if (target_off < m_arena_begin || target_off >= m_arena_end ||
        target_len > m_arena_end - target_off)
      return VdirResult::kCorrupt;
    const size_t copy = target_len < target_cap ? target_len : target_cap;
    __builtin_memcpy(target, m_base + target_off, copy);
  }
  return VdirResult::kHit;
}

} // namespace vrift::vdir

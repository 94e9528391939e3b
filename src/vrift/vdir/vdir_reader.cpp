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
  if (load_relaxed(&h->version) != kVersion) return VdirAttach::kBadVersion;
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

VdirResult VdirReader::lookup(const char* path, size_t len, VdirStat* out, char* target,
                              size_t target_cap) const {
  if (!m_base) return VdirResult::kCorrupt;
  if (len == 1 && path[0] == '.') len = 0; // the root's other spelling
  if (len > kMaxPath) return VdirResult::kMiss;
  const auto* h = static_cast<const Header*>(static_cast<const void*>(m_base));
  const uint64_t key = path_key(m_hash_fn, m_seed, path, len);
  for (int attempt = 0; attempt < kTableRetries; ++attempt) {
    const uint64_t seq = load_acquire(&h->table_seq);
    if (seq & 1) {
      cpu_relax();
      continue;
    }
    const uint64_t off = load_relaxed(&h->table_off);
    const uint64_t cap = load_relaxed(&h->table_cap);
    VdirResult r = VdirResult::kCorrupt;
    if (is_pow2(cap) && cap <= kMaxTableCap && off >= m_index_begin && off % kSlotSize == 0 &&
        off < m_index_end && cap <= (m_index_end - off) / kSlotSize)
      r = probe(off, cap, key, path, len, out, target, target_cap);
    // Whatever the probe saw counts only if the table did not change meanwhile (the old table
    // may have been punched to zeros, or off/cap may have been read across a switch).
    fence_acquire();
    if (load_relaxed(&h->table_seq) == seq) return r;
  }
  return VdirResult::kBusy;
}

VdirResult VdirReader::probe(uint64_t table_off, uint64_t cap, uint64_t key, const char* path,
                             size_t len, VdirStat* out, char* target, size_t target_cap) const {
  const auto* slots = static_cast<const Slot*>(static_cast<const void*>(m_base + table_off));
  const uint64_t mask = cap - 1;
  const uint64_t tag = slot_tag(key);
  uint64_t i = key & mask;
  // A sound table always has an empty slot (load <= max_load < 1); the bound is for damage.
  for (uint64_t n = 0; n < cap; ++n, i = (i + 1) & mask) {
    const uint64_t w = load_acquire(&slots[i].word);
    if (w == 0) return VdirResult::kMiss;
    if (w >> 32 != tag) continue;
    const uint64_t roff = m_arena_begin + slot_index(w) * kRecordAlign; // < 2^39: no overflow
    if (roff >= m_arena_end || m_arena_end - roff < kRecordSize) return VdirResult::kCorrupt;
    __builtin_prefetch(m_base + roff + kRecordSize); // the path, while the record loads
    Record rec;
    if (!read_record(roff, &rec)) return VdirResult::kBusy;
    if (rec.seq == 0 || rec.path_len > kMaxPath || m_arena_end - roff - kRecordSize < rec.path_len)
      return VdirResult::kCorrupt;
    if (rec.path_len != len) continue;
    // The path is immutable and was published before the record (see the top of the file).
    if (len != 0 && __builtin_memcmp(m_base + roff + kRecordSize, path, len) != 0) continue;
    out->flags = rec.flags;
    if (rec.flags & kFlagDeleted) return VdirResult::kDeleted;
    out->size = rec.size;
    out->mtime_ns = rec.mtime_ns;
    out->ctime_ns = rec.ctime_ns;
    out->atime_ns = rec.atime_ns;
    out->ino = rec.ino;
    out->mode = rec.mode;
    out->uid = rec.uid;
    out->gid = rec.gid;
    out->nlink = rec.nlink;
    out->target_len = rec.target_len;
    __builtin_memcpy(out->blob_hash, rec.blob_hash, sizeof out->blob_hash);
    if (target != nullptr && rec.target_len != 0) {
      if (rec.target_off < m_arena_begin || rec.target_off >= m_arena_end ||
          rec.target_len > m_arena_end - rec.target_off)
        return VdirResult::kCorrupt;
      const size_t copy = rec.target_len < target_cap ? rec.target_len : target_cap;
      __builtin_memcpy(target, m_base + rec.target_off, copy);
    }
    return VdirResult::kHit;
  }
  return VdirResult::kMiss;
}

bool VdirReader::read_record(uint64_t off, Record* copy) const {
  const uint64_t* w =
      record_words(static_cast<const Record*>(static_cast<const void*>(m_base + off)));
  uint64_t* dst = record_words(copy);
  for (int spin = 0; spin < kRecordSpins; ++spin) {
    const uint64_t s1 = load_acquire(&w[0]);
    if (s1 & 1) {
      cpu_relax();
      continue;
    }
    dst[0] = s1;
#pragma GCC unroll 16
    for (size_t j = 1; j < kRecordSize / 8; ++j)
      dst[j] = load_relaxed(&w[j]);
    fence_acquire();
    if (load_relaxed(&w[0]) == s1) return true;
  }
  return false;
}

} // namespace vrift::vdir

// The VDir reader: what the shim links. Lock-free lookups over a read-only mapping of a VDir.
//
// Freestanding: no heap, no exceptions, no locks, no libc call (the path compare may use
// memcmp); compiled with -fno-exceptions -fno-rtti. A VdirReader is a plain aggregate that can
// live in static storage without a constructor running. One reader may be used by many threads
// at once: lookups only read the mapping and the reader's own immutable fields.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vrift/vdir/vdir_layout.h"

namespace vrift::vdir {

/// What a lookup found.
enum class VdirResult : int {
  kHit = 0,     ///< *out holds the entry's metadata
  kMiss = 1,    ///< not in the VDir: the shim asks the real filesystem
  kDeleted = 2, ///< a tombstone: the shim answers ENOENT (out->flags is set)
  kBusy = 3,    ///< retries exhausted while the writer kept changing it: use the real filesystem
  kCorrupt = 4, ///< an offset or size is out of range (damaged file, or not attached)
  kStale = 5,   ///< in the VDir, but the stale map says the disk answers for it now
};

/// Why attach() refused a mapping.
enum class VdirAttach : int {
  kOk = 0,
  kTooSmall = 1,   ///< shorter than a header, or than the header says the file is
  kBadMagic = 2,   ///< not a VDir
  kBadVersion = 3, ///< a VDir of another version
  kBadLayout = 4,  ///< sizes or region offsets out of range
};

const char* to_string(VdirResult r);
const char* to_string(VdirAttach a);

/// Retry bounds: a lookup restarts at most kTableRetries times because of a table switch, and
/// waits at most kRecordSpins times for one record's writer (each a CPU pause, ~40 ns).
inline constexpr int kTableRetries = 16;
inline constexpr int kRecordSpins = 1024;

class VdirReader {
public:
  /// Validates the header of a mapping of LEN bytes at BASE (from vdir_map_readonly, or the
  /// writer's own mapping) and remembers the region bounds. The mapping must stay valid while
  /// the reader is used. On failure the reader stays detached and every lookup says kCorrupt.
  VdirAttach attach(const void* base, size_t len);
  void detach() { *this = VdirReader{}; }
  bool attached() const { return m_base != nullptr; }

  /// Adds the session's stale map (a read-write mapping of LEN bytes at BASE, vdir_layout.h),
  /// after attach(): lookups of entries it marks then say kStale, and mark_stale() works. A map
  /// that does not fit this VDir is refused (kBadMagic, kBadVersion, kTooSmall, kBadLayout) and
  /// the reader goes on without one.
  VdirAttach attach_stale(void* base, size_t len);
  /// Marks the entry at PATH (as for lookup) stale for every process of the session: the disk
  /// answers for it from now on. False when there is no stale map or no such entry.
  bool mark_stale(const char* path, size_t len) const;
  /// The stale map's byte of the entry at PATH (kStale* bits, accessed atomically), or nullptr
  /// when there is no stale map or no such entry.
  unsigned char* stale_byte(const char* path, size_t len) const;
  /// Sets kStaleMarked in BYTE (from stale_byte()) and counts it the first time.
  void mark_stale(unsigned char* byte) const;

  /// Looks up PATH (LEN bytes): relative to the projection root, no leading or trailing '/',
  /// no "." or ".." components; the root itself is "" (or "."). On kHit copies the metadata to
  /// *OUT and, if TARGET is given, up to TARGET_CAP bytes of a symlink's target (no NUL; the full
  /// length is out->target_len). Never blocks: see VdirResult.
  VdirResult lookup(const char* path, size_t len, VdirStat* out, char* target = nullptr,
                    size_t target_cap = 0) const;

  /// As lookup(), but an entry the stale map marks is answered too (kHit), as the VDir has it:
  /// for what the shim must still know of a stale entry (its blob, before a write).
  VdirResult lookup_any(const char* path, size_t len, VdirStat* out) const;

  /// The header's generation counter (changes after every mutation), or 0 when detached.
  uint64_t generation() const;
  /// Entries (live + tombstones) as last published, or 0 when detached. Informational.
  uint64_t record_count() const;

private:
  // INDEX, when given, receives the record index of PATH's entry instead of its metadata (the
  // result is then kHit, whatever the entry holds).
  // ANY_STALE: answer entries the stale map marks as if it did not (lookup_any). Inlined into
  // each caller, so that lookup() (the shim's hot path) tests neither INDEX nor ANY_STALE.
  [[gnu::always_inline]] inline VdirResult search(const char* path, size_t len, VdirStat* out,
                                                  char* target, size_t target_cap, uint64_t* index,
                                                  bool any_stale = false) const;
  template <bool kFingerprints>
  [[gnu::always_inline]] inline VdirResult
  probe(uint64_t table_off, uint64_t cap, uint64_t key, const char* path, size_t len, VdirStat* out,
        char* target, size_t target_cap, uint64_t* index, bool any_stale) const;
  [[gnu::always_inline]] inline VdirResult match_slot(uint64_t w, const char* path, size_t len,
                                                      VdirStat* out, char* target,
                                                      size_t target_cap, uint64_t* index,
                                                      bool any_stale) const;
  [[gnu::always_inline]] inline VdirResult read_record(const Record* rec, VdirStat* out,
                                                       char* target, size_t target_cap) const;

  const unsigned char* m_base = nullptr;
  uint64_t m_len = 0;
  uint64_t m_arena_begin = 0; // records and strings must lie inside [begin, end)
  uint64_t m_arena_end = 0;
  uint64_t m_index_begin = 0; // tables must lie inside [begin, end)
  uint64_t m_index_end = 0;
  uint64_t m_seed = 0;
  uint32_t m_hash_fn = 0;
  bool m_fingerprints = false;      // version 2: tables are followed by their fingerprint bytes
  unsigned char* m_stale = nullptr; // the stale map's bytes (one per arena record index), or none
  uint64_t* m_stale_count = nullptr;
};

/// A read-only mapping of a whole VDir file.
struct VdirMapping {
  const void* base = nullptr;
  size_t len = 0;
};

/// Opens PATH read-only and maps the whole file PROT_READ, MAP_SHARED, using raw system calls
/// only (no libc wrapper the shim may interpose). Returns 0, or -errno (-EINVAL if the file is
/// empty). The descriptor is closed before returning.
int vdir_map_readonly(const char* path, VdirMapping* out);
/// Opens the stale map at PATH read-write and maps it whole, MAP_SHARED, the same way (raw calls).
/// Returns 0 or -errno. (The mapping is writable: VdirMapping's base is const only by type.)
int vdir_map_stale(const char* path, VdirMapping* out);
/// Unmaps a mapping made by vdir_map_readonly (no-op on an empty one) and clears it.
void vdir_unmap(VdirMapping* m);

} // namespace vrift::vdir

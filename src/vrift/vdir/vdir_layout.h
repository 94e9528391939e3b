// The VDir's shared-memory layout (normative; docs/vdir.md describes it byte by byte).
//
// One file per session, written only by the daemon, mapped read-only by every shimmed process.
// It is reserved at its full size once (sparse on tmpfs) and never resized, so a reader maps it
// once and never holds a stale mapping. Three regions:
//   [0, 4096)                 Header
//   [arena_off, +arena_size)  Arena: entry records (fixed 128-byte part + the path, 64-aligned)
//                             and symlink targets; append-only, records never move
//   [index_off, +index_size)  Index region: open-addressing tables of 8-byte slots
//                             (key tag | record index), each followed by one fingerprint byte
//                             per slot (version 2); a growth builds a new table here and
//                             switches the header to it
//
// Synchronisation (details in vdir_reader.cpp): every record carries its own seqlock word; the
// header's table_seq is a seqlock over (table_off, table_cap). Shared words are only accessed
// with __atomic builtins, so the protocol is data-race-free. This header is freestanding: no
// libc, no exceptions, no allocation; the shim includes it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vrift::vdir {

inline constexpr char kMagic[8] = {'V', 'R', 'I', 'F', 'T', 'V', 'D', '\0'};
/// Version 2: every table is followed by its fingerprint bytes (one per slot, below). Version 1
/// files (tables of slots only) are still read, and a writer that opens one keeps it version 1.
inline constexpr uint32_t kVersion = 2;
inline constexpr uint32_t kVersionSlotsOnly = 1;
inline constexpr uint32_t kHeaderSize = 4096;
/// Fixed part of a record; the path bytes follow it, then a NUL, padded to kRecordAlign.
inline constexpr uint32_t kRecordSize = 128;
inline constexpr uint32_t kRecordAlign = 64;
inline constexpr uint32_t kSlotSize = 8;
/// Tables start on a page so that a retired one can be punched out of the file.
inline constexpr uint64_t kTableAlign = 4096;
inline constexpr uint64_t kMinTableCap = 16;
inline constexpr uint64_t kMaxTableCap = uint64_t{1} << 32;
/// A slot holds a 32-bit record index, so the arena is at most 2^32 records' alignment units.
inline constexpr uint64_t kMaxArenaSize = (uint64_t{1} << 32) * kRecordAlign;
/// Longest path stored (bytes, no NUL); the same limit as manifests.
inline constexpr uint32_t kMaxPath = 4096;

/// How the path key is computed (Header::hash_fn). Readers follow the file, so the test hook
/// that forces every path onto one key needs no special build.
enum HashFn : uint32_t {
  kHashMum64 = 1,            ///< vdir_hash.h hash_path, seeded by Header::hash_seed (still read)
  kHashConstantForTests = 2, ///< every path gets the same key: each probe relies on the path
  kHashMum64Keyed = 3,       ///< vdir_hash.h hash_path_keyed: what writers use
};

// Entry flags (Record::flags). They occupy bits 16..23 and no other vrift table uses those bits,
// so a flag word read from the wrong table is recognisable (LESSONS 18).
inline constexpr uint32_t kFlagDeleted = 1u << 16;      ///< tombstone: the shim answers ENOENT
inline constexpr uint32_t kFlagDirty = 1u << 17;        ///< changed since the session started
inline constexpr uint32_t kFlagDir = 1u << 18;          ///< a directory (mirrors the mode bits)
inline constexpr uint32_t kFlagSymlink = 1u << 19;      ///< a symlink (mirrors the mode bits)
inline constexpr uint32_t kFlagFromManifest = 1u << 20; ///< filled from the session's manifest
inline constexpr uint32_t kFlagMask = 0x1Fu << 16;

// File-type bits of a mode (the Linux values, repeated so that readers need no libc header).
inline constexpr uint32_t kModeTypeMask = 0170000;
inline constexpr uint32_t kModeReg = 0100000;
inline constexpr uint32_t kModeDir = 0040000;
inline constexpr uint32_t kModeLink = 0120000;

/// The first page of the file. Line 0 is written once at creation; line 1 is read by every
/// lookup and changes only on growth; line 2 holds the writer's counters (lookups never read
/// it, so the writer's frequent stores there do not bounce readers' cache lines).
struct Header {
  // Line 0: immutable after creation.
  char magic[8];        // kMagic
  uint32_t version;     // kVersion
  uint32_t header_size; // kHeaderSize
  uint32_t record_size; // kRecordSize
  uint32_t hash_fn;     // HashFn
  uint64_t file_size;   // bytes reserved (the file's length; readers map all of it)
  uint64_t arena_off;   // == kHeaderSize
  uint64_t arena_size;
  uint64_t index_off; // == arena_off + arena_size, kTableAlign-aligned
  uint64_t index_size;
  // Line 1: the current table, under the table_seq seqlock.
  uint64_t hash_seed; // immutable
  uint64_t table_seq; // odd while the writer switches tables
  uint64_t table_off; // absolute offset of the current table
  uint64_t table_cap; // slots, a power of two
  uint64_t reserved1[4];
  // Line 2: writer counters (relaxed; informational for readers except generation).
  uint64_t record_count; // records in the arena (live + tombstones) == used slots
  uint64_t live_count;   // records without kFlagDeleted
  uint64_t arena_used;   // bytes used from arena_off
  uint64_t index_used;   // bytes used from index_off (all tables ever built)
  uint64_t generation;   // +1 after every mutation (lets readers validate their own caches)
  uint64_t next_ino;     // next synthetic inode number
  uint64_t growths;      // table switches so far
  uint64_t reserved2[1];
  uint8_t pad[kHeaderSize - 192];
};

/// One entry's fixed part (64-aligned in the arena). Words 1..15 are guarded by seq; path_len
/// and key never change once the record is published.
struct Record {
  uint64_t seq;     // even: stable; odd: being written; 0: never published
  uint32_t flags;   // kFlag*
  uint32_t mode;    // type bits | permission bits
  uint64_t size;    // bytes (symlink: target length)
  int64_t mtime_ns; // nanoseconds since the epoch
  int64_t ctime_ns;
  uint64_t ino; // synthetic, unique within the VDir
  uint32_t uid;
  uint32_t gid;
  uint32_t nlink;
  uint32_t path_len;     // the path follows the record: arena bytes [off + 128, + path_len)
  uint8_t blob_hash[32]; // BLAKE3 of the content (files), else zero
  int64_t atime_ns;
  uint64_t target_off; // symlink target: absolute offset in the arena (0: none)
  uint32_t target_len;
  uint32_t reserved;
  uint64_t key; // the path's key (lets a growth rehash without reading paths)
};

/// One index slot: 0 = empty, otherwise (tag << 32) | index, where tag is the high half of the
/// path's key (never 0) and the record is at arena_off + index * kRecordAlign. One word, so one
/// atomic store publishes it; 8 slots share a cache line.
struct Slot {
  uint64_t word;
};

/// The tag a key leaves in its slot (the slot's position comes from the key's low bits).
inline constexpr uint64_t slot_tag(uint64_t key) { return key >> 32 ? key >> 32 : 1; }
inline constexpr uint64_t slot_word(uint64_t key, uint64_t record_index) {
  return slot_tag(key) << 32 | record_index;
}
inline constexpr uint64_t slot_index(uint64_t word) { return word & 0xFFFFFFFFu; }

/// A table of CAP slots is followed by CAP fingerprint bytes (version 2): byte i is 0 while
/// slot i is empty, else the top byte of its key (0 mapped to 1). A probe reads these first, so
/// a miss touches an array an eighth the size of the slots (2 MiB at 1M entries, which stays
/// in cache where the 16 MiB of slots do not), and a slot only when its fingerprint matches.
inline constexpr uint8_t fingerprint(uint64_t key) {
  return key >> 56 ? static_cast<uint8_t>(key >> 56) : uint8_t{1};
}
/// Bytes of the index region a table of CAP slots takes in a file of VERSION.
inline constexpr uint64_t table_bytes(uint64_t cap, uint32_t version) {
  return cap * kSlotSize + (version >= 2 ? cap : 0);
}

static_assert(sizeof(Header) == kHeaderSize);
static_assert(offsetof(Header, hash_seed) == 64 && offsetof(Header, table_cap) == 88);
static_assert(offsetof(Header, record_count) == 128 && offsetof(Header, growths) == 176);
static_assert(sizeof(Record) == kRecordSize && offsetof(Record, blob_hash) == 64);
static_assert(offsetof(Record, atime_ns) == 96 && offsetof(Record, key) == 120);
static_assert(sizeof(Slot) == kSlotSize);
static_assert((kFlagMask & (kFlagDeleted | kFlagDirty | kFlagDir | kFlagSymlink |
                            kFlagFromManifest)) == kFlagMask);

// The stale map (docs/vdir.md, "The stale map"): a second file per session, beside the VDir
// ("<name>.stale" for "<name>.vdir"), which every shimmed process maps read-write. One byte per
// record index of the VDir's arena (a record at arena_off + i * kRecordAlign has byte i): its
// kStaleMarked bit says that a program of the session has changed the entry's file on disk (a
// solid projection's file written, removed, renamed, its mode or times set; an empty directory
// removed), so the disk, not the VDir, now answers for that path. Bits are only ever set; the
// header's count says how many entries are marked, so that a lookup in a session nobody changed
// reads one hot word and no byte. Written by the shims and the daemon, created zero by the
// daemon.
inline constexpr char kStaleMagic[8] = {'V', 'R', 'I', 'F', 'T', 'S', 'T', 'L'};
inline constexpr uint32_t kStaleVersion = 1;
inline constexpr uint32_t kStaleHeaderSize = 4096;

/// The stale map's first page; the bytes follow at kStaleHeaderSize.
struct StaleHeader {
  char magic[8];        // kStaleMagic
  uint32_t version;     // kStaleVersion
  uint32_t header_size; // kStaleHeaderSize
  uint64_t units;       // bytes after the header: the VDir's arena_size / kRecordAlign
  uint64_t count;       // bytes set so far (atomic; only grows)
  uint64_t vdir_seed;   // the VDir's hash_seed: a map is used only with the VDir it was made for
  uint8_t pad[kStaleHeaderSize - 40];
};
static_assert(sizeof(StaleHeader) == kStaleHeaderSize && offsetof(StaleHeader, count) == 24);

// A record's byte in the stale map: bits that only ever get set.
inline constexpr unsigned char kStaleMarked = 1;  ///< the disk answers for the entry
inline constexpr unsigned char kStaleCopying = 2; ///< a process is giving the file its own inode
inline constexpr unsigned char kStaleCopied = 4;  ///< ... and is done (or gave up)

/// Metadata of one entry: what a lookup copies out and what the writer stores.
struct VdirStat {
  VdirStat() = default;
  /// Every byte zero, nlink too: for tables that must be zero-filled (.bss) to stay out of the
  /// library file (the shim's descriptor table was 9 MB of .data with nlink = 1).
  struct Zero {};
  constexpr explicit VdirStat(Zero) : nlink(0) {}
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  int64_t atime_ns = 0;
  uint64_t ino = 0; ///< writer: 0 keeps the entry's inode number, or assigns a new one
  uint32_t mode = 0;
  uint32_t flags = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t nlink = 1;
  uint32_t target_len = 0; ///< reader output only: length of the symlink target
  uint8_t blob_hash[32] = {};
};

// Atomic access to shared words. Everything two processes share goes through these.
template <typename T> inline T load_relaxed(const T* p) {
  return __atomic_load_n(p, __ATOMIC_RELAXED);
}
template <typename T> inline T load_acquire(const T* p) {
  return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
template <typename T> inline void store_relaxed(T* p, T v) {
  __atomic_store_n(p, v, __ATOMIC_RELAXED);
}
template <typename T> inline void store_release(T* p, T v) {
  __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/// A record's fixed part as 16 words (word 0 is the seqlock).
inline const uint64_t* record_words(const Record* r) {
  return static_cast<const uint64_t*>(static_cast<const void*>(r));
}
inline uint64_t* record_words(Record* r) { return static_cast<uint64_t*>(static_cast<void*>(r)); }

/// Bytes a record with a PATH_LEN-byte path occupies in the arena.
inline constexpr uint64_t record_footprint(uint64_t path_len) {
  return (kRecordSize + path_len + 1 + kRecordAlign - 1) / kRecordAlign * kRecordAlign;
}

} // namespace vrift::vdir

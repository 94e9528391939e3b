// The VDir writer: the daemon's side of the shared-memory index (one writer per file).
//
// Creates or reopens a VDir file, fills it from a manifest, and applies the session's mutations
// (upsert, remove as a tombstone, rename of a file or a whole directory) while any number of
// readers in other processes look entries up without locks. A VdirWriter is not thread-safe:
// the daemon serialises mutations of one session. An exclusive flock on the file keeps a second
// writer process out. See vdir_layout.h for the layout and vdir_reader.cpp for the protocol.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "vrift/util/fd.h"
#include "vrift/util/result.h"
#include "vrift/vdir/vdir_layout.h"

namespace vrift {
class Manifest;
}

namespace vrift::vdir {

/// Sizing and policy of a new VDir.
struct VdirOptions {
  uint64_t max_bytes = uint64_t{1} << 30; ///< file size reserved up front (sparse)
  uint64_t index_bytes = 0;               ///< index region; 0 = max_bytes / 8
  uint64_t initial_entries = 1024;        ///< the first table holds this many without growing
  uint32_t max_load_percent = 70;         ///< grow (double) when used slots would pass this
  bool punch_retired_tables = true;       ///< give a replaced table's pages back to tmpfs
  uint32_t hash_fn = kHashMum64Keyed;     ///< kHashConstantForTests makes every path collide
  uint64_t hash_seed = 0;                 ///< 0 = random
  uint32_t file_mode = 0600;
  /// kVersion (tables with fingerprint bytes), or kVersionSlotsOnly: a test hook that writes
  /// the layout files made before session 11 have.
  uint32_t version = kVersion;
};

/// The projection root's own metadata, and the owner shown for every manifest entry.
struct VdirRoot {
  uint32_t mode = 0755; ///< permission bits
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t mtime_ns = 0;
  uint64_t size = 0; ///< the directory's st_size (0: unknown; the shim then says 4096)
};

/// One child of a directory (list_children).
struct VdirChild {
  std::string name; ///< last path component
  uint32_t mode;
  uint32_t flags;
  uint64_t ino;
};

class VdirWriter {
public:
  VdirWriter() = default;
  VdirWriter(VdirWriter&&) noexcept = default;
  VdirWriter& operator=(VdirWriter&&) noexcept = default;

  /// Creates a new VDir at PATH (replacing any file there): writes it under a temporary name,
  /// reserves OPTS.max_bytes, and renames it into place, so readers only ever see a valid file.
  /// Errors: bad options, cannot create/size/map, "locked by another writer".
  static Result<VdirWriter> create(const std::string& path, const VdirOptions& opts = {});
  /// Reopens an existing VDir for writing (a restarted daemon). Validates it like a reader and
  /// rebuilds the in-memory directory index. Errors: cannot open, invalid, locked, interrupted
  /// write found (a record left mid-update: rebuild the VDir instead).
  static Result<VdirWriter> open(const std::string& path);

  /// Inserts PATH or replaces its metadata (a tombstone comes back to life). ST.ino == 0 keeps
  /// the entry's inode number or assigns a fresh one; kFlagDir/kFlagSymlink follow ST.mode;
  /// TARGET is the symlink target. Errors: invalid path, arena or index region full.
  Status upsert(std::string_view path, const VdirStat& st, std::string_view target = {});
  /// Makes PATH a tombstone (lookups say kDeleted, so the shim answers ENOENT), inserting one if
  /// PATH was never there (to hide a real file). Errors as for upsert.
  Status remove(std::string_view path);
  /// Moves FROM (with, for a directory, every live descendant) to TO, keeping inode numbers and
  /// leaving tombstones behind. Errors: FROM missing or deleted (ENOENT), TO inside FROM
  /// (EINVAL), or as for upsert. POSIX checks (non-empty target directory...) are the caller's.
  Status rename(std::string_view from, std::string_view to);
  /// Inserts the projection root ("") and every manifest entry: mode = type | permissions,
  /// times = the manifest mtime, owner from ROOT, directory nlink = 2 + subdirectories, flags
  /// kFlagFromManifest. Sizes the table first so that the fill does not grow it.
  Status fill_from_manifest(const Manifest& m, const VdirRoot& root);
  /// Creates this VDir's stale map at PATH (vdir_layout.h: all bytes zero; the pages of the
  /// records written so far and of 65,536 more allocated, the rest sparse), mode 0600, written
  /// under a temporary name and renamed into place, replacing any file there.
  Status create_stale_map(const std::string& path) const;
  /// Grows the table now so that ENTRIES records in total fit below the load limit.
  Status reserve(uint64_t entries);

  /// The writer's own view of PATH: false if absent (a tombstone is returned, with its flag).
  bool get(std::string_view path, VdirStat* out, std::string* target = nullptr) const;
  /// Live (not deleted) children of directory DIR ("" = root), sorted by name. Built from an
  /// in-memory index; the shim would get this over the socket (docs/vdir.md).
  std::vector<VdirChild> list_children(std::string_view dir) const;

  uint64_t record_count() const { return m_count; }
  uint64_t live_count() const { return m_live; }
  uint64_t capacity() const { return m_cap; }
  uint64_t growths() const { return m_growths; }
  uint64_t arena_used() const { return m_arena_used; }
  const std::string& path() const { return m_path; }
  /// The writer's mapping (read-write), e.g. for a reader in the same process.
  const void* data() const { return m_map.base; }
  size_t size() const { return m_map.len; }

private:
  /// Owns the read-write mapping of the whole file.
  struct Mapping {
    unsigned char* base = nullptr;
    size_t len = 0;
    Mapping() = default;
    Mapping(Mapping&& o) noexcept;
    Mapping& operator=(Mapping&& o) noexcept;
    ~Mapping();
  };

  Status map_file(int fd, uint64_t len);
  Header* hdr() const { return static_cast<Header*>(static_cast<void*>(m_map.base)); }
  Record* record(uint64_t off) const {
    return static_cast<Record*>(static_cast<void*>(m_map.base + off));
  }
  Slot* slots_at(uint64_t off) const {
    return static_cast<Slot*>(static_cast<void*>(m_map.base + off));
  }
  std::string_view record_path(uint64_t off) const;
  uint64_t key_of(std::string_view path) const;
  uint64_t find(uint64_t key, std::string_view path) const; // record offset, 0 if absent
  Result<uint64_t> append(uint64_t bytes, uint64_t align);  // arena offset
  Status load_state(const std::string& ctx);
  Status ensure_room_for_one();
  Status grow_to(uint64_t cap);
  uint8_t* fingerprints_of(uint64_t table_off, uint64_t cap) const {
    return m_map.base + table_off + cap * kSlotSize;
  }
  /// Stores slot I of the current table: the slot word, then (version 2) its fingerprint, each
  /// with release, so that a reader who sees the fingerprint sees the slot and its record.
  void publish_slot(Slot* t, uint8_t* fps, uint64_t i, uint64_t word, uint64_t key);
  Result<uint64_t> insert_record(std::string_view path, uint64_t key, const Record& fields);
  Result<uint64_t> place_target(std::string_view target, const Record* old);
  void write_fields(Record* r, const Record& v);
  void publish_counters();
  void index_child(uint64_t off);

  std::string m_path;
  UniqueFd m_fd; // holds the writer's flock
  Mapping m_map;
  uint32_t m_hash_fn = kHashMum64Keyed;
  uint32_t m_version = kVersion;
  uint64_t m_seed = 0;
  uint32_t m_max_load = 70;
  bool m_punch = true;
  uint64_t m_arena_off = 0, m_arena_size = 0, m_index_off = 0, m_index_size = 0;
  uint64_t m_table_off = 0, m_cap = 0;
  uint64_t m_count = 0, m_live = 0, m_arena_used = 0, m_index_used = 0;
  uint64_t m_generation = 0, m_next_ino = 1, m_growths = 0;
  /// Parent directory path -> record offsets of its children (tombstones included; records
  /// never move, so the offsets stay valid).
  std::unordered_map<std::string, std::vector<uint64_t>> m_children;
};

} // namespace vrift::vdir

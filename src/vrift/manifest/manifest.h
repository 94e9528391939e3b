// Manifests: one versioned binary format describing a directory tree (see docs/manifest-format.md).
//
// On disk (all integers little-endian; the file is read by mmap and validated once on load):
//   Header  (128 bytes, struct ManifestHeader)
//   Entries (entry_count x 80 bytes, struct ManifestEntryRaw), sorted by path (bytewise), unique
//   String arena (strings_size bytes): the origin, then each entry's path and symlink target,
//     in that order, each NUL-terminated, no gaps (so the file has one encoding per tree)
//   The header's body_checksum is BLAKE3 over every byte after the header.
// The manifest id is BLAKE3 over a canonical form that leaves out timestamps and the origin:
// same tree (paths, types, modes, contents, symlink targets) => same id.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vrift/hash/blake3.h"
#include "vrift/util/result.h"

namespace vrift {

enum class EntryType : uint8_t { File = 1, Dir = 2, Symlink = 3 };
const char* entry_type_name(EntryType t);

inline constexpr char kManifestMagic[8] = {'V', 'R', 'I', 'F', 'T', 'M', 'F', '\0'};
inline constexpr uint32_t kManifestVersion = 1;
inline constexpr uint32_t kManifestHeaderSize = 128;
inline constexpr uint32_t kManifestEntrySize = 80;
/// Longest relative path accepted (bytes, excluding the NUL).
inline constexpr uint32_t kMaxManifestPath = 4096;

#pragma pack(push, 1)
struct ManifestHeader {
  char magic[8];        // kManifestMagic
  uint32_t version;     // kManifestVersion
  uint32_t header_size; // kManifestHeaderSize
  uint32_t entry_size;  // kManifestEntrySize
  uint32_t flags;       // 0 (reserved)
  uint64_t entry_count;
  uint64_t strings_size;     // bytes of the string arena
  uint64_t file_size;        // header + entries + strings: the exact length of the file
  uint32_t origin_off;       // the directory the tree was ingested from (absolute), in the arena
  uint32_t origin_len;       //   (0/0: none)
  uint8_t id[32];            // manifest id (canonical form, see manifest_id())
  uint8_t body_checksum[32]; // BLAKE3 over bytes [header_size, file_size)
  uint8_t reserved[128 - 8 - 4 * 4 - 8 * 3 - 4 * 2 - 32 - 32];
};
struct ManifestEntryRaw {
  uint32_t path_off; // into the arena; path is relative, '/'-separated
  uint32_t path_len;
  uint32_t target_off; // symlink target (0/0 otherwise)
  uint32_t target_len;
  uint8_t type; // EntryType
  uint8_t reserved0[3];
  uint32_t mode;        // permission bits (07777) only
  uint64_t size;        // file: content bytes; symlink: target length; dir: 0
  int64_t mtime_ns;     // nanoseconds since the epoch
  uint8_t hash[32];     // file: BLAKE3 of the content; otherwise zero
  uint8_t reserved1[8]; // zero (pads the record to 80 bytes, keeping 8-byte alignment)
};
#pragma pack(pop)
static_assert(sizeof(ManifestHeader) == kManifestHeaderSize);
static_assert(sizeof(ManifestEntryRaw) == kManifestEntrySize);

/// One entry, owning its strings: what writers build.
struct ManifestEntry {
  std::string path;
  EntryType type = EntryType::File;
  uint32_t mode = 0644;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  Hash hash;          ///< files only
  std::string target; ///< symlinks only
};

/// A view of one entry inside a loaded manifest (valid while the Manifest lives).
struct EntryView {
  std::string_view path;
  std::string_view target;
  EntryType type;
  uint32_t mode;
  uint64_t size;
  int64_t mtime_ns;
  const uint8_t* hash; ///< 32 bytes
  Hash hash_value() const;
};

/// Checks one relative path: non-empty, no leading '/', no empty, "." or ".." component, no
/// trailing '/', no NUL, at most kMaxManifestPath bytes. Returns an error naming the problem.
Status validate_manifest_path(std::string_view path);

/// The manifest id of a sorted, validated entry list.
Hash manifest_id(const std::vector<ManifestEntry>& sorted_entries);

/// Serialises a tree. Sorts ENTRIES by path, rejects invalid or duplicate paths and entries whose
/// parent directory is missing, and returns the exact bytes (deterministic for the same input).
Result<std::string> serialize_manifest(std::vector<ManifestEntry> entries, std::string_view origin);

/// serialize_manifest + fs::write_file_atomic: a crash leaves the old file or the new one.
/// Errors start with "writing manifest 'PATH'"; a missing output directory is named as such.
Status write_manifest(const std::string& path, std::vector<ManifestEntry> entries,
                      std::string_view origin);

/// A loaded, validated manifest (mmap of the file, or an owned buffer).
class Manifest {
public:
  Manifest() = default;
  Manifest(Manifest&&) noexcept;
  Manifest& operator=(Manifest&&) noexcept;
  Manifest(const Manifest&) = delete;
  Manifest& operator=(const Manifest&) = delete;
  ~Manifest();

  /// Maps and validates a file. Errors (one line each): cannot open, bad magic, unsupported
  /// version, truncated / sizes that disagree, checksum mismatch, unsafe path (absolute, "..",
  /// empty component), duplicate or unsorted paths, unknown entry type, missing parent directory.
  /// Every error starts with "loading manifest 'PATH': ".
  static Result<Manifest> open(const std::string& path);
  /// Like open(), for a reader that relies on someone else's full check of the same file (vrift
  /// run, whose daemon validates every manifest it opens a session for): the header, the bounds
  /// of every string and the safety of every directory's path are checked, not the checksum,
  /// order, parents or id. At most a wrong answer from find() on a damaged file, never a read
  /// out of bounds.
  static Result<Manifest> open_shallow(const std::string& path);
  /// Like open_shallow(), with the entries checked only when asked for: the header, the origin
  /// and the first entry now (size() is then at most 1), the rest by load_entries(). For vrift
  /// run, which with a warm session needs no more than the origin (~1 ms less on 10k entries).
  static Result<Manifest> open_lazy(const std::string& path);
  /// Checks the remaining entries of an open_lazy() manifest as open_shallow() does; afterwards
  /// size() is the entry count. Does nothing when they are checked already.
  Status load_entries();
  bool entries_loaded() const { return !m_lazy; }
  /// Same validation over bytes held in memory (copied); errors carry no file context.
  static Result<Manifest> from_bytes(std::string_view bytes);

  size_t size() const { return m_count; }
  /// Entry I (I < size()), in path order.
  EntryView at(size_t i) const;
  /// Binary search by exact path.
  std::optional<size_t> find(std::string_view path) const;
  Hash id() const;
  std::string_view origin() const;
  /// The raw bytes (header included).
  std::string_view bytes() const { return {m_data, m_len}; }
  /// Copies every entry out (for rewriting).
  std::vector<ManifestEntry> entries() const;

private:
  enum class Check { Full, Shallow, Lazy };
  Status validate(Check how = Check::Full);
  static Result<Manifest> map_file(const std::string& path, Check how);
  const char* m_data = nullptr;
  size_t m_len = 0;
  size_t m_count = 0;   ///< entries checked, and so accessible
  size_t m_records = 0; ///< entries in the file (the string arena follows their records)
  bool m_mapped = false;
  bool m_lazy = false; ///< open_lazy(): only the first entry is checked (and counted) yet
  std::string m_owned;
};

/// One difference between two manifests.
struct DiffItem {
  enum Kind { Added, Removed, Modified } kind;
  std::string path;
  std::string what; ///< for Modified: "content", "mode 644->755", "type file->symlink", "target"
};
/// Differences from A to B in path order (timestamps alone are not a difference).
std::vector<DiffItem> diff_manifests(const Manifest& a, const Manifest& b);

} // namespace vrift

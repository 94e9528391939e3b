// Test helpers for manifests: entry builders, a sample tree, and an independent raw encoder
// that writes entries in any order with no checks (to craft files that pass the checksum and id
// checks but break one specific rule). Also used by the fuzz corpus generator.
#pragma once

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "vrift/hash/blake3.h"
#include "vrift/manifest/manifest.h"

namespace vrift::testing {

inline constexpr int64_t kSomeMtime = 1767323045123456789; // 2026-01-02T03:04:05.123456789Z

inline ManifestEntry file_entry(std::string path, std::string_view content, uint32_t mode = 0644,
                                int64_t mtime = kSomeMtime) {
  ManifestEntry e;
  e.path = std::move(path);
  e.type = EntryType::File;
  e.mode = mode;
  e.size = content.size();
  e.mtime_ns = mtime;
  e.hash = blake3(content);
  return e;
}

inline ManifestEntry dir_entry(std::string path, uint32_t mode = 0755, int64_t mtime = kSomeMtime) {
  ManifestEntry e;
  e.path = std::move(path);
  e.type = EntryType::Dir;
  e.mode = mode;
  e.mtime_ns = mtime;
  return e;
}

inline ManifestEntry link_entry(std::string path, std::string target, int64_t mtime = kSomeMtime) {
  ManifestEntry e;
  e.path = std::move(path);
  e.type = EntryType::Symlink;
  e.mode = 0777;
  e.size = target.size();
  e.mtime_ns = mtime;
  e.target = std::move(target);
  return e;
}

/// A small tree with every entry type, nesting, an empty directory and a setuid mode.
inline std::vector<ManifestEntry> sample_tree() {
  return {dir_entry("src"),
          file_entry("src/main.c", "int main(void) { return 0; }\n"),
          file_entry("src/util.h", "#pragma once\n", 0600),
          dir_entry("src/empty", 0700),
          link_entry("src/link", "main.c"),
          file_entry("README", "hello\n"),
          file_entry("run.sh", "#!/bin/sh\n", 04755),
          dir_entry("docs"),
          link_entry("docs/up", "../README")};
}

/// Encodes ENTRIES in the given order, with no validation, exactly as the format lays them out
/// (origin first in the arena, then each path and target); the id and checksum are computed
/// over what was written, so they are valid whatever the entries hold.
inline std::string encode_raw(const std::vector<ManifestEntry>& entries, std::string_view origin) {
  std::string arena;
  auto place = [&](std::string_view s, uint32_t& off, uint32_t& len) {
    off = len = 0;
    if (s.empty()) return;
    off = static_cast<uint32_t>(arena.size());
    len = static_cast<uint32_t>(s.size());
    arena.append(s);
    arena.push_back('\0');
  };
  ManifestHeader h{};
  std::memcpy(h.magic, kManifestMagic, sizeof h.magic);
  h.version = kManifestVersion;
  h.header_size = kManifestHeaderSize;
  h.entry_size = kManifestEntrySize;
  uint32_t off = 0, len = 0;
  place(origin, off, len);
  h.origin_off = off;
  h.origin_len = len;
  std::string records;
  for (const auto& e : entries) {
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
    std::memcpy(r.hash, e.hash.bytes.data(), sizeof r.hash);
    records.append(reinterpret_cast<const char*>(&r), sizeof r);
  }
  h.entry_count = entries.size();
  h.strings_size = arena.size();
  h.file_size = kManifestHeaderSize + records.size() + arena.size();
  Hash id = manifest_id(entries);
  std::memcpy(h.id, id.bytes.data(), sizeof h.id);
  std::string out(reinterpret_cast<const char*>(&h), sizeof h);
  out += records;
  out += arena;
  Hash sum = blake3(out.data() + kManifestHeaderSize, out.size() - kManifestHeaderSize);
  std::memcpy(out.data() + offsetof(ManifestHeader, body_checksum), sum.bytes.data(), 32);
  return out;
}

/// Recomputes the body checksum after a test edited the bytes (header intact enough to say
/// where the body starts).
inline void reseal(std::string& bytes) {
  Hash sum = blake3(bytes.data() + kManifestHeaderSize, bytes.size() - kManifestHeaderSize);
  std::memcpy(bytes.data() + offsetof(ManifestHeader, body_checksum), sum.bytes.data(), 32);
}

/// Reads or writes a little-endian integer field at OFFSET (tests poke at header fields).
template <typename T> T peek(const std::string& bytes, size_t offset) {
  T v;
  std::memcpy(&v, bytes.data() + offset, sizeof v);
  return v;
}
template <typename T> void poke(std::string& bytes, size_t offset, T v) {
  std::memcpy(bytes.data() + offset, &v, sizeof v);
}

} // namespace vrift::testing

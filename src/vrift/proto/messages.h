// One struct per message type: its fields and, in fields(), its schema in wire order. The
// encoder, the decoder and the size bound all walk that one schema (codec.cpp), so they cannot
// disagree. String fields are views: after decode() they point into the frame's buffer and
// stay valid only while it does. Freestanding (no heap, no exceptions).
//
// A schema is a sequence of visitor calls: u16/u32/u64/i64 for plain integers, session (a u64
// that is not 0), mode (a u32 within 07777), flags (a u32 within a mask), hash (32 bytes),
// relpath/abspath/target/text for strings (docs/protocol.md section 5), and check(cond) for a
// rule spanning fields, evaluated after the fields before it.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "vrift/proto/wire.h"

namespace vrift::proto {

using Hash32 = std::array<uint8_t, kHashSize>;

// Declares the members every message has: its type and value equality.
#define VRIFT_PROTO_MESSAGE(Name)                                                                  \
  static constexpr MsgType kType = MsgType::Name;                                                  \
  bool operator==(const Name&) const = default

/// HELLO: the client's greeting. May grow at its end (decoders ignore trailing bytes).
struct Hello {
  VRIFT_PROTO_MESSAGE(Hello);
  static constexpr bool kExtensible = true;
  uint16_t min_version = kMinProtocolVersion;
  uint16_t max_version = kProtocolVersion;
  Role role = Role::Test;
  uint32_t max_frame = kMaxFrameSize; ///< the largest frame the sender accepts
  uint64_t capabilities = 0;
  uint32_t pid = 0;
  template <class V, class Self> static constexpr void fields(V& v, Self& m) {
    v.u16(m.min_version);
    v.u16(m.max_version);
    v.enum16(m.role);
    v.u32(m.max_frame);
    v.u64(m.capabilities);
    v.u32(m.pid);
    v.check(m.min_version >= 1 && m.min_version <= m.max_version && m.max_frame >= kMinFrameLimit);
  }
};

/// HELLO_REPLY: the daemon's answer: the version and capabilities both sides now use; then,
/// with kCapHelloStore (`has_store`), the store the daemon serves (STATUS_REPLY's
/// `store_root`), so that `vrift run` can check it is its own without a STATUS round trip.
struct HelloReply {
  VRIFT_PROTO_MESSAGE(HelloReply);
  static constexpr bool kExtensible = true;
  uint16_t version = kProtocolVersion;
  Role role = Role::Daemon;
  uint32_t max_frame = kMaxFrameSize;
  uint64_t capabilities = 0;
  uint32_t pid = 0;
  bool has_store = false; ///< not a field: whether the optional tail is (to be) present
  std::string_view store_root{};
  template <class V, class Self> static constexpr void fields(V& v, Self& m) {
    v.u16(m.version);
    v.enum16(m.role);
    v.u32(m.max_frame);
    v.u64(m.capabilities);
    v.u32(m.pid);
    v.check(m.version >= 1 && m.max_frame >= kMinFrameLimit);
    v.optional_tail(m.has_store);
    v.abspath(m.store_root);
  }
};

// Requests and replies without fields.
#define VRIFT_PROTO_EMPTY_MESSAGE(Name)                                                            \
  struct Name {                                                                                    \
    VRIFT_PROTO_MESSAGE(Name);                                                                     \
    template <class V, class Self> static constexpr void fields(V&, Self&) {}                      \
  }
VRIFT_PROTO_EMPTY_MESSAGE(Ping);        ///< -> OK
VRIFT_PROTO_EMPTY_MESSAGE(StatusQuery); ///< STATUS -> STATUS_REPLY
VRIFT_PROTO_EMPTY_MESSAGE(Shutdown);    ///< -> OK, then the daemon stops
VRIFT_PROTO_EMPTY_MESSAGE(OkReply);     ///< the reply of requests that return nothing
#undef VRIFT_PROTO_EMPTY_MESSAGE

/// SESSION_OPEN flags (the optional tail, with kCapTreeWatch).
inline constexpr uint32_t kOpenWatchTree = 1u << 0; ///< watch the files too (zero-config runs):
                                                    ///< kSessionTreeClean can then be answered
inline constexpr uint32_t kOpenFlagsMask = kOpenWatchTree;

/// SESSION_OPEN: project `manifest` at `root` (both canonical absolute paths). Then, only with
/// kCapTreeWatch (`has_tail`): `flags`, and `unchanged_before_ns`: with kOpenWatchTree, a time
/// (CLOCK_REALTIME, ns) before which the walk that wrote the manifest began, so that the daemon
/// can check nothing in the tree changed since (0: no walk was made for this open). Then, only
/// with kCapWalkedId as well (`has_walked_id`): `walked_id`, the id of the manifest that walk
/// produced. The daemon takes the walk's time as the age of the tree it opened only when that
/// tree is this manifest: another run's walk may have replaced the file since (docs/run.md).
struct SessionOpen {
  VRIFT_PROTO_MESSAGE(SessionOpen);
  std::string_view root, manifest;
  bool has_tail = false; ///< not a field: whether the optional tail is (to be) present
  uint32_t flags = 0;
  uint64_t unchanged_before_ns = 0;
  bool has_walked_id = false; ///< not a field: whether the second tail is (to be) present
  Hash32 walked_id{};
  template <class V, class Self> static constexpr void fields(V& v, Self& m) {
    v.abspath(m.root);
    v.abspath(m.manifest);
    v.optional_tail(m.has_tail);
    v.flags(m.flags, kOpenFlagsMask);
    v.u64(m.unchanged_before_ns);
    v.optional_tail(m.has_walked_id);
    v.hash(m.walked_id);
  }
};

/// SESSION_REPLY flags.
inline constexpr uint32_t kSessionSkeletonClean = 1u << 0; ///< every directory of the session's
                                                           ///< tree exists under its root, and the
                                                           ///< daemon has watched them since
inline constexpr uint32_t kSessionTreeClean = 1u << 1; ///< (asked with kOpenWatchTree) and every
                                                       ///< entry is on disk as the tree has it:
                                                       ///< checked, and watched since
inline constexpr uint32_t kSessionFlagsMask = kSessionSkeletonClean | kSessionTreeClean;

/// SESSION_REPLY: the session id, its entry count and the VDir file the shim maps; then, only
/// with kCapSessionFlags (`has_flags`), what the daemon knows of the session's skeleton.
struct SessionReply {
  VRIFT_PROTO_MESSAGE(SessionReply);
  uint64_t session = 0;
  uint64_t entry_count = 0;
  std::string_view vdir_path;
  bool has_flags = false; ///< not a field: whether the optional tail is (to be) present
  uint32_t flags = 0;
  template <class V, class Self> static constexpr void fields(V& v, Self& m) {
    v.session(m.session);
    v.u64(m.entry_count);
    v.abspath(m.vdir_path);
    v.optional_tail(m.has_flags);
    v.flags(m.flags, kSessionFlagsMask);
  }
};

/// SESSION_CLOSE: releases this connection's reference to a session.
struct SessionClose {
  VRIFT_PROTO_MESSAGE(SessionClose);
  uint64_t session = 0;
  template <class V, class Self> static constexpr void fields(V& v, Self& m) {
    v.session(m.session);
  }
};

/// SESSION_LEASE (with kCapSessionLease): keep every session this connection holds for as long
/// as the connecting process lives, even after the connection closes (vrift run then becomes
/// CMD by exec, and the daemon watches a pidfd of it). -> OK
struct SessionLease {
  VRIFT_PROTO_MESSAGE(SessionLease);
  template <class V, class Self> static constexpr void fields(V&, Self&) {}
};

/// COMMIT: `staging` now holds the whole new content of `path`.
struct Commit {
  VRIFT_PROTO_MESSAGE(Commit);
  uint64_t session = 0;
  std::string_view path, staging;
  template <class V, class Self> static constexpr void fields(V& v, Self& m) {
    v.session(m.session);
    v.relpath(m.path);
    v.abspath(m.staging);
  }
};

/// COMMIT_REPLY: sent once the blob, the VDir and the manifest are durable.
struct CommitReply {
  VRIFT_PROTO_MESSAGE(CommitReply);
  Hash32 hash{};
  uint64_t size = 0;
  template <class V, class Self> static constexpr void fields(V& v, Self& m) {
    v.hash(m.hash);
    v.u64(m.size);
  }
};

// Mutations with one path and nothing else.
#define VRIFT_PROTO_PATH_MESSAGE(Name)                                                             \
  struct Name {                                                                                    \
    VRIFT_PROTO_MESSAGE(Name);                                                                     \
    uint64_t session = 0;                                                                          \
    std::string_view path;                                                                         \
    template <class V, class Self> static constexpr void fields(V& v, Self& m) {                   \
      v.session(m.session);                                                                        \
      v.relpath(m.path);                                                                           \
    }                                                                                              \
  }
VRIFT_PROTO_PATH_MESSAGE(Unlink);
VRIFT_PROTO_PATH_MESSAGE(Rmdir);
#undef VRIFT_PROTO_PATH_MESSAGE

/// RENAME from -> to; flags: kRenameNoReplace or kRenameExchange (not both).
struct Rename {
  VRIFT_PROTO_MESSAGE(Rename);
  uint64_t session = 0;
  uint32_t flags = 0;
  std::string_view from, to;
  template <class V, class Self> static constexpr void fields(V& v, Self& m) {
    v.session(m.session);
    v.flags(m.flags, kRenameNoReplace | kRenameExchange);
    v.relpath(m.from);
    v.relpath(m.to);
    v.check(m.flags != (kRenameNoReplace | kRenameExchange));
  }
};

struct Mkdir {
  VRIFT_PROTO_MESSAGE(Mkdir);
  uint64_t session = 0;
  uint32_t mode = 0;
  std::string_view path;
  template <class V, class Self> static constexpr void fields(V& v, Self& m) {
    v.session(m.session);
    v.mode(m.mode);
    v.relpath(m.path);
  }
};

/// CHMOD; flags: kNoFollow.
struct Chmod {
  VRIFT_PROTO_MESSAGE(Chmod);
  uint64_t session = 0;
  uint32_t mode = 0;
  uint32_t flags = 0;
  std::string_view path;
  template <class V, class Self> static constexpr void fields(V& v, Self& m) {
    v.session(m.session);
    v.mode(m.mode);
    v.flags(m.flags, kNoFollow);
    v.relpath(m.path);
  }
};

/// UTIMENS: times in ns since the epoch, or kTimeNow / kTimeOmit; flags: kNoFollow.
struct Utimens {
  VRIFT_PROTO_MESSAGE(Utimens);
  uint64_t session = 0;
  int64_t atime_ns = kTimeOmit;
  int64_t mtime_ns = kTimeOmit;
  uint32_t flags = 0;
  std::string_view path;
  template <class V, class Self> static constexpr void fields(V& v, Self& m) {
    v.session(m.session);
    v.i64(m.atime_ns);
    v.i64(m.mtime_ns);
    v.flags(m.flags, kNoFollow);
    v.relpath(m.path);
  }
};

/// TRUNCATE to `length` bytes (at most INT64_MAX).
struct Truncate {
  VRIFT_PROTO_MESSAGE(Truncate);
  uint64_t session = 0;
  uint64_t length = 0;
  std::string_view path;
  template <class V, class Self> static constexpr void fields(V& v, Self& m) {
    v.session(m.session);
    v.u64(m.length);
    v.relpath(m.path);
    v.check(m.length <= static_cast<uint64_t>(INT64_MAX));
  }
};

/// SYMLINK: create `path` as a symlink holding `target` (any bytes but NUL).
struct Symlink {
  VRIFT_PROTO_MESSAGE(Symlink);
  uint64_t session = 0;
  std::string_view target, path;
  template <class V, class Self> static constexpr void fields(V& v, Self& m) {
    v.session(m.session);
    v.target(m.target);
    v.relpath(m.path);
  }
};

/// LINK: hard link `to` naming the same file as `from`; flags: kLinkFollow.
struct Link {
  VRIFT_PROTO_MESSAGE(Link);
  uint64_t session = 0;
  uint32_t flags = 0;
  std::string_view from, to;
  template <class V, class Self> static constexpr void fields(V& v, Self& m) {
    v.session(m.session);
    v.flags(m.flags, kLinkFollow);
    v.relpath(m.from);
    v.relpath(m.to);
  }
};

/// STATUS_REPLY: what `vrift daemon status` shows.
struct StatusReply {
  VRIFT_PROTO_MESSAGE(StatusReply);
  uint32_t pid = 0;
  uint32_t sessions = 0;
  uint32_t connections = 0;
  uint64_t uptime_ns = 0;
  uint64_t vdir_entries = 0;
  uint64_t commits = 0;
  uint64_t mutations = 0;
  uint64_t rss_bytes = 0;
  std::string_view version;    ///< the daemon's build version, e.g. "0.1.0"
  std::string_view store_root; ///< the store it serves (path authority agreement)
  template <class V, class Self> static constexpr void fields(V& v, Self& m) {
    v.u32(m.pid);
    v.u32(m.sessions);
    v.u32(m.connections);
    v.u64(m.uptime_ns);
    v.u64(m.vdir_entries);
    v.u64(m.commits);
    v.u64(m.mutations);
    v.u64(m.rss_bytes);
    v.text(m.version, kMaxVersionLen);
    v.abspath(m.store_root);
  }
};

/// ERROR: a kind (not 0) and one line of text.
struct ErrorReply {
  VRIFT_PROTO_MESSAGE(ErrorReply);
  ErrorKind kind = ErrorKind::Internal;
  std::string_view message;
  template <class V, class Self> static constexpr void fields(V& v, Self& m) {
    v.enum16(m.kind);
    v.text(m.message, kMaxMessageLen);
    v.check(static_cast<uint16_t>(m.kind) != 0);
  }
};

#undef VRIFT_PROTO_MESSAGE

/// Every message struct, for X-macros: X(Name) where Name is both the struct and the MsgType.
#define VRIFT_PROTO_MESSAGES(X)                                                                    \
  X(Hello)                                                                                         \
  X(Ping)                                                                                          \
  X(StatusQuery)                                                                                   \
  X(Shutdown)                                                                                      \
  X(SessionOpen)                                                                                   \
  X(SessionClose)                                                                                  \
  X(SessionLease)                                                                                  \
  X(Commit)                                                                                        \
  X(Unlink)                                                                                        \
  X(Rename)                                                                                        \
  X(Mkdir)                                                                                         \
  X(Rmdir)                                                                                         \
  X(Chmod)                                                                                         \
  X(Utimens)                                                                                       \
  X(Truncate)                                                                                      \
  X(Symlink)                                                                                       \
  X(Link)                                                                                          \
  X(OkReply)                                                                                       \
  X(HelloReply)                                                                                    \
  X(StatusReply)                                                                                   \
  X(SessionReply)                                                                                  \
  X(CommitReply)                                                                                   \
  X(ErrorReply)

} // namespace vrift::proto

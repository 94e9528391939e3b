// The vrift wire protocol: frame layout, message types, error kinds, limits and timeouts
// (docs/protocol.md is the prose for all of it). Freestanding: no heap, no exceptions, no
// std::string, so the shim can use it; every function here is noexcept and allocation-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace vrift::proto {

// ---- Versions and limits ------------------------------------------------------------------

inline constexpr uint16_t kProtocolVersion = 1;    ///< the newest version this build speaks
inline constexpr uint16_t kMinProtocolVersion = 1; ///< the oldest version this build speaks

/// Capability bits (HELLO / HELLO_REPLY `capabilities`; docs/protocol.md section 9).
inline constexpr uint64_t kCapSessionFlags = 1u << 0; ///< SESSION_REPLY carries `flags`
inline constexpr uint64_t kCapSessionLease = 1u << 1; ///< SESSION_LEASE is understood
inline constexpr uint64_t kCapHelloStore = 1u << 2;   ///< HELLO_REPLY names the daemon's store
inline constexpr uint64_t kCapTreeWatch = 1u << 3;    ///< SESSION_OPEN's tail: watch the tree
inline constexpr uint64_t kCapWalkedId = 1u << 4;     ///< SESSION_OPEN's second tail: the walk's
                                                      ///< manifest id
/// Every capability this build supports.
inline constexpr uint64_t kCapabilities =
    kCapSessionFlags | kCapSessionLease | kCapHelloStore | kCapTreeWatch | kCapWalkedId;

inline constexpr uint32_t kMagic = 0x31505256; ///< the bytes "VRP1" read as a little-endian u32
inline constexpr size_t kHeaderSize = 16;
inline constexpr uint32_t kMaxFrameSize = 65536;  ///< header + payload, absolute ceiling
inline constexpr uint32_t kMinFrameLimit = 16384; ///< a peer's max_frame may not be lower
inline constexpr size_t kMaxPathLen = 4096;       ///< relpath, abspath and symlink target
inline constexpr size_t kMaxMessageLen = 1024;    ///< ERROR message text
inline constexpr size_t kMaxVersionLen = 64;      ///< STATUS_REPLY version text
inline constexpr size_t kHashSize = 32;           ///< BLAKE3

// ---- Timeouts (milliseconds), docs/protocol.md section 7 -----------------------------------

inline constexpr int kShimConnectTimeoutMs = 50; ///< connect + HELLO round trip, together
inline constexpr int kShimRetryDelayMs = 1000;   ///< no new attempt sooner after a failure
inline constexpr int kShimRequestTimeoutMs = 2000;
inline constexpr int kCommitTimeoutMs = 60000;
inline constexpr int kCliConnectTimeoutMs = 1000;
inline constexpr int kCliRequestTimeoutMs = 10000;
inline constexpr int kServerHelloTimeoutMs = 1000;
inline constexpr int kServerFrameTimeoutMs = 5000; ///< rest of a started frame; a reply's send

// ---- Message types ------------------------------------------------------------------------

/// Requests have bit 15 clear, replies have it set.
enum class MsgType : uint16_t {
  Hello = 0x0001,
  Ping = 0x0002,
  StatusQuery = 0x0003,
  Shutdown = 0x0004,
  SessionOpen = 0x0010,
  SessionClose = 0x0011,
  SessionLease = 0x0012,
  Commit = 0x0020,
  Unlink = 0x0021,
  Rename = 0x0022,
  Mkdir = 0x0023,
  Rmdir = 0x0024,
  Chmod = 0x0025,
  Utimens = 0x0026,
  Truncate = 0x0027,
  Symlink = 0x0028,
  Link = 0x0029,
  OkReply = 0x8000,
  HelloReply = 0x8001,
  StatusReply = 0x8003,
  SessionReply = 0x8010,
  CommitReply = 0x8020,
  ErrorReply = 0xFFFF,
};

constexpr bool is_reply(MsgType t) { return (static_cast<uint16_t>(t) & 0x8000u) != 0; }
constexpr bool is_request(MsgType t) { return !is_reply(t); }
/// True for the types listed above (the decoder rejects every other value).
bool is_known_type(MsgType t) noexcept;
/// The wire name, e.g. "COMMIT"; "unknown" for other values.
const char* type_name(MsgType t) noexcept;

/// Roles announced in HELLO (informational).
enum class Role : uint16_t { Cli = 1, Shim = 2, Daemon = 3, Test = 4 };

// Per-message flag bits (docs/protocol.md section 5).
inline constexpr uint32_t kRenameNoReplace = 1;
inline constexpr uint32_t kRenameExchange = 2;
inline constexpr uint32_t kNoFollow = 1;   ///< CHMOD, UTIMENS: act on a final symlink itself
inline constexpr uint32_t kLinkFollow = 1; ///< LINK: follow a final symlink
/// UTIMENS time values with a special meaning (UTIME_NOW, UTIME_OMIT).
inline constexpr int64_t kTimeNow = INT64_MIN;
inline constexpr int64_t kTimeOmit = INT64_MIN + 1;

// ---- Error kinds --------------------------------------------------------------------------

/// ERROR reply kinds: 1-255 stand for an errno, 256 and up are protocol-level. A receiver
/// accepts any non-zero value; unknown ones map to EIO.
enum class ErrorKind : uint16_t {
  NoEnt = 1,
  Exist = 2,
  NotDir = 3,
  IsDir = 4,
  NotEmpty = 5,
  XDev = 6,
  Acces = 7,
  Perm = 8,
  Inval = 9,
  NoSpc = 10,
  DQuot = 11,
  Io = 12,
  NameTooLong = 13,
  Loop = 14,
  RoFs = 15,
  Busy = 16,
  MLink = 17,
  FBig = 18,
  NotSup = 19,
  NoMem = 20,
  BadFrame = 256,
  UnsupportedVersion = 257,
  TooLarge = 258,
  UnknownRequest = 259,
  NotAuthorised = 260,
  Internal = 261,
  UnknownSession = 262,
  BadPath = 263,
  OutOfSequence = 264,
  ShuttingDown = 265,
};

constexpr bool is_protocol_kind(ErrorKind k) { return static_cast<uint16_t>(k) >= 256; }
/// The errno a client hands back for a kind: its errno for kinds 1-20, EIO for the rest.
int errno_of(ErrorKind k) noexcept;
/// The kind for an errno; errnos without a kind become ErrorKind::Io.
ErrorKind kind_of_errno(int err) noexcept;
/// The wire name, e.g. "noent", "bad_frame"; "unknown" for other values.
const char* kind_name(ErrorKind k) noexcept;

// ---- Frames -------------------------------------------------------------------------------

/// What decoding found. Ok and NeedMore are not errors; the rest say what was wrong.
enum class Err : uint8_t {
  Ok,
  NeedMore,      ///< read_frame: the buffer holds only part of a frame
  BadMagic,      ///< not a vrift frame: fatal for the connection
  BadFlags,      ///< reserved header flag bits set: fatal
  TooLarge,      ///< length above the receiver's limit: fatal, payload not read
  UnknownType,   ///< a type this build does not know
  WrongType,     ///< decode() asked for a different message than the frame holds
  Truncated,     ///< payload ends inside a field
  TrailingBytes, ///< payload continues after the last field
  BadString,     ///< a string too long or containing NUL
  BadPath,       ///< a relpath or abspath breaking its rules
  BadField,      ///< an integer out of range (zero session, mode, flags, versions...)
};

/// A short description, e.g. "truncated payload".
const char* err_name(Err e) noexcept;
/// Framing errors leave the stream unusable: the receiver closes the connection.
constexpr bool is_fatal(Err e) {
  return e == Err::BadMagic || e == Err::BadFlags || e == Err::TooLarge;
}
/// The ERROR kind a daemon replies with for a decoding failure.
ErrorKind kind_for(Err e) noexcept;

struct FrameHeader {
  MsgType type{};
  uint16_t flags = 0;
  uint32_t id = 0;
  uint32_t length = 0; ///< payload bytes
};

/// A frame inside a caller's buffer: the payload points into that buffer.
struct Frame {
  MsgType type{};
  uint32_t id = 0;
  const uint8_t* payload = nullptr;
  uint32_t length = 0;
};

/// Parses and checks a header from the first `len` bytes of `buf`: NeedMore when
/// len < kHeaderSize (unless the magic bytes present already mismatch: BadMagic), BadFlags,
/// TooLarge when kHeaderSize + length exceeds `limit` (the receiver's max_frame; values above
/// kMaxFrameSize count as kMaxFrameSize). The type is not checked here: see decode().
Err parse_header(const uint8_t* buf, size_t len, uint32_t limit, FrameHeader* out) noexcept;

/// Finds one whole frame at the start of `buf`: Ok (sets *out and *consumed = its size),
/// NeedMore, or parse_header's errors. Never reads past `len`.
Err read_frame(const uint8_t* buf, size_t len, uint32_t limit, Frame* out,
               size_t* consumed) noexcept;

/// Writes a header into buf[0..kHeaderSize).
void write_header(uint8_t* buf, MsgType type, uint32_t id, uint32_t length) noexcept;

// ---- Path rules ---------------------------------------------------------------------------

/// relpath: 1..kMaxPathLen bytes, no NUL, not absolute, no trailing '/', no empty, "." or
/// ".." component (the manifest's path rules).
bool valid_relpath(std::string_view p) noexcept;
/// abspath: 1..kMaxPathLen bytes, no NUL, starts with '/', no empty, "." or ".." component,
/// no trailing '/' except "/" itself.
bool valid_abspath(std::string_view p) noexcept;

} // namespace vrift::proto

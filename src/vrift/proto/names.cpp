// Names of types, kinds and decoder results, and the errno <-> ErrorKind table (wire.h).
// Freestanding: plain tables and switches.
#include <cerrno>
#include <cstddef>

#include "vrift/proto/wire.h"

namespace vrift::proto {
namespace {

struct KindRow {
  ErrorKind kind;
  int err;
  const char* name;
};

constexpr KindRow kKinds[] = {
    {ErrorKind::NoEnt, ENOENT, "noent"},
    {ErrorKind::Exist, EEXIST, "exist"},
    {ErrorKind::NotDir, ENOTDIR, "notdir"},
    {ErrorKind::IsDir, EISDIR, "isdir"},
    {ErrorKind::NotEmpty, ENOTEMPTY, "notempty"},
    {ErrorKind::XDev, EXDEV, "xdev"},
    {ErrorKind::Acces, EACCES, "acces"},
    {ErrorKind::Perm, EPERM, "perm"},
    {ErrorKind::Inval, EINVAL, "inval"},
    {ErrorKind::NoSpc, ENOSPC, "nospc"},
    {ErrorKind::DQuot, EDQUOT, "dquot"},
    {ErrorKind::Io, EIO, "io"},
    {ErrorKind::NameTooLong, ENAMETOOLONG, "nametoolong"},
    {ErrorKind::Loop, ELOOP, "loop"},
    {ErrorKind::RoFs, EROFS, "rofs"},
    {ErrorKind::Busy, EBUSY, "busy"},
    {ErrorKind::MLink, EMLINK, "mlink"},
    {ErrorKind::FBig, EFBIG, "fbig"},
    {ErrorKind::NotSup, ENOTSUP, "notsup"},
    {ErrorKind::NoMem, ENOMEM, "nomem"},
    {ErrorKind::BadFrame, EIO, "bad_frame"},
    {ErrorKind::UnsupportedVersion, EIO, "unsupported_version"},
    {ErrorKind::TooLarge, EIO, "too_large"},
    {ErrorKind::UnknownRequest, EIO, "unknown_request"},
    {ErrorKind::NotAuthorised, EIO, "not_authorised"},
    {ErrorKind::Internal, EIO, "internal"},
    {ErrorKind::UnknownSession, EIO, "unknown_session"},
    {ErrorKind::BadPath, EIO, "bad_path"},
    {ErrorKind::OutOfSequence, EIO, "out_of_sequence"},
    {ErrorKind::ShuttingDown, EIO, "shutting_down"},
};

struct TypeRow {
  MsgType type;
  const char* name;
};

constexpr TypeRow kTypes[] = {
    {MsgType::Hello, "HELLO"},
    {MsgType::Ping, "PING"},
    {MsgType::StatusQuery, "STATUS"},
    {MsgType::Shutdown, "SHUTDOWN"},
    {MsgType::SessionOpen, "SESSION_OPEN"},
    {MsgType::SessionClose, "SESSION_CLOSE"},
    {MsgType::SessionLease, "SESSION_LEASE"},
    {MsgType::Commit, "COMMIT"},
    {MsgType::Unlink, "UNLINK"},
    {MsgType::Rename, "RENAME"},
    {MsgType::Mkdir, "MKDIR"},
    {MsgType::Rmdir, "RMDIR"},
    {MsgType::Chmod, "CHMOD"},
    {MsgType::Utimens, "UTIMENS"},
    {MsgType::Truncate, "TRUNCATE"},
    {MsgType::Symlink, "SYMLINK"},
    {MsgType::Link, "LINK"},
    {MsgType::OkReply, "OK"},
    {MsgType::HelloReply, "HELLO_REPLY"},
    {MsgType::StatusReply, "STATUS_REPLY"},
    {MsgType::SessionReply, "SESSION_REPLY"},
    {MsgType::CommitReply, "COMMIT_REPLY"},
    {MsgType::ErrorReply, "ERROR"},
};

// Indexed by Err, in declaration order.
constexpr const char* kErrNames[] = {
    "ok",
    "incomplete frame",
    "not a vrift frame (bad magic)",
    "reserved header flags set",
    "frame too large",
    "unknown message type",
    "unexpected message type",
    "truncated payload",
    "trailing bytes after the payload",
    "bad string (too long, empty or containing NUL)",
    "bad path",
    "field out of range",
};
static_assert(sizeof kErrNames / sizeof kErrNames[0] == static_cast<size_t>(Err::BadField) + 1);

constexpr const char kUnknown[] = "unknown";

const KindRow* find_kind(ErrorKind k) {
  for (const KindRow& r : kKinds)
    if (r.kind == k) return &r;
  return nullptr;
}

} // namespace

const char* type_name(MsgType t) noexcept {
  for (const TypeRow& r : kTypes)
    if (r.type == t) return r.name;
  return kUnknown;
}

bool is_known_type(MsgType t) noexcept { return type_name(t) != kUnknown; }

const char* kind_name(ErrorKind k) noexcept {
  const KindRow* r = find_kind(k);
  return r != nullptr ? r->name : kUnknown;
}

int errno_of(ErrorKind k) noexcept {
  const KindRow* r = find_kind(k);
  return r != nullptr ? r->err : EIO;
}

ErrorKind kind_of_errno(int err) noexcept {
  for (const KindRow& r : kKinds)
    if (!is_protocol_kind(r.kind) && r.err == err) return r.kind;
  if (err == EOPNOTSUPP) return ErrorKind::NotSup; // equal to ENOTSUP on Linux, not everywhere
  return ErrorKind::Io;
}

const char* err_name(Err e) noexcept {
  size_t i = static_cast<size_t>(e);
  return i < sizeof kErrNames / sizeof kErrNames[0] ? kErrNames[i] : kUnknown;
}

ErrorKind kind_for(Err e) noexcept {
  switch (e) {
  case Err::TooLarge:
    return ErrorKind::TooLarge;
  case Err::UnknownType:
  case Err::WrongType:
    return ErrorKind::UnknownRequest;
  case Err::BadPath:
    return ErrorKind::BadPath;
  case Err::Ok:
  case Err::NeedMore:
    return ErrorKind::Internal; // not failures: a caller's bug
  default:
    return ErrorKind::BadFrame;
  }
}

} // namespace vrift::proto

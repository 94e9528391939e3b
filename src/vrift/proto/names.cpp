// Names of types, kinds and decoder results, and the errno <-> ErrorKind table (wire.h).
// Freestanding: plain tables and switches.
#include <cerrno>

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

constexpr const char kUnknown[] = "unknown";

const KindRow* find_kind(ErrorKind k) {
  for (const KindRow& r : kKinds)
    if (r.kind == k) return &r;
  return nullptr;
}

} // namespace

const char* type_name(MsgType t) noexcept {
  switch (t) {
  case MsgType::Hello: return "HELLO";
  case MsgType::Ping: return "PING";
  case MsgType::StatusQuery: return "STATUS";
  case MsgType::Shutdown: return "SHUTDOWN";
  case MsgType::SessionOpen: return "SESSION_OPEN";
  case MsgType::SessionClose: return "SESSION_CLOSE";
  case MsgType::Commit: return "COMMIT";
  case MsgType::Unlink: return "UNLINK";
  case MsgType::Rename: return "RENAME";
  case MsgType::Mkdir: return "MKDIR";
  case MsgType::Rmdir: return "RMDIR";
  case MsgType::Chmod: return "CHMOD";
  case MsgType::Utimens: return "UTIMENS";
  case MsgType::Truncate: return "TRUNCATE";
  case MsgType::Symlink: return "SYMLINK";
  case MsgType::Link: return "LINK";
  case MsgType::OkReply: return "OK";
  case MsgType::HelloReply: return "HELLO_REPLY";
  case MsgType::StatusReply: return "STATUS_REPLY";
  case MsgType::SessionReply: return "SESSION_REPLY";
  case MsgType::CommitReply: return "COMMIT_REPLY";
  case MsgType::ErrorReply: return "ERROR";
  }
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
  switch (e) {
  case Err::Ok: return "ok";
  case Err::NeedMore: return "incomplete frame";
  case Err::BadMagic: return "not a vrift frame (bad magic)";
  case Err::BadFlags: return "reserved header flags set";
  case Err::TooLarge: return "frame too large";
  case Err::UnknownType: return "unknown message type";
  case Err::WrongType: return "unexpected message type";
  case Err::Truncated: return "truncated payload";
  case Err::TrailingBytes: return "trailing bytes after the payload";
  case Err::BadString: return "bad string (too long, empty or containing NUL)";
  case Err::BadPath: return "bad path";
  case Err::BadField: return "field out of range";
  }
  return "unknown error";
}

ErrorKind kind_for(Err e) noexcept {
  switch (e) {
  case Err::TooLarge: return ErrorKind::TooLarge;
  case Err::UnknownType:
  case Err::WrongType: return ErrorKind::UnknownRequest;
  case Err::BadPath: return ErrorKind::BadPath;
  case Err::Ok:
  case Err::NeedMore: return ErrorKind::Internal; // not failures: a caller's bug
  default: return ErrorKind::BadFrame;
  }
}

} // namespace vrift::proto

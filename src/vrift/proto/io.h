// Blocking socket I/O for the CLI and the daemon (not the shim: this layer allocates and uses
// Result). Every call has a deadline, enforced with poll(); EINTR is retried with the time that
// is left; writes use MSG_NOSIGNAL so a vanished peer is an EPIPE error, never a SIGPIPE. The
// calls work on blocking and non-blocking descriptors alike.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vrift/proto/codec.h"
#include "vrift/util/fd.h"
#include "vrift/util/result.h"

namespace vrift::proto {

/// Timeouts are in milliseconds; kForever waits without limit.
inline constexpr int kForever = -1;

/// Sends all `len` bytes within `timeout_ms`. Errors: ETIMEDOUT, EPIPE/ECONNRESET (peer
/// gone), or the error send() reported.
Status send_all(int fd, const uint8_t* data, size_t len, int timeout_ms);

/// Encodes `m` as frame ID into BUF, which holds max_frame_size<M>() bytes; returns the frame's
/// length. Errors: EINVAL when `m` breaks its schema.
template <class M>
Result<size_t> encode_frame(std::array<uint8_t, max_frame_size<M>()>& buf, uint32_t id,
                            const M& m) {
  const size_t n = encode(buf.data(), buf.size(), id, m);
  if (n == 0)
    return fail(std::string("encoding ") + type_name(M::kType) + ": a field breaks its rules",
                EINVAL);
  return n;
}

/// Encodes `m` (on the stack: v1 frames are at most kMaxV1Frame bytes) and sends it.
/// Errors: EINVAL when `m` breaks its schema, then as send_all.
template <class M> Status send_msg(int fd, uint32_t id, const M& m, int timeout_ms) {
  std::array<uint8_t, max_frame_size<M>()> buf;
  VRIFT_ASSIGN(const size_t n, encode_frame(buf, id, m));
  return send_all(fd, buf.data(), n, timeout_ms);
}

/// Why recv_frame rejected a frame, for a daemon that answers before closing: the decoder's
/// verdict and the frame's request id (0 when the header was incomplete or unreadable).
struct RecvError {
  Err err = Err::Ok;
  uint32_t id = 0;
};

/// Receives one frame into `buf` (resized to fit; the Frame points into it). `limit` is our
/// max_frame: a longer frame is rejected from its header, before its payload is read or any
/// memory is reserved for it. `timeout_ms` bounds the whole frame; `rest_timeout_ms`, when
/// not kForever, bounds the time from its first byte to its last (a daemon waits for an idle
/// client forever, for a slow one not). Returns nullopt on a clean end of stream before a
/// frame began. Errors: ETIMEDOUT; ECONNRESET when the peer closed mid-frame; EPROTO for a
/// framing error (bad magic, flags, too large: the stream is unusable; *why says which).
Result<std::optional<Frame>> recv_frame(int fd, std::vector<uint8_t>& buf, uint32_t limit,
                                        int timeout_ms, int rest_timeout_ms = kForever,
                                        RecvError* why = nullptr);

/// Connects to the Unix stream socket at `path` within `timeout_ms` (SOCK_CLOEXEC; the
/// descriptor is left blocking). Errors: ENAMETOOLONG (path does not fit sun_path),
/// ENOENT/ECONNREFUSED (no daemon), ETIMEDOUT.
Result<UniqueFd> connect_unix(const std::string& path, int timeout_ms);

/// The peer of a connected Unix socket (SO_PEERCRED).
struct PeerCred {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};
Result<PeerCred> peer_credentials(int fd);

/// What the greeting settled.
struct Greeting {
  Hello peer;       ///< the client's HELLO
  HelloReply reply; ///< what the daemon answered: the version and capabilities in use
};

/// Answers the greeting frame F (the first a client sent) on FD: negotiates against `ours` and
/// replies HELLO_REPLY, or ERROR (out_of_sequence for another frame type, a decoding error, or
/// unsupported_version) and fails; the connection must then be closed.
/// STORE_ROOT, when not empty and both sides offer kCapHelloStore, goes in the reply's tail.
Result<Greeting> answer_hello(int fd, const Frame& f, const Hello& ours, int timeout_ms,
                              std::string_view store_root = {});

/// The daemon's side of the greeting on a freshly accepted connection (after its uid check):
/// waits up to `timeout_ms` for HELLO, negotiates against `ours`, and replies HELLO_REPLY or,
/// on failure, ERROR (out_of_sequence, unsupported_version, bad_frame...), after which the
/// caller closes the connection. Errors: as recv_frame, EPROTO for a protocol violation,
/// EPROTONOSUPPORT when the versions do not overlap.
Result<Greeting> serve_hello(int fd, const Hello& ours, int timeout_ms);

/// Sends ERROR {kind, message} (the message is cut to kMaxMessageLen bytes and NUL bytes are
/// replaced, so that it always encodes).
Status send_error(int fd, uint32_t id, ErrorKind kind, std::string_view message,
                  int timeout_ms = kServerFrameTimeoutMs);

} // namespace vrift::proto

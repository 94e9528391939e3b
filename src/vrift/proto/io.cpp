// Blocking I/O with deadlines (io.h). Each call computes one deadline up front and polls with
// whatever remains of it, so EINTR and short reads/writes never extend the total wait.
#include "vrift/proto/io.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace vrift::proto {
namespace {

using Clock = std::chrono::steady_clock;

class Deadline {
public:
  explicit Deadline(int timeout_ms)
      : m_forever(timeout_ms < 0), m_end(Clock::now() + std::chrono::milliseconds(timeout_ms)) {}
  /// Milliseconds left for poll(): -1 for no limit, 0 when expired (rounded up otherwise).
  int remaining_ms() const {
    if (m_forever) return -1;
    auto left = std::chrono::ceil<std::chrono::milliseconds>(m_end - Clock::now()).count();
    return left > 0 ? static_cast<int>(left) : 0;
  }
  /// The earlier of this deadline and `other`.
  Deadline min(const Deadline& other) const {
    if (m_forever) return other;
    if (other.m_forever) return *this;
    return m_end < other.m_end ? *this : other;
  }

private:
  bool m_forever;
  Clock::time_point m_end;
};

// Waits until fd is ready for `events` or the deadline passes. EINTR restarts the wait.
Status wait_for(int fd, short events, const Deadline& d, const char* what) {
  for (;;) {
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, d.remaining_ms());
    if (r > 0) return {}; // errors and hang-ups show up in the recv/send that follows
    if (r == 0) return fail(std::string("timed out ") + what, ETIMEDOUT);
    if (errno != EINTR) return fail_os(std::string("poll while ") + what);
  }
}

// Reads exactly `len` bytes; the peer closing first is an error (ECONNRESET): this is only
// called once a frame has begun.
Status recv_exact(int fd, uint8_t* out, size_t len, const Deadline& d) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = ::recv(fd, out + got, len - got, MSG_DONTWAIT);
    if (n > 0) {
      got += static_cast<size_t>(n);
      continue;
    }
    if (n == 0) return fail("connection closed by the peer mid-frame", ECONNRESET);
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return fail_os("receiving a frame");
    VRIFT_TRY(wait_for(fd, POLLIN, d, "receiving a frame"));
  }
  return {};
}

Unexpected framing_error(Err e, uint32_t id, RecvError* why) {
  if (why != nullptr) *why = RecvError{e, id};
  return fail(std::string("receiving a frame: ") + err_name(e), EPROTO);
}

std::string version_range(uint16_t lo, uint16_t hi) {
  return std::to_string(lo) + ".." + std::to_string(hi);
}

} // namespace

Status send_all(int fd, const uint8_t* data, size_t len, int timeout_ms) {
  Deadline d(timeout_ms);
  size_t sent = 0;
  while (sent < len) {
    ssize_t n = ::send(fd, data + sent, len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return fail_os("sending a frame");
    VRIFT_TRY(wait_for(fd, POLLOUT, d, "sending a frame"));
  }
  return {};
}

Result<std::optional<Frame>> recv_frame(int fd, std::vector<uint8_t>& buf, uint32_t limit,
                                        int timeout_ms, int rest_timeout_ms, RecvError* why) {
  Deadline whole(timeout_ms);
  uint8_t hdr[kHeaderSize];

  // The first bytes decide between a clean end of stream and a frame (a bad magic is refused
  // as soon as it shows). Reading no further than the header keeps the next frame unread.
  size_t got = 0;
  for (;;) {
    ssize_t n = ::recv(fd, hdr, kHeaderSize, MSG_DONTWAIT);
    if (n > 0) {
      got = static_cast<size_t>(n);
      break;
    }
    if (n == 0) return std::optional<Frame>();
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return fail_os("receiving a frame");
    VRIFT_TRY(wait_for(fd, POLLIN, whole, "waiting for a frame"));
  }
  Deadline d = whole.min(Deadline(rest_timeout_ms));
  FrameHeader h;
  if (Err e = parse_header(hdr, got, limit, &h); e == Err::BadMagic)
    return framing_error(e, 0, why);

  if (Status s = recv_exact(fd, hdr + got, kHeaderSize - got, d); !s)
    return fail(std::move(s).context("reading a frame header").error());
  if (Err e = parse_header(hdr, kHeaderSize, limit, &h); e != Err::Ok) {
    uint32_t id = 0;
    if (e != Err::BadMagic)
      for (int i = 3; i >= 0; --i)
        id = (id << 8) | hdr[8 + i];
    return framing_error(e, id, why);
  }
  buf.resize(kHeaderSize + h.length); // bounded by `limit`, checked above
  std::memcpy(buf.data(), hdr, kHeaderSize);
  if (Status s = recv_exact(fd, buf.data() + kHeaderSize, h.length, d); !s)
    return fail(std::move(s).context("reading a frame payload").error());

  Frame f;
  size_t used = 0;
  Err e = read_frame(buf.data(), buf.size(), limit, &f, &used);
  if (e != Err::Ok) return framing_error(e, h.id, why); // cannot happen: parsed above
  return std::optional<Frame>(f);
}

Result<UniqueFd> connect_unix(const std::string& path, int timeout_ms) {
  Deadline d(timeout_ms);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return fail("socket path '" + path + "' is too long for a Unix socket", ENAMETOOLONG);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);

  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return fail_os("creating a socket");
  // A non-blocking connect to a Unix socket either succeeds at once or fails with EAGAIN when
  // the listener's backlog is full; then it is retried until the deadline.
  for (;;) {
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) break;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return fail_os("connecting to '" + path + "'");
    int left = d.remaining_ms();
    if (left == 0) return fail("connecting to '" + path + "': timed out", ETIMEDOUT);
    ::poll(nullptr, 0, left < 0 || left > 2 ? 2 : left);
  }
  int fl = ::fcntl(fd.get(), F_GETFL);
  if (fl < 0 || ::fcntl(fd.get(), F_SETFL, fl & ~O_NONBLOCK) < 0)
    return fail_os("making the socket blocking");
  return fd;
}

Result<PeerCred> peer_credentials(int fd) {
  ucred c{};
  socklen_t len = sizeof c;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &len) != 0)
    return fail_os("reading the peer's credentials");
  return PeerCred{c.pid, c.uid, c.gid};
}

Status send_error(int fd, uint32_t id, ErrorKind kind, std::string_view message, int timeout_ms) {
  std::string text(message.substr(0, kMaxMessageLen));
  for (char& c : text)
    if (c == '\0') c = '?';
  return send_msg(fd, id, ErrorReply{kind, text}, timeout_ms);
}

Result<Greeting> serve_hello(int fd, const Hello& ours, int timeout_ms) {
  Deadline d(timeout_ms);
  std::vector<uint8_t> buf;
  RecvError why;
  auto got = recv_frame(fd, buf, ours.max_frame, timeout_ms, kForever, &why);
  if (!got) {
    if (why.err != Err::Ok) (void)send_error(fd, why.id, kind_for(why.err), err_name(why.err));
    return fail(std::move(got).context("greeting").error());
  }
  if (!*got) return fail("greeting: the client closed the connection", ECONNRESET);
  return answer_hello(fd, **got, ours, d.remaining_ms());
}

Result<Greeting> answer_hello(int fd, const Frame& f, const Hello& ours, int timeout_ms,
                              std::string_view store_root) {
  if (f.type != MsgType::Hello) {
    (void)send_error(fd, f.id, ErrorKind::OutOfSequence, "the first frame must be HELLO");
    return fail(std::string("greeting: the client sent ") + type_name(f.type) + " first", EPROTO);
  }
  Greeting g;
  if (Err e = decode(f, &g.peer); e != Err::Ok) {
    (void)send_error(fd, f.id, kind_for(e), std::string("HELLO: ") + err_name(e));
    return fail(std::string("greeting: bad HELLO: ") + err_name(e), EPROTO);
  }
  if (!negotiate(ours, g.peer, &g.reply)) {
    std::string msg = "client speaks protocol " +
                      version_range(g.peer.min_version, g.peer.max_version) + ", daemon " +
                      version_range(ours.min_version, ours.max_version);
    (void)send_error(fd, f.id, ErrorKind::UnsupportedVersion, msg);
    return fail("greeting: " + msg, EPROTONOSUPPORT);
  }
  g.reply.has_store = !store_root.empty() && (g.reply.capabilities & kCapHelloStore);
  g.reply.store_root = store_root;
  VRIFT_TRY(send_msg(fd, f.id, g.reply, timeout_ms).context("greeting"));
  g.reply.store_root = {}; // a view of the caller's string
  return g;
}

} // namespace vrift::proto

// The blocking client (client.h).
#include "vrift/proto/client.h"

#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

namespace vrift::proto {
namespace {

// How long a client checks for its reply without sleeping before it blocks in poll(2). The
// daemon answers most requests within tens of microseconds, but waking a blocked process from
// another CPU costs 150-300 us on a virtual machine (the idle vCPU halts; see kSpinAfterRequest
// in daemon/server.cpp, which does the same on the daemon's side). Bounded CPU per request.
constexpr auto kReplySpin = std::chrono::microseconds(200);

// Returns when `fd` has data (or an error or end of stream to report), or after kReplySpin.
void spin_for_reply(int fd) {
  auto end = std::chrono::steady_clock::now() + kReplySpin;
  do {
    char b;
    if (::recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) >= 0 || (errno != EAGAIN && errno != EINTR))
      return;
    ::sched_yield(); // the daemon may be waiting for this CPU
  } while (std::chrono::steady_clock::now() < end);
}

} // namespace

Result<Client> Client::connect(const std::string& path, Role role, int timeout_ms) {
  auto start = std::chrono::steady_clock::now();
  VRIFT_ASSIGN(UniqueFd fd, connect_unix(path, timeout_ms));
  int used = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::steady_clock::now() - start)
                                  .count());
  int left = timeout_ms < 0 ? kForever : (used < timeout_ms ? timeout_ms - used : 0);
  return greet(std::move(fd), role, left).context("talking to the vrift daemon at '" + path + "'");
}

Result<Client> Client::greet(UniqueFd fd, Role role, int timeout_ms) {
  Client c(std::move(fd), role);
  VRIFT_TRY(c.send_hello(timeout_ms));
  VRIFT_TRY(c.finish_hello(timeout_ms));
  return c;
}

Result<Client> Client::begin_connect(const std::string& path, Role role, int timeout_ms) {
  VRIFT_ASSIGN(UniqueFd fd, connect_unix(path, timeout_ms));
  Client c(std::move(fd), role);
  VRIFT_TRY(c.send_hello(timeout_ms).context("talking to the vrift daemon at '" + path + "'"));
  return c;
}

Status Client::finish_connect(int timeout_ms) {
  if (greeted()) return {};
  return finish_hello(timeout_ms).context("talking to the vrift daemon");
}

Hello Client::our_hello() const {
  Hello ours;
  ours.role = m_role;
  ours.max_frame = kMaxFrameSize;
  ours.capabilities = kCapabilities;
  ours.pid = static_cast<uint32_t>(::getpid());
  return ours;
}

Status Client::send_hello(int timeout_ms) { return send(our_hello(), timeout_ms); }

Status Client::finish_hello(int timeout_ms) {
  const Hello ours = our_hello();
  VRIFT_ASSIGN(HelloReply r, receive<HelloReply>(timeout_ms));
  if (!accept_hello_reply(ours, r)) {
    m_fd.reset();
    return fail("the daemon chose protocol version " + std::to_string(r.version) +
                    " or capabilities this client did not offer",
                EPROTO);
  }
  m_daemon = r;
  m_greeted = true;
  m_daemon.store_root = {}; // a view of the frame buffer
  if (r.has_store) m_daemon_store = std::string(r.store_root);
  return {};
}

Status Client::flush(int timeout_ms) {
  if (m_out.empty()) return {};
  Status r = m_fd.valid() ? send_all(m_fd.get(), m_out.data(), m_out.size(), timeout_ms)
                          : fail("the connection was closed after an earlier error", EPIPE);
  m_out.clear();
  if (!r) {
    m_fd.reset();
    return fail(std::move(r).context("sending queued requests").error());
  }
  return {};
}

uint32_t Client::take_id() {
  const uint32_t id = m_next_id++;
  if (m_next_id == 0) m_next_id = 1; // id 0 is reserved for connection-level errors
  return id;
}

Status Client::sent(MsgType type, uint32_t id, Status result) {
  std::string what = std::string(type_name(type)) + " request";
  if (!m_fd.valid())
    return fail(what + ": the connection was closed after an earlier error", EPIPE);
  if (!result) {
    m_fd.reset();
    return fail(std::move(result).context(what).error());
  }
  m_pending.push_back({id, type});
  return {};
}

Result<Frame> Client::await_reply(MsgType want, int timeout_ms) {
  if (pending() == 0) return fail("no request awaits a reply", EINVAL);
  const Pending req = m_pending[m_pending_head++];
  if (m_pending_head == m_pending.size()) {
    m_pending.clear();
    m_pending_head = 0;
  }
  const uint32_t id = req.id;
  std::string what = std::string(type_name(req.type)) + " request";
  if (!m_fd.valid())
    return fail(what + ": the connection was closed after an earlier error", EPIPE);
  spin_for_reply(m_fd.get());
  auto got = recv_frame(m_fd.get(), m_buf, kMaxFrameSize, timeout_ms);
  if (!got || !*got) {
    m_fd.reset();
    if (!got) return fail(std::move(got).context(what).error());
    return fail(what + ": the daemon closed the connection", ECONNRESET);
  }
  const Frame& f = **got;
  if (f.id != id) {
    m_fd.reset();
    return fail(what + ": reply for request " + std::to_string(f.id) + ", expected " +
                    std::to_string(id),
                EPROTO);
  }
  if (f.type == MsgType::ErrorReply) {
    ErrorReply e;
    if (Err d = decode(f, &e); d != Err::Ok) return broken(f.type, d);
    m_last_kind = e.kind;
    if (e.kind == ErrorKind::UnsupportedVersion) m_fd.reset(); // the daemon closes too
    return fail(what + ": " + std::string(e.message) + " [" + kind_name(e.kind) + "]",
                e.kind == ErrorKind::UnsupportedVersion ? EPROTONOSUPPORT : errno_of(e.kind));
  }
  if (f.type != want) {
    m_fd.reset();
    return fail(what + ": the daemon replied " + type_name(f.type) + ", expected " +
                    type_name(want),
                EPROTO);
  }
  return f;
}

Unexpected Client::broken(MsgType got, Err e) {
  m_fd.reset();
  return fail(std::string("bad ") + type_name(got) + " from the daemon: " + err_name(e), EPROTO);
}

} // namespace vrift::proto

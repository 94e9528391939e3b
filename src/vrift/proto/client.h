// A blocking protocol client for the CLI (and tests): connects, greets, then makes one call at
// a time, checking ids and reply types. Not for the shim, which uses the freestanding codec.
//
//   VRIFT_ASSIGN(auto c, proto::Client::connect(sock, proto::Role::Cli, kCliConnectTimeoutMs));
//   VRIFT_ASSIGN(auto st, c.call<proto::StatusReply>(proto::StatusQuery{}));
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "vrift/proto/io.h"

namespace vrift::proto {

class Client {
public:
  /// Connects to the daemon's socket and greets it, all within `timeout_ms`. Errors: as
  /// connect_unix; EPROTONOSUPPORT when the daemon speaks no common version; EPROTO when its
  /// answer breaks the protocol.
  static Result<Client> connect(const std::string& path, Role role, int timeout_ms);
  /// Greets over an already connected socket (tests use a socketpair).
  static Result<Client> greet(UniqueFd fd, Role role, int timeout_ms);
  /// connect() in two halves: connects and sends the greeting without waiting for the answer,
  /// so that the daemon wakes (on a virtual machine an idle CPU can take a millisecond to) while
  /// the caller goes on with its own work; finish_connect() then takes the answer. Until then
  /// only finish_connect() may be called.
  static Result<Client> begin_connect(const std::string& path, Role role, int timeout_ms);
  Status finish_connect(int timeout_ms);

  /// Sends `req` and waits up to `timeout_ms` for its reply, which must be a Reply. An ERROR
  /// reply becomes an Error whose message is the daemon's (with its kind) and whose errnum is
  /// errno_of(kind); last_error_kind() keeps the kind. String views in the result point into
  /// this client's buffer and stay valid until the next call. After a transport or protocol
  /// error the connection is closed and every later call fails at once.
  template <class Reply, class Req> Result<Reply> call(const Req& req, int timeout_ms) {
    if (pending() != 0) return fail("a call while pipelined replies are pending", EINVAL);
    VRIFT_TRY(send(req, timeout_ms));
    return receive<Reply>(timeout_ms);
  }

  /// Pipelining: send() writes a request without waiting for its reply, and receive<Reply>()
  /// reads the reply of the oldest request sent and not yet received (the daemon answers a
  /// connection's requests in order). Several requests then cost one round trip. A reply
  /// received out of order, or of another type than the receive asks for, breaks the
  /// connection as in call().
  template <class Req> Status send(const Req& req, int timeout_ms) {
    static_assert(is_request(Req::kType));
    const uint32_t id = take_id();
    return sent(Req::kType, id, send_msg(m_fd.get(), id, req, timeout_ms));
  }
  /// Pipelining in one write: queue() encodes a request into this client's buffer (its reply
  /// is then received like send()'s), flush() sends every request queued in one write, so the
  /// daemon reads them together and answers them all before any work of its own (a request
  /// that arrives apart can wait behind the tree check a session open leaves it: 75-120 ms for
  /// dataset A).
  template <class Req> Status queue(const Req& req) {
    static_assert(is_request(Req::kType));
    std::array<uint8_t, max_frame_size<Req>()> buf;
    const uint32_t id = take_id();
    auto n = encode_frame(buf, id, req);
    if (!n) return sent(Req::kType, id, Status(fail(std::move(n).error())));
    m_out.insert(m_out.end(), buf.data(), buf.data() + *n);
    return sent(Req::kType, id, Status{});
  }
  Status flush(int timeout_ms);
  template <class Reply> Result<Reply> receive(int timeout_ms) {
    static_assert(is_reply(Reply::kType));
    VRIFT_ASSIGN(Frame f, await_reply(Reply::kType, timeout_ms));
    Reply r;
    if (Err e = decode(f, &r); e != Err::Ok) return broken(Reply::kType, e);
    return r;
  }
  /// Requests sent whose replies have not been received yet.
  size_t pending() const { return m_pending.size() - m_pending_head; }

  /// The negotiated greeting (its store_root is empty: see daemon_store()).
  const HelloReply& daemon() const { return m_daemon; }
  /// The store the daemon said it serves in its greeting; nullopt from a daemon that did not.
  const std::optional<std::string>& daemon_store() const { return m_daemon_store; }
  ErrorKind last_error_kind() const { return m_last_kind; }
  bool connected() const { return m_fd.valid(); }
  /// The daemon's greeting has been received (always, but between begin_connect() and
  /// finish_connect()).
  bool greeted() const { return m_greeted; }

private:
  Client(UniqueFd fd, Role role) : m_fd(std::move(fd)), m_role(role) {}
  struct Pending {
    uint32_t id;
    MsgType type;
  };
  Hello our_hello() const;
  Status send_hello(int timeout_ms);
  Status finish_hello(int timeout_ms);
  uint32_t take_id();
  // Records request ID of TYPE as awaiting its reply once `result` (of sending it) is OK;
  // otherwise closes the connection.
  Status sent(MsgType type, uint32_t id, Status result);
  // Receives the reply to the oldest pending request, checks its id and type (WANT), turns
  // ERROR into an Error. Closes the connection on any transport or protocol failure.
  Result<Frame> await_reply(MsgType want, int timeout_ms);
  Unexpected broken(MsgType got, Err e);

  UniqueFd m_fd;
  Role m_role;
  std::vector<uint8_t> m_buf;
  std::vector<uint8_t> m_out; // requests queued, not yet flushed
  uint32_t m_next_id = 1;
  std::vector<Pending> m_pending; // oldest first, from m_pending_head
  size_t m_pending_head = 0;
  HelloReply m_daemon;
  bool m_greeted = false;
  std::optional<std::string> m_daemon_store;
  ErrorKind m_last_kind{};
};

} // namespace vrift::proto

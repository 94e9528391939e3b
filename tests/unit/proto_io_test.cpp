// The blocking I/O layer over real sockets: frames both ways, pipelining, the greeting (and a
// version mismatch), a peer closing mid-frame, oversize frames refused before their payload,
// timeouts on receive and send, EPIPE without SIGPIPE, connect and peer credentials.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "vrift/proto/client.h"
#include "vrift/proto/io.h"

namespace vrift::proto {
namespace {

using Ms = std::chrono::milliseconds;

// Joins a thread when the test ends, however it ends (declare it before what the thread needs
// to see destroyed, e.g. the client whose closing ends the fake daemon's loop).
struct Joiner {
  std::thread t;
  ~Joiner() {
    if (t.joinable()) t.join();
  }
};

struct Pair {
  UniqueFd a, b;
  Pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    a.reset(fds[0]);
    b.reset(fds[1]);
  }
};

long elapsed_ms(std::chrono::steady_clock::time_point since) {
  return static_cast<long>(
      std::chrono::duration_cast<Ms>(std::chrono::steady_clock::now() - since).count());
}

template <class M> M recv_as(int fd, std::vector<uint8_t>& buf, uint32_t want_id) {
  auto got = recv_frame(fd, buf, kMaxFrameSize, 2000);
  EXPECT_TRUE(got.ok()) << (got.ok() ? "" : got.error().message());
  M m{};
  if (!got.ok() || !*got) return m;
  EXPECT_EQ((*got)->id, want_id);
  EXPECT_EQ(decode(**got, &m), Err::Ok);
  return m;
}

TEST(ProtoIo, FramesBothWaysAndPipelined) {
  Pair p;
  std::vector<uint8_t> buf;
  ASSERT_TRUE(send_msg(p.a.get(), 1, Commit{5, "src/a.c", "/p/.vrift/staging/1"}, 1000).ok());
  ASSERT_TRUE(send_msg(p.a.get(), 2, Unlink{5, "src/b.c"}, 1000).ok());
  ASSERT_TRUE(send_msg(p.a.get(), 3, Ping{}, 1000).ok());
  Commit c = recv_as<Commit>(p.b.get(), buf, 1);
  EXPECT_EQ(c.path, "src/a.c");
  EXPECT_EQ(recv_as<Unlink>(p.b.get(), buf, 2).path, "src/b.c");
  recv_as<Ping>(p.b.get(), buf, 3);

  CommitReply r{};
  r.hash[0] = 0xab;
  r.size = 12345;
  ASSERT_TRUE(send_msg(p.b.get(), 1, r, 1000).ok());
  ASSERT_TRUE(send_msg(p.b.get(), 2, ErrorReply{ErrorKind::NoEnt, "no 'src/b.c'"}, 1000).ok());
  EXPECT_TRUE(recv_as<CommitReply>(p.a.get(), buf, 1) == r);
  ErrorReply e = recv_as<ErrorReply>(p.a.get(), buf, 2);
  EXPECT_EQ(e.kind, ErrorKind::NoEnt);
  EXPECT_EQ(e.message, "no 'src/b.c'");
}

TEST(ProtoIo, CleanEndOfStreamAndPeerClosingMidFrame) {
  {
    Pair p;
    p.b.reset();
    std::vector<uint8_t> buf;
    auto got = recv_frame(p.a.get(), buf, kMaxFrameSize, 1000);
    ASSERT_TRUE(got.ok());
    EXPECT_FALSE(got->has_value()) << "EOF between frames is not an error";
  }
  for (size_t cut : {size_t{1}, size_t{7}, kHeaderSize, kHeaderSize + 5}) {
    Pair p;
    uint8_t frame[64];
    size_t n = encode(frame, sizeof frame, 4, Unlink{1, "some/file"});
    ASSERT_GT(n, cut);
    ASSERT_TRUE(send_all(p.b.get(), frame, cut, 1000).ok());
    p.b.reset();
    std::vector<uint8_t> buf;
    auto got = recv_frame(p.a.get(), buf, kMaxFrameSize, 1000);
    ASSERT_FALSE(got.ok()) << cut;
    EXPECT_EQ(got.error().errnum(), ECONNRESET) << got.error().message();
  }
}

TEST(ProtoIo, OversizeFrameRefusedBeforeItsPayload) {
  Pair p;
  uint8_t hdr[kHeaderSize];
  write_header(hdr, MsgType::Commit, 77, 0x7fffffff);
  ASSERT_TRUE(send_all(p.b.get(), hdr, sizeof hdr, 1000).ok());
  std::vector<uint8_t> buf;
  RecvError why;
  auto got = recv_frame(p.a.get(), buf, kMaxFrameSize, 1000, kForever, &why);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().errnum(), EPROTO);
  EXPECT_EQ(why.err, Err::TooLarge);
  EXPECT_EQ(why.id, 77u);
  EXPECT_LT(buf.capacity(), 1024u) << "nothing was reserved for the payload";

  Pair q;
  ASSERT_TRUE(send_all(q.b.get(), reinterpret_cast<const uint8_t*>("HTTP"), 4, 1000).ok());
  auto bad = recv_frame(q.a.get(), buf, kMaxFrameSize, 1000, kForever, &why);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(why.err, Err::BadMagic);
}

TEST(ProtoIo, ReceiveTimeouts) {
  Pair p;
  std::vector<uint8_t> buf;
  auto t0 = std::chrono::steady_clock::now();
  auto got = recv_frame(p.a.get(), buf, kMaxFrameSize, 50);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().errnum(), ETIMEDOUT);
  EXPECT_GE(elapsed_ms(t0), 45);
  EXPECT_LT(elapsed_ms(t0), 1000);

  // An idle peer may wait forever; one that started a frame has rest_timeout_ms to finish it.
  uint8_t frame[64];
  size_t n = encode(frame, sizeof frame, 1, Ping{});
  ASSERT_TRUE(send_all(p.b.get(), frame, n - 3, 1000).ok());
  t0 = std::chrono::steady_clock::now();
  got = recv_frame(p.a.get(), buf, kMaxFrameSize, kForever, 50);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().errnum(), ETIMEDOUT);
  EXPECT_LT(elapsed_ms(t0), 1000);
}

TEST(ProtoIo, SendTimesOutOnAFullSocketAndPeerGoneIsEpipe) {
  Pair p;
  std::vector<uint8_t> big(8 << 20, 0x55); // more than any socket buffer
  auto t0 = std::chrono::steady_clock::now();
  Status s = send_all(p.a.get(), big.data(), big.size(), 50);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().errnum(), ETIMEDOUT);
  EXPECT_LT(elapsed_ms(t0), 1000);

  p.b.reset(); // would raise SIGPIPE and kill this test without MSG_NOSIGNAL
  Status gone = send_msg(p.a.get(), 1, Ping{}, 1000);
  ASSERT_FALSE(gone.ok());
  EXPECT_TRUE(gone.error().errnum() == EPIPE || gone.error().errnum() == ECONNRESET)
      << gone.error().message();
}

// A minimal daemon on one connection: greets, then answers STATUS and UNLINK until EOF.
void fake_daemon(int fd, Hello ours, Status* greet_result) {
  auto g = serve_hello(fd, ours, 2000);
  *greet_result = g.ok() ? Status{} : Status(fail(g.error()));
  if (!g) return;
  std::vector<uint8_t> buf;
  for (;;) {
    auto got = recv_frame(fd, buf, ours.max_frame, 2000);
    if (!got || !*got) return;
    const Frame& f = **got;
    Err e = visit(f, [&](const auto& m) {
      using M = std::decay_t<decltype(m)>;
      if constexpr (std::is_same_v<M, StatusQuery>)
        (void)send_msg(fd, f.id, StatusReply{42, 1, 1, 5, 6, 7, 8, 9, "0.1.0", "/store"}, 1000);
      else if constexpr (std::is_same_v<M, Unlink>)
        (void)send_error(fd, f.id, kind_of_errno(ENOENT), "no such file: " + std::string(m.path));
      else
        (void)send_error(fd, f.id, ErrorKind::UnknownRequest, "not here");
    });
    if (e != Err::Ok) (void)send_error(fd, f.id, kind_for(e), err_name(e));
  }
}

TEST(ProtoIo, ClientGreetsAndCalls) {
  Pair p;
  Status greeted;
  Hello ours{1, 1, Role::Daemon, kMaxFrameSize, 0, 4242};
  Joiner daemon{std::thread(fake_daemon, p.b.get(), ours, &greeted)};
  auto c = Client::greet(std::move(p.a), Role::Cli, 2000);
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->daemon().version, 1);
  EXPECT_EQ(c->daemon().pid, 4242u);

  auto st = c->call<StatusReply>(StatusQuery{}, 2000);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(st->pid, 42u);
  EXPECT_EQ(st->store_root, "/store");

  auto un = c->call<OkReply>(Unlink{3, "gone.txt"}, 2000);
  ASSERT_FALSE(un.ok());
  EXPECT_EQ(un.error().errnum(), ENOENT);
  EXPECT_EQ(c->last_error_kind(), ErrorKind::NoEnt);
  EXPECT_NE(un.error().message().find("no such file: gone.txt"), std::string::npos);

  auto wrong = c->call<StatusReply>(Ping{}, 2000); // the daemon answers ERROR: still usable
  ASSERT_FALSE(wrong.ok());
  EXPECT_TRUE(c->connected());
  auto again = c->call<StatusReply>(StatusQuery{}, 2000);
  EXPECT_TRUE(again.ok());

  { auto closing = std::move(c); } // the daemon sees EOF and returns
  daemon.t.join();
  EXPECT_TRUE(greeted.ok());
}

// With kCapHelloStore on both sides the greeting names the daemon's store (vrift run needs no
// STATUS then); a daemon without it leaves the client to ask.
TEST(ProtoIo, TheGreetingNamesTheStoreWithItsCapability) {
  for (uint64_t caps : {kCapabilities, kCapabilities & ~kCapHelloStore}) {
    SCOPED_TRACE(caps);
    Pair p;
    Hello ours{1, 1, Role::Daemon, kMaxFrameSize, caps, 4242};
    Joiner daemon{std::thread([fd = p.b.get(), ours] {
      std::vector<uint8_t> buf;
      auto got = recv_frame(fd, buf, kMaxFrameSize, 2000);
      if (got && *got) (void)answer_hello(fd, **got, ours, 2000, "/the/store");
    })};
    auto c = Client::greet(std::move(p.a), Role::Cli, 2000);
    ASSERT_TRUE(c.ok()) << c.error().message();
    if (caps & kCapHelloStore) {
      ASSERT_TRUE(c->daemon_store().has_value());
      EXPECT_EQ(*c->daemon_store(), "/the/store");
    } else {
      EXPECT_FALSE(c->daemon_store().has_value());
    }
    EXPECT_TRUE(c->daemon().store_root.empty()) << "no view of a buffer that is gone";
    daemon.t.join();
  }
}

TEST(ProtoIo, PipelinedRequestsAreAnsweredInOrder) {
  Pair p;
  Status greeted;
  Hello ours{1, 1, Role::Daemon, kMaxFrameSize, 0, 4242};
  Joiner daemon{std::thread(fake_daemon, p.b.get(), ours, &greeted)};
  auto c = Client::greet(std::move(p.a), Role::Cli, 2000);
  ASSERT_TRUE(c.ok()) << c.error().message();

  // Three requests out before any reply is read.
  ASSERT_TRUE(c->send(StatusQuery{}, 2000).ok());
  ASSERT_TRUE(c->send(Unlink{3, "gone.txt"}, 2000).ok());
  ASSERT_TRUE(c->send(StatusQuery{}, 2000).ok());
  EXPECT_EQ(c->pending(), 3u);
  auto mixed = c->call<StatusReply>(StatusQuery{}, 2000); // would take another's reply
  ASSERT_FALSE(mixed.ok());
  EXPECT_EQ(mixed.error().errnum(), EINVAL);
  EXPECT_EQ(c->pending(), 3u);

  auto first = c->receive<StatusReply>(2000);
  ASSERT_TRUE(first.ok()) << first.error().message();
  EXPECT_EQ(first->store_root, "/store");
  auto second = c->receive<OkReply>(2000); // an ERROR reply: the connection stays usable
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().errnum(), ENOENT);
  EXPECT_TRUE(c->connected());
  auto third = c->receive<StatusReply>(2000);
  ASSERT_TRUE(third.ok()) << third.error().message();
  EXPECT_EQ(c->pending(), 0u);
  auto none = c->receive<StatusReply>(2000);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().errnum(), EINVAL);

  // A reply of another type than the one received for breaks the connection, and what was
  // still pending fails at once.
  ASSERT_TRUE(c->send(StatusQuery{}, 2000).ok());
  ASSERT_TRUE(c->send(StatusQuery{}, 2000).ok());
  auto wrong = c->receive<OkReply>(2000);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().errnum(), EPROTO);
  EXPECT_FALSE(c->connected());
  auto after = c->receive<StatusReply>(2000);
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().errnum(), EPIPE);

  { auto closing = std::move(c); }
  daemon.t.join();
  EXPECT_TRUE(greeted.ok());
}

// Queued requests go out together in one write at flush(), nothing before it: the daemon reads
// them at once and answers them all before its own work (vrift run's opens and lease).
TEST(ProtoIo, QueuedRequestsGoOutInOneWrite) {
  Pair p;
  const int daemon_fd = p.b.get();
  Joiner daemon{std::thread([daemon_fd] {
    Hello ours{1, 1, Role::Daemon, kMaxFrameSize, 0, 4242};
    (void)serve_hello(daemon_fd, ours, 2000);
  })};
  auto c = Client::greet(std::move(p.a), Role::Cli, 2000);
  ASSERT_TRUE(c.ok()) << c.error().message();
  daemon.t.join();
  ASSERT_TRUE(c->queue(StatusQuery{}).ok());
  ASSERT_TRUE(c->queue(Unlink{3, "gone.txt"}).ok());
  EXPECT_EQ(c->pending(), 2u);
  uint8_t in[4096];
  EXPECT_LT(::recv(daemon_fd, in, sizeof in, MSG_DONTWAIT), 0) << "nothing sent before flush()";
  ASSERT_TRUE(c->flush(2000).ok());
  const ssize_t n = ::recv(daemon_fd, in, sizeof in, MSG_DONTWAIT);
  ASSERT_GT(n, 0);
  Frame f1, f2;
  size_t used1 = 0, used2 = 0;
  ASSERT_EQ(read_frame(in, static_cast<size_t>(n), kMaxFrameSize, &f1, &used1), Err::Ok);
  ASSERT_EQ(read_frame(in + used1, static_cast<size_t>(n) - used1, kMaxFrameSize, &f2, &used2),
            Err::Ok)
      << "both requests in the one read";
  EXPECT_EQ(used1 + used2, static_cast<size_t>(n));
  EXPECT_EQ(f1.type, MsgType::StatusQuery);
  EXPECT_EQ(f2.type, MsgType::Unlink);
  ASSERT_TRUE(
      send_msg(daemon_fd, f1.id, StatusReply{42, 1, 1, 5, 6, 7, 8, 9, "0.1.0", "/s"}, 1000));
  ASSERT_TRUE(send_error(daemon_fd, f2.id, kind_of_errno(ENOENT), "no such file"));
  auto st = c->receive<StatusReply>(2000);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(st->pid, 42u);
  auto un = c->receive<OkReply>(2000);
  ASSERT_FALSE(un.ok());
  EXPECT_EQ(un.error().errnum(), ENOENT);
  EXPECT_TRUE(c->flush(2000).ok()) << "nothing queued: nothing to do";
}

TEST(ProtoIo, VersionMismatchIsRefusedAndBothSidesKnowWhy) {
  Pair p;
  Status greeted;
  Hello future{2, 3, Role::Daemon, kMaxFrameSize, 0, 1};
  Joiner daemon{std::thread(fake_daemon, p.b.get(), future, &greeted)};
  auto c = Client::greet(std::move(p.a), Role::Cli, 2000);
  daemon.t.join();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().errnum(), EPROTONOSUPPORT);
  EXPECT_NE(c.error().message().find("client speaks protocol 1..1, daemon 2..3"), std::string::npos)
      << c.error().message();
  ASSERT_FALSE(greeted.ok());
  EXPECT_EQ(greeted.error().errnum(), EPROTONOSUPPORT);
}

TEST(ProtoIo, FirstFrameMustBeHello) {
  Pair p;
  Status greeted;
  Joiner daemon{std::thread(fake_daemon, p.b.get(), Hello{}, &greeted)};
  ASSERT_TRUE(send_msg(p.a.get(), 5, Ping{}, 1000).ok());
  std::vector<uint8_t> buf;
  ErrorReply e = recv_as<ErrorReply>(p.a.get(), buf, 5);
  EXPECT_EQ(e.kind, ErrorKind::OutOfSequence);
  daemon.t.join();
  EXPECT_FALSE(greeted.ok());
}

// A Unix socket listening at PATH (invalid if it could not be made).
UniqueFd listening(const std::string& path) {
  UniqueFd srv(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::bind(srv.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(srv.get(), 4) != 0)
    srv.reset();
  return srv;
}

TEST(ProtoIo, ConnectAndPeerCredentials) {
  char tmpl[] = "/tmp/vrift-proto-test.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl, path = dir + "/d.sock";

  auto none = connect_unix(path, 100);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().errnum(), ENOENT);
  auto too_long = connect_unix("/tmp/" + std::string(200, 'x'), 100);
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.error().errnum(), ENAMETOOLONG);

  UniqueFd srv = listening(path);
  ASSERT_TRUE(srv.valid());
  auto c = connect_unix(path, 1000);
  ASSERT_TRUE(c.ok()) << c.error().message();
  UniqueFd conn(::accept4(srv.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(conn.valid());
  auto cred = peer_credentials(conn.get());
  ASSERT_TRUE(cred.ok());
  EXPECT_EQ(cred->uid, ::getuid());
  EXPECT_EQ(cred->pid, ::getpid());
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());
}

// begin_connect() greets without waiting: the HELLO is on the socket before the daemon has even
// accepted the connection, calls wait for finish_connect(), which takes the answer.
TEST(ProtoIo, BeginConnectGreetsBeforeTheDaemonAnswers) {
  char tmpl[] = "/tmp/vrift-proto-test.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl, path = dir + "/d.sock";
  auto none = Client::begin_connect(path, Role::Cli, 100);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().errnum(), ENOENT);

  UniqueFd srv = listening(path);
  ASSERT_TRUE(srv.valid());
  for (bool answer : {true, false}) {
    SCOPED_TRACE(answer ? "the daemon answers" : "the daemon hangs up");
    auto c = Client::begin_connect(path, Role::Cli, 1000);
    ASSERT_TRUE(c.ok()) << c.error().message();
    EXPECT_FALSE(c->greeted());
    auto early = c->call<StatusReply>(StatusQuery{}, 100);
    ASSERT_FALSE(early.ok()) << "a call before the greeting's answer";

    UniqueFd conn(::accept4(srv.get(), nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_TRUE(conn.valid());
    std::vector<uint8_t> buf;
    auto hello = recv_frame(conn.get(), buf, kMaxFrameSize, 0); // there already: no waiting
    ASSERT_TRUE(hello.ok() && *hello) << "the greeting was not sent";
    EXPECT_EQ((*hello)->type, MsgType::Hello);
    if (answer) {
      Hello ours{1, 1, Role::Daemon, kMaxFrameSize, kCapabilities, 4242};
      ASSERT_TRUE(answer_hello(conn.get(), **hello, ours, 2000, "/the/store").ok());
      auto done = c->finish_connect(2000);
      ASSERT_TRUE(done.ok()) << done.error().message();
      EXPECT_TRUE(c->greeted());
      EXPECT_EQ(c->daemon().pid, 4242u);
      ASSERT_TRUE(c->daemon_store().has_value());
      EXPECT_EQ(*c->daemon_store(), "/the/store");
      EXPECT_TRUE(c->finish_connect(0).ok()) << "finishing twice is harmless";
    } else {
      conn.reset();
      auto done = c->finish_connect(2000);
      ASSERT_FALSE(done.ok());
      EXPECT_EQ(done.error().errnum(), ECONNRESET);
      EXPECT_FALSE(c->greeted());
    }
  }
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());
}

} // namespace
} // namespace vrift::proto

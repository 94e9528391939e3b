// The loop: poll(listen socket + every client) with a timeout that drives the timers (session
// linger, idle checkpoints, idle exit). Requests of one connection are served in order; a
// failing request is an ERROR reply and the daemon goes on serving.
#include "vrift/daemon/server.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstddef>
#include <cstring>
#include <map>
#include <set>
#include <thread>

#include "vrift/daemon/session.h"
#include "vrift/daemon/skeleton_watch.h"
#include "vrift/manifest/manifest.h"
#include "vrift/proto/client.h"
#include "vrift/proto/io.h"
#include "vrift/util/fs.h"
#include "vrift/vdir/vdir_reader.h"
#include "vrift/vdir/vdir_writer.h"

namespace vrift {

namespace {

using Clock = std::chrono::steady_clock;

// After serving a request the loop polls without sleeping for this long before it blocks again.
// A client usually sends its next request within microseconds of the reply (a burst of commits,
// a run's session calls). Waking a sleeping process on another CPU costs 150-300 us on a
// virtual machine (the idle vCPU halts and needs an inter-processor interrupt); measured with
// bench/daemon_bench.sh on tmpfs, the client and daemon on different CPUs, a commit took a
// 379 us median without either side spinning and 48 us with both (the client spins too, see
// proto/client.cpp). The cost is bounded: at most this much CPU time per request served.
constexpr auto kSpinAfterRequest = std::chrono::microseconds(200);

// How long a zero-config run's open waits for the look at the tree after the last walk
// (SkeletonWatch's thread) before it is told "not vouched for" and walks instead: about what a
// walk of dataset A costs, which a longer wait would not save.
constexpr int kTreeCheckWaitMs = 300;

// How often at most the daemon reads a followed tree's events (SkeletonWatch::drain): the delay
// a mark may take after a change made outside the session, against one wake-up per event.
constexpr int kFollowEveryMs = 5;

// The files that go with a VDir: the same name with another extension for ".vdir", the listing
// (".listing") and the stale map the shims share (".stale", vdir_layout.h); the shim derives
// them the same way (shim/core/state.h, vdir_sibling).
std::string vdir_sibling(const std::string& vdir_path, const char* ext) {
  return vdir_path.substr(0, vdir_path.size() - 5) + ext;
}
std::string listing_path(const std::string& vdir_path) {
  return vdir_sibling(vdir_path, ".listing");
}
std::string stale_path(const std::string& vdir_path) { return vdir_sibling(vdir_path, ".stale"); }
// Removes a session's files: the VDir, its listing and its stale map.
void remove_vdir_files(const std::string& vdir_path) {
  ::unlink(vdir_path.c_str());
  ::unlink(listing_path(vdir_path).c_str());
  ::unlink(stale_path(vdir_path).c_str());
}

uint64_t first_session_id() {
  uint64_t r = 0;
  if (::getrandom(&r, sizeof r, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof r))
    r = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  return (r >> 16) | 1; // below 2^48, never 0
}

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Mirrors a session's tree into its VDir.
class VdirSink : public IndexSink {
public:
  explicit VdirSink(vdir::VdirWriter& w) : m_w(w) {}
  Status upsert(const ManifestEntry& e) override {
    vdir::VdirStat st;
    st.size = e.size;
    st.mtime_ns = st.ctime_ns = st.atime_ns = e.mtime_ns;
    uint32_t type = e.type == EntryType::Dir       ? S_IFDIR
                    : e.type == EntryType::Symlink ? S_IFLNK
                                                   : S_IFREG;
    st.mode = type | (e.mode & 07777);
    st.uid = ::getuid();
    st.gid = ::getgid();
    st.nlink = e.type == EntryType::Dir ? 2 : 1;
    st.flags = vdir::kFlagDirty;
    std::memcpy(st.blob_hash, e.hash.bytes.data(), 32);
    return m_w.upsert(e.path, st, e.target);
  }
  Status remove(const std::string& path) override { return m_w.remove(path); }

private:
  vdir::VdirWriter& m_w;
};

// The daemon's own hold on a session's stale map (docs/vdir.md), to mark what its tree watch sees
// change on disk: a reader over the VDir's mapping with the map attached.
struct StaleMarker {
  vdir::VdirMapping map;
  vdir::VdirReader reader;
  StaleMarker() = default;
  StaleMarker(const StaleMarker&) = delete;
  StaleMarker& operator=(const StaleMarker&) = delete;
  ~StaleMarker() { vdir::vdir_unmap(&map); }
};

struct LiveSession {
  uint64_t id = 0;
  std::string key; ///< root, manifest path and the manifest file's identity (open_session)
  std::unique_ptr<vdir::VdirWriter> vdir;
  std::unique_ptr<VdirSink> sink;
  std::unique_ptr<Session> session;
  std::string root;
  std::string manifest;               ///< the manifest file's path
  SkeletonWatch skeleton;             ///< whether its directories exist (SESSION_REPLY flags)
  std::unique_ptr<StaleMarker> stale; ///< null when the stale map could not be mapped
  Clock::time_point next_drain;       ///< its tree watch is polled again from then on
  bool watch_tree = false; ///< a client asked for the files to be watched too (kOpenWatchTree)
  int64_t arm_unchanged_before_ns = 0; ///< the next arm's proof of age (0: the skeleton only)
  int refs = 0;
  bool dirty = false;
  bool ending = false; ///< replaced by a newer tree of its root: ended after this round's replies
  Clock::time_point last_change, released;
};

// SESSION_LEASE: references to sessions held for as long as a process lives (its pidfd turns
// readable when it exits), whatever becomes of the connection that asked.
struct Lease {
  UniqueFd pidfd;
  std::multiset<uint64_t> sessions;
};

struct Conn {
  UniqueFd fd;
  std::vector<uint8_t> in; // received bytes not yet served: at most the start of one frame
  bool greeted = false;    // its HELLO was answered
  bool answered = false;   // the last serve() answered a request (not only the greeting)
  bool broken = false;     // a reply could not be sent: the connection goes
  // Since when the greeting, or the rest of a started frame, has been awaited (unset: nothing
  // is): timers() drops a connection that keeps the daemon waiting too long.
  Clock::time_point waiting_since{};
  uint32_t max_frame = proto::kMaxFrameSize;
  uint64_t caps = 0;                // the negotiated capabilities
  pid_t pid = 0;                    // the peer process (SO_PEERCRED)
  std::multiset<uint64_t> sessions; // references this connection holds
};

class Server {
public:
  Server(const Paths& p, const ServerOptions& o, std::unique_ptr<Store> s)
      : m_paths(p), m_opts(o), m_store(std::move(s)), m_started(Clock::now()) {}

  Status listen_on(const std::string& sock);
  Status loop();

private:
  void accept_one();
  // Takes what C's client has sent, without waiting for more, and serves every whole frame in
  // it; false when the connection must close.
  bool serve(Conn& c);
  bool greet(Conn& c, const proto::Frame& f);
  bool handle(Conn& c, const proto::Frame& f);
  void drop(Conn& c);
  void timers();
  void arm_skeletons();
  void end_replaced();
  // Marks in LS's stale map the entries its tree watch has seen change since the last call.
  void mark_changes(LiveSession& ls);
  Status lease(const Conn& c);
  void end_lease(int pidfd);
  Status shutdown_sessions();
  Result<proto::SessionReply> open_session(Conn& c, const proto::SessionOpen& req);
  using SessionMap = std::map<uint64_t, LiveSession>;
  // Checkpoints the session if it changed, forgets it and removes its VDir and listing files.
  SessionMap::iterator end_session(SessionMap::iterator it);
  // A new session (no reference yet) for KEY: the tree, the VDir and its listing. A lingering
  // session for the same root ends first.
  Result<uint64_t> create_session(const std::string& root, const std::string& manifest,
                                  const std::string& key);
  LiveSession* find(uint64_t id);
  template <class M> void reply(Conn& c, uint32_t id, const M& m) {
    if (!proto::send_msg(c.fd.get(), id, m, proto::kServerFrameTimeoutMs)) c.broken = true;
  }
  // A client that does not take its replies (its socket full for kServerFrameTimeoutMs) is cut
  // off after the first one it misses, not waited for once per pipelined request.
  void send_error(Conn& c, uint32_t id, proto::ErrorKind kind, const std::string& msg) {
    if (!proto::send_error(c.fd.get(), id, kind, msg)) c.broken = true;
  }
  void reply_error(Conn& c, uint32_t id, const Error& e) {
    int en = e.errnum() ? e.errnum() : EIO;
    send_error(c, id, proto::kind_of_errno(en), e.message());
  }
  void reply_status(Conn& c, uint32_t id, const Status& s) {
    if (s.ok()) {
      reply(c, id, proto::OkReply{});
    } else {
      reply_error(c, id, s.error());
    }
  }

  Paths m_paths;
  ServerOptions m_opts;
  std::unique_ptr<Store> m_store;
  UniqueFd m_listen;
  std::map<int, Conn> m_conns;
  SessionMap m_sessions;
  std::map<std::string, uint64_t> m_by_key;
  std::set<uint64_t> m_arm_pending;    // sessions whose skeleton is watched after this round
  std::vector<uint64_t> m_end_pending; // sessions ending after this round (LiveSession::ending)
  std::vector<uint64_t> m_followed;    // the sessions whose tree watch this round's poll holds
  std::map<int, Lease> m_leases;       // by pidfd
  // Session ids start at a random point: any connection may name a live session, and a process
  // that outlived a daemon must not reach another project's session through its old id.
  uint64_t m_next_session = first_session_id();
  uint64_t m_commits = 0, m_mutations = 0;
  bool m_stop = false;
  Clock::time_point m_spin_until{};  ///< poll without sleeping until then (kSpinAfterRequest)
  Clock::time_point m_next_timers{}; ///< while spinning, the timers run again from then on
  Clock::time_point m_started, m_last_activity = Clock::now();
};

Status Server::listen_on(const std::string& sock) {
  m_listen.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!m_listen.valid()) return fail_os("creating the daemon socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (sock.size() >= sizeof addr.sun_path)
    return fail("socket path '" + sock + "' is too long", ENAMETOOLONG);
  std::memcpy(addr.sun_path, sock.c_str(), sock.size() + 1);
  ::unlink(sock.c_str()); // a stale socket of a dead daemon (we hold the daemon lock)
  mode_t old = ::umask(0177);
  int rc = ::bind(m_listen.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::umask(old);
  if (rc != 0) return fail_os("binding '" + sock + "'");
  if (::listen(m_listen.get(), 128) != 0) return fail_os("listening on '" + sock + "'");
  return {};
}

void Server::accept_one() {
  for (;;) {
    int fd = ::accept4(m_listen.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    UniqueFd cfd(fd);
    // Another user gets nothing: not even a greeting.
    auto cred = proto::peer_credentials(fd);
    if (!cred.ok() || cred->uid != ::getuid()) continue;
    // The greeting is its first frame, served like any other: a client that connects and then
    // stops (a debugger, ^Z) keeps nobody else waiting.
    Conn c;
    c.max_frame = proto::kMaxFrameSize;
    c.pid = cred->pid;
    c.fd = std::move(cfd);
    c.waiting_since = Clock::now();
    m_conns.emplace(fd, std::move(c));
    m_last_activity = Clock::now();
  }
}

LiveSession* Server::find(uint64_t id) {
  // Any connection may use a live session, not only the one that opened it: the shim learns
  // the id from VRIFT_PROJECTIONS and never opens one (docs/protocol.md). Every connection is
  // the daemon's own user's (SO_PEERCRED), and the session's lifetime stays with those that
  // opened or leased it.
  auto it = m_sessions.find(id);
  return it == m_sessions.end() || it->second.ending ? nullptr : &it->second;
}

Result<proto::SessionReply> Server::open_session(Conn& c, const proto::SessionOpen& req) {
  std::string root(req.root), manifest(req.manifest);
  // A session is reused only for the same manifest file as it was: a manifest rewritten since
  // (a re-ingest, zero-config's transient ingest) is a new tree and gets a new session, while a
  // lingering one for the old file runs out on its own.
  // The daemon's own checkpoints rewrite the file too: a file a live session wrote is still that
  // session's tree (it is re-keyed), or a second client would get a second tree sharing the
  // first one's journal and manifest.
  // The key has the id in the file's header too: a file rewritten in place to the same size
  // within one tick of the file system's clock (a chmod-only change keeps a manifest's size)
  // keeps its identity, not its tree.
  UniqueFd mfd(::open(manifest.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  struct stat mst {};
  if (!mfd.valid() || ::fstat(mfd.get(), &mst) != 0) return fail_os("manifest '" + manifest + "'");
  const FileIdentity ident = FileIdentity::of(mst);
  char tree_id[sizeof(ManifestHeader::id)] = {};
  if (::pread(mfd.get(), tree_id, sizeof tree_id, offsetof(ManifestHeader, id)) !=
      static_cast<ssize_t>(sizeof tree_id))
    std::memset(tree_id, 0, sizeof tree_id); // too short: create_session says what is wrong
  mfd.reset();
  std::string key =
      root + '\0' + manifest + '\0' + ident.str() + '\0' + std::string(tree_id, sizeof tree_id);
  auto existing = m_by_key.find(key);
  uint64_t id = 0;
  if (existing == m_by_key.end()) {
    for (auto& [sid, live] : m_sessions) {
      if (!live.ending && live.root == root && live.session->manifest_path() == manifest &&
          live.session->written_manifest() == ident) {
        m_by_key.erase(live.key);
        live.key = key;
        existing = m_by_key.emplace(key, sid).first;
        break;
      }
    }
  }
  if (existing != m_by_key.end()) {
    id = existing->second;
  } else {
    VRIFT_ASSIGN(id, create_session(root, manifest, key));
  }
  LiveSession& ls = m_sessions[id];
  ++ls.refs;
  c.sessions.insert(id);
  proto::SessionReply r{id, ls.vdir->live_count(), ls.vdir->path()};
  r.has_flags = (c.caps & proto::kCapSessionFlags) != 0;
  const bool watch = req.has_tail && (req.flags & proto::kOpenWatchTree) != 0;
  ls.watch_tree = ls.watch_tree || watch;
  // A run asking whether the tree is unchanged while the look at it after the last walk is still
  // going on (a first walk links every file, and each is read again: 0.1-0.25 s for dataset B)
  // waits for it rather than walk again, if it ends soon; the loop serves no one else meanwhile.
  if (watch && req.unchanged_before_ns == 0 && ls.skeleton.tree_pending())
    (void)ls.skeleton.wait_tree(kTreeCheckWaitMs);
  const bool skeleton = ls.skeleton.clean(ls.root);
  mark_changes(ls);
  if (skeleton) r.flags |= proto::kSessionSkeletonClean;
  // The walk's time says how old the tree is only if the tree is the manifest that walk produced.
  // Two zero-config runs walking one project at once: the one that began first may write its
  // manifest last, and the other's time would then vouch for changes its walk saw but the file
  // now on disk does not have. A client that cannot say (an older one) is taken at its word.
  bool walked = watch && req.unchanged_before_ns != 0;
  if (walked && (c.caps & proto::kCapWalkedId) != 0) {
    const std::optional<Hash>& tid = ls.session->file_tree_id();
    walked = req.has_walked_id && tid && tid->bytes == req.walked_id;
  }
  if (skeleton && ls.watch_tree && ls.skeleton.tree_unchanged()) {
    r.flags |= proto::kSessionTreeClean;
  } else if (watch ? walked : !skeleton) {
    // The client checks the skeleton itself this time (and, asking for the tree, has just walked
    // it): armed after the replies, the next run need not. A zero-config client that only asks
    // (no walk yet) walks next and opens again with the walk's time: that open arms.
    ls.arm_unchanged_before_ns = watch ? static_cast<int64_t>(req.unchanged_before_ns) : 0;
    m_arm_pending.insert(id);
  }
  return r;
}

Server::SessionMap::iterator Server::end_session(SessionMap::iterator it) {
  LiveSession& ls = it->second;
  if (ls.dirty) (void)ls.session->checkpoint();
  std::string vpath = ls.vdir->path();
  if (auto k = m_by_key.find(ls.key); k != m_by_key.end() && k->second == ls.id) m_by_key.erase(k);
  it = m_sessions.erase(it);
  remove_vdir_files(vpath);
  return it;
}

Result<uint64_t> Server::create_session(const std::string& root, const std::string& manifest,
                                        const std::string& key) {
  // A lingering session for the same root (nobody holds it) projects an older manifest: it is
  // ended right after this round's replies rather than after its linger, so that re-ingests
  // leave one VDir and one inotify instance per root, not one per ingest. Not before the reply:
  // ending one is a third of what the client waits for here (dataset A: 21-33 ms of 46-68, most
  // of it closing the inotify instance of its 3,000 watches, which since session 14 happens on a
  // thread of its own: SkeletonWatch::reset, and freeing its tree).
  for (auto& [sid, live] : m_sessions) {
    if (live.refs == 0 && live.root == root && !live.ending) {
      live.ending = true;
      if (auto k = m_by_key.find(live.key); k != m_by_key.end() && k->second == sid)
        m_by_key.erase(k);
      m_end_pending.push_back(sid);
    }
  }
  LiveSession ls;
  ls.id = m_next_session++;
  ls.key = key;
  ls.root = root;
  ls.manifest = manifest;
  VRIFT_ASSIGN(ls.session, Session::open(m_paths, *m_store, root, manifest, nullptr,
                                         SessionOptions{m_opts.sync_journal, 0}));
  VRIFT_TRY(fs::mkdir_p(m_paths.vdir_dir, 0700));
  std::string vpath = m_paths.vdir_dir + "/" + blake3(key).hex().substr(0, 32) + ".vdir";
  VRIFT_ASSIGN(vdir::VdirWriter w, vdir::VdirWriter::create(vpath));
  ls.vdir = std::make_unique<vdir::VdirWriter>(std::move(w));
  // Fill from the (checkpointed) tree before the first reply: the first stat already hits.
  // When the tree is exactly the manifest file's entries (no journal replayed) and the file
  // names this root as its origin, that file is the manifest the tree would serialise to: use
  // it as it is (serialising 10,000 entries and validating them again was a third of opening).
  std::optional<Manifest> opened = ls.session->take_opened_manifest();
  if (opened && opened->origin() != root) opened.reset();
  if (!opened) {
    VRIFT_ASSIGN(std::string bytes, serialize_manifest(ls.session->tree().to_vector(), root));
    VRIFT_ASSIGN(Manifest built, Manifest::from_bytes(bytes));
    opened = std::move(built);
  }
  const Manifest& m = *opened;
  // The shim lists directories from this immutable copy of what the VDir was filled with
  // (written by rename, so a mapping of an older one stays valid; docs/shim.md, "Directories").
  // Not durable: it dies with the session, and is written anew when one opens.
  VRIFT_TRY(fs::write_file_atomic(listing_path(vpath), m.bytes(), 0400, /*durable=*/false)
                .context("writing the listing"));
  vdir::VdirRoot vroot;
  struct stat rst {};
  if (::stat(root.c_str(), &rst) == 0) {
    vroot.mode = rst.st_mode & 07777;
    vroot.mtime_ns = fs::ns(rst.st_mtim);
    vroot.size = static_cast<uint64_t>(rst.st_size);
  }
  vroot.uid = ::getuid();
  vroot.gid = ::getgid();
  VRIFT_TRY(ls.vdir->fill_from_manifest(m, vroot));
  // A new stale map, all clear, for every new VDir; after the fill, which decides how much of
  // it to allocate, and before the reply that names the VDir to the shims.
  VRIFT_TRY(ls.vdir->create_stale_map(stale_path(vpath)));
  if (auto marker = std::make_unique<StaleMarker>();
      vdir::vdir_map_stale(stale_path(vpath).c_str(), &marker->map) == 0 &&
      marker->reader.attach(ls.vdir->data(), ls.vdir->size()) == vdir::VdirAttach::kOk &&
      marker->reader.attach_stale(const_cast<void*>(marker->map.base), marker->map.len) ==
          vdir::VdirAttach::kOk)
    ls.stale = std::move(marker);
  ls.sink = std::make_unique<VdirSink>(*ls.vdir);
  ls.session->set_sink(ls.sink.get());
  const uint64_t id = ls.id;
  m_by_key[key] = id;
  m_sessions[id] = std::move(ls);
  return id;
}

bool Server::serve(Conn& c) {
  bool eof = false;
  uint8_t chunk[16384];
  while (c.in.size() < static_cast<size_t>(c.max_frame) + sizeof chunk) {
    const ssize_t n = ::recv(c.fd.get(), chunk, sizeof chunk, MSG_DONTWAIT);
    if (n > 0) {
      c.in.insert(c.in.end(), chunk, chunk + n);
      if (static_cast<size_t>(n) < sizeof chunk) break;
      continue;
    }
    if (n == 0) {
      eof = true;
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    return false;
  }
  size_t off = 0;
  bool keep = true;
  c.answered = false;
  while (keep && !c.broken) {
    proto::Frame f;
    size_t used = 0;
    const proto::Err e =
        proto::read_frame(c.in.data() + off, c.in.size() - off, c.max_frame, &f, &used);
    if (e == proto::Err::NeedMore) break;
    if (e != proto::Err::Ok) { // a framing error: the stream cannot go on
      uint32_t id = 0;
      if (e != proto::Err::BadMagic && c.in.size() - off >= 12)
        std::memcpy(&id, c.in.data() + off + 8, sizeof id);
      send_error(c, id, proto::kind_for(e), proto::err_name(e));
      return false;
    }
    if (c.greeted) {
      keep = handle(c, f);
      // A lease ends `vrift run`'s exchange: it execs CMD next, nothing follows.
      c.answered = f.type != proto::MsgType::SessionLease;
    } else {
      keep = greet(c, f);
    }
    off += used;
  }
  c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(off));
  if (!c.in.empty()) {
    if (off > 0 || c.waiting_since == Clock::time_point{}) c.waiting_since = Clock::now();
  } else if (c.greeted) {
    c.waiting_since = {};
  }
  return keep && !eof && !c.broken;
}

bool Server::greet(Conn& c, const proto::Frame& f) {
  proto::Hello ours;
  ours.role = proto::Role::Daemon;
  ours.pid = static_cast<uint32_t>(::getpid());
  ours.capabilities = m_opts.capabilities;
  auto g = proto::answer_hello(c.fd.get(), f, ours, proto::kServerFrameTimeoutMs, m_store->root());
  if (!g.ok()) return false;
  c.caps = g->reply.capabilities;
  c.greeted = true;
  m_last_activity = Clock::now();
  return true;
}

bool Server::handle(Conn& c, const proto::Frame& fr) {
  m_last_activity = Clock::now();
  if (fr.type == proto::MsgType::Hello) { // one greeting per connection (protocol 3.4)
    send_error(c, fr.id, proto::ErrorKind::OutOfSequence, "HELLO after the greeting");
    return false;
  }
  uint32_t id = fr.id;
  auto need = [&](uint64_t sid) -> LiveSession* {
    LiveSession* ls = find(sid);
    if (!ls) {
      send_error(c, id, proto::ErrorKind::UnknownSession, "no such session " + std::to_string(sid));
    }
    return ls;
  };
  auto changed = [&](LiveSession& ls, const Status& s) {
    if (s.ok()) {
      ls.skeleton.reset(); // the tree may have directories the disk has not
      ls.dirty = true;
      ls.last_change = Clock::now();
      ++m_mutations;
    }
    reply_status(c, id, s);
  };
  proto::Err e = proto::visit(fr, [&](const auto& msg) {
    using M = std::decay_t<decltype(msg)>;
    if constexpr (std::is_same_v<M, proto::Ping>) {
      reply(c, id, proto::OkReply{});
    } else if constexpr (std::is_same_v<M, proto::StatusQuery>) {
      proto::StatusReply r;
      r.pid = static_cast<uint32_t>(::getpid());
      r.sessions = static_cast<uint32_t>(m_sessions.size());
      r.connections = static_cast<uint32_t>(m_conns.size());
      r.uptime_ns = static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - m_started).count());
      for (const auto& [sid, ls] : m_sessions)
        r.vdir_entries += ls.vdir->live_count();
      r.commits = m_commits;
      r.mutations = m_mutations;
      long pages = 0;
      if (FILE* f2 = std::fopen("/proc/self/statm", "re")) {
        long size = 0;
        if (std::fscanf(f2, "%ld %ld", &size, &pages) != 2) pages = 0;
        std::fclose(f2);
      }
      r.rss_bytes = static_cast<uint64_t>(pages) * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
      r.version = VRIFT_DAEMON_VERSION;
      r.store_root = m_store->root();
      reply(c, id, r);
    } else if constexpr (std::is_same_v<M, proto::Shutdown>) {
      reply(c, id, proto::OkReply{});
      m_stop = true;
    } else if constexpr (std::is_same_v<M, proto::SessionOpen>) {
      auto r = open_session(c, msg);
      if (r.ok()) {
        reply(c, id, *r);
      } else {
        reply_error(c, id, r.error());
      }
    } else if constexpr (std::is_same_v<M, proto::SessionClose>) {
      auto it = c.sessions.find(msg.session);
      if (it == c.sessions.end()) {
        reply_error(c, id, Error("no such session", EBADF));
      } else {
        c.sessions.erase(it);
        LiveSession& ls = m_sessions[msg.session];
        if (--ls.refs == 0) ls.released = Clock::now();
        reply(c, id, proto::OkReply{});
      }
    } else if constexpr (std::is_same_v<M, proto::SessionLease>) {
      reply_status(c, id, lease(c));
    } else if constexpr (std::is_same_v<M, proto::Commit>) {
      if (LiveSession* ls = need(msg.session)) {
        // Mode 0: the staging file's own (protocol: mode and mtime come from it).
        auto r = ls->session->commit(std::string(msg.path), std::string(msg.staging), 0);
        if (r.ok()) {
          ls->skeleton.reset();
          ls->dirty = true;
          ls->last_change = Clock::now();
          ++m_commits;
          proto::CommitReply cr;
          std::memcpy(cr.hash.data(), r->hash.bytes.data(), 32);
          cr.size = r->size;
          reply(c, id, cr);
        } else {
          reply_error(c, id, r.error());
        }
      }
    } else if constexpr (std::is_same_v<M, proto::Unlink>) {
      if (LiveSession* ls = need(msg.session))
        changed(*ls, ls->session->unlink(std::string(msg.path)));
    } else if constexpr (std::is_same_v<M, proto::Rmdir>) {
      if (LiveSession* ls = need(msg.session))
        changed(*ls, ls->session->rmdir(std::string(msg.path)));
    } else if constexpr (std::is_same_v<M, proto::Mkdir>) {
      if (LiveSession* ls = need(msg.session))
        changed(*ls, ls->session->mkdir(std::string(msg.path), msg.mode));
    } else if constexpr (std::is_same_v<M, proto::Rename>) {
      if (LiveSession* ls = need(msg.session)) {
        if (msg.flags & proto::kRenameExchange) {
          reply_error(c, id, Error("RENAME_EXCHANGE is not supported in a projection", EINVAL));
        } else if ((msg.flags & proto::kRenameNoReplace) && ls->session->tree().find(msg.from) &&
                   ls->session->tree().find(msg.to)) {
          reply_error(c, id, Error("'" + std::string(msg.to) + "' exists", EEXIST));
        } else {
          changed(*ls, ls->session->rename(std::string(msg.from), std::string(msg.to)));
        }
      }
    } else if constexpr (std::is_same_v<M, proto::Chmod>) {
      if (LiveSession* ls = need(msg.session))
        changed(*ls, ls->session->chmod(std::string(msg.path), msg.mode,
                                        (msg.flags & proto::kNoFollow) != 0));
    } else if constexpr (std::is_same_v<M, proto::Utimens>) {
      if (LiveSession* ls = need(msg.session)) {
        if (msg.mtime_ns == proto::kTimeOmit) {
          reply(c, id, proto::OkReply{});
        } else {
          int64_t t = msg.mtime_ns == proto::kTimeNow ? now_ns() : msg.mtime_ns;
          changed(*ls, ls->session->utimens(std::string(msg.path), t,
                                            (msg.flags & proto::kNoFollow) != 0));
        }
      }
    } else if constexpr (std::is_same_v<M, proto::Truncate>) {
      if (LiveSession* ls = need(msg.session))
        changed(*ls, ls->session->truncate(std::string(msg.path), msg.length));
    } else if constexpr (std::is_same_v<M, proto::Symlink>) {
      if (LiveSession* ls = need(msg.session)) {
        changed(*ls, ls->session->symlink(std::string(msg.target), std::string(msg.path)));
      }
    } else if constexpr (std::is_same_v<M, proto::Link>) {
      if (LiveSession* ls = need(msg.session))
        changed(*ls, ls->session->link(std::string(msg.from), std::string(msg.to),
                                       (msg.flags & proto::kLinkFollow) != 0));
    } else {
      send_error(c, id, proto::ErrorKind::UnknownRequest,
                 std::string("not a request: ") + proto::type_name(fr.type));
    }
  });
  if (e != proto::Err::Ok) {
    send_error(c, id, proto::kind_for(e), proto::err_name(e));
    return !proto::is_fatal(e);
  }
  return true;
}

void Server::drop(Conn& c) {
  for (uint64_t sid : c.sessions) {
    auto it = m_sessions.find(sid);
    if (it != m_sessions.end() && --it->second.refs == 0) it->second.released = Clock::now();
  }
  c.sessions.clear();
}

Status Server::lease(const Conn& c) {
  if (c.sessions.empty()) return fail("this connection holds no session to lease", EINVAL);
  UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, c.pid, 0)));
  if (!fd.valid()) return fail_os("watching process " + std::to_string(c.pid));
  Lease l;
  l.sessions = c.sessions;
  for (uint64_t sid : l.sessions)
    ++m_sessions[sid].refs;
  l.pidfd = std::move(fd);
  int key = l.pidfd.get();
  m_leases.emplace(key, std::move(l));
  return {};
}

void Server::end_lease(int pidfd) {
  auto it = m_leases.find(pidfd);
  if (it == m_leases.end()) return;
  for (uint64_t sid : it->second.sessions) {
    auto s = m_sessions.find(sid);
    if (s != m_sessions.end() && --s->second.refs == 0) s->second.released = Clock::now();
  }
  m_leases.erase(it);
}

// After the replies: a client told "not clean" checks the skeleton itself meanwhile (and creates
// what is missing), so the watches are armed off its critical path, for the next run.
void Server::end_replaced() {
  for (uint64_t id : m_end_pending) {
    if (auto it = m_sessions.find(id); it != m_sessions.end()) end_session(it);
  }
  m_end_pending.clear();
}

void Server::mark_changes(LiveSession& ls) {
  std::vector<SkeletonWatch::Change> changes = ls.skeleton.take_changes();
  if (!ls.stale) return;
  const vdir::VdirReader& r = ls.stale->reader;
  const auto& entries = ls.session->tree().entries();
  for (const SkeletonWatch::Change& c : changes) {
    r.mark_stale(c.path.data(), c.path.size());
    if (!c.gone_dir) continue;
    // Lookups go by the whole path: everything below a directory that went goes with it.
    const std::string prefix = c.path + "/";
    for (auto it = entries.lower_bound(prefix);
         it != entries.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it)
      r.mark_stale(it->first.data(), it->first.size());
  }
}

void Server::arm_skeletons() {
  for (uint64_t id : m_arm_pending) {
    auto it = m_sessions.find(id);
    if (it == m_sessions.end()) continue;
    LiveSession& ls = it->second;
    // (What the old watches saw is kept through the arm and marked below.)
    ls.skeleton.arm(ls.root, ls.session->tree(),
                    ls.watch_tree ? ls.arm_unchanged_before_ns : int64_t{0}, ls.manifest,
                    m_store->root());
    mark_changes(ls);
  }
  m_arm_pending.clear();
}

void Server::timers() {
  auto now = Clock::now();
  // A client that has kept the daemon waiting for its greeting, or for the rest of a frame it
  // started, longer than the protocol allows is cut off.
  for (auto it = m_conns.begin(); it != m_conns.end();) {
    const Conn& c = it->second;
    const int limit = c.greeted ? proto::kServerFrameTimeoutMs : proto::kServerHelloTimeoutMs;
    if (c.waiting_since != Clock::time_point{} &&
        now - c.waiting_since > std::chrono::milliseconds(limit)) {
      drop(it->second);
      it = m_conns.erase(it);
      continue;
    }
    ++it;
  }
  for (auto it = m_sessions.begin(); it != m_sessions.end();) {
    LiveSession& ls = it->second;
    if (ls.dirty && now - ls.last_change > std::chrono::milliseconds(m_opts.checkpoint_idle_ms)) {
      if (ls.session->checkpoint().ok()) ls.dirty = false;
    }
    if (ls.refs == 0 && now - ls.released > std::chrono::milliseconds(m_opts.linger_ms)) {
      // A project watched and unchanged stays known for longer (clean() takes any event).
      const bool watched = ls.watch_tree && ls.skeleton.tree_unchanged() &&
                           ls.skeleton.clean(ls.root) &&
                           now - ls.released <= std::chrono::milliseconds(m_opts.watched_linger_ms);
      mark_changes(ls);
      if (!watched) {
        it = end_session(it);
        continue;
      }
    }
    ++it;
  }
  if (m_conns.empty() && m_sessions.empty() &&
      now - m_last_activity > std::chrono::milliseconds(m_opts.idle_exit_ms)) {
    m_stop = true;
  }
}

Status Server::shutdown_sessions() {
  m_leases.clear();
  Status first;
  for (auto& [id, ls] : m_sessions) {
    Status s = ls.session->checkpoint();
    if (!s.ok() && first.ok()) first = std::move(s);
    remove_vdir_files(ls.vdir->path());
  }
  m_sessions.clear();
  return first;
}

Status Server::loop() {
  std::vector<pollfd> pfds;
  while (!m_stop && !g_stop) {
    pfds.clear();
    pfds.push_back({m_listen.get(), POLLIN, 0});
    for (auto& [fd, c] : m_conns)
      pfds.push_back({fd, POLLIN, 0});
    const size_t leases_at = pfds.size();
    for (auto& [fd, l] : m_leases)
      pfds.push_back({fd, POLLIN, 0});
    // The sessions whose tree watch follows the tree: what changes on disk is marked as it comes,
    // at most once per kFollowEveryMs per session (a program appending to a log in the project
    // would otherwise wake the daemon at every write); the poll then sleeps no longer than that.
    const size_t watches_at = pfds.size();
    m_followed.clear();
    const auto round = Clock::now();
    int timeout = 200;
    for (auto& [id, ls] : m_sessions) {
      if (!ls.stale || !ls.skeleton.follows()) continue;
      if (round < ls.next_drain) {
        timeout = std::min(timeout, kFollowEveryMs);
        continue;
      }
      pfds.push_back({ls.skeleton.fd(), POLLIN, 0});
      m_followed.push_back(id);
    }
    // Right after a request, poll without sleeping for a moment (kSpinAfterRequest): see there.
    const bool spinning = round < m_spin_until;
    int rc = ::poll(pfds.data(), pfds.size(), spinning ? 0 : timeout);
    if (rc < 0 && errno != EINTR) return fail_os("poll");
    if (rc == 0 && spinning) ::sched_yield(); // the client may be waiting for this CPU
    if (rc > 0) {
      for (size_t i = leases_at; i < watches_at; ++i) {
        if (pfds[i].revents) end_lease(pfds[i].fd); // the process is gone
      }
      for (size_t i = watches_at; i < pfds.size(); ++i) {
        if (!pfds[i].revents) continue;
        if (LiveSession* ls = find(m_followed[i - watches_at])) {
          ls->skeleton.drain();
          mark_changes(*ls);
          ls->next_drain = Clock::now() + std::chrono::milliseconds(kFollowEveryMs);
        }
      }
      if (pfds[0].revents & POLLIN) accept_one();
      for (size_t i = 1; i < leases_at; ++i) {
        if (!pfds[i].revents) continue;
        auto it = m_conns.find(pfds[i].fd);
        if (it == m_conns.end()) continue;
        if (serve(it->second)) {
          // From the reply on, not the request. Not after a greeting alone: `vrift run` greets
          // before it plans (run::Sessions::reach), and a daemon spinning meanwhile takes the
          // CPU the client would plan on; its requests come after the planning, not at once.
          if (it->second.answered) m_spin_until = Clock::now() + kSpinAfterRequest;
        } else {
          drop(it->second);
          m_conns.erase(it);
          // Nobody left to answer: no spinning on a CPU that the client's program, just
          // started, can use (`vrift run` execs CMD as its connection closes).
          if (m_conns.empty()) m_spin_until = {};
        }
        if (m_stop) break;
      }
    }
    // The timers' work (checkpoints, ending sessions, idle exit) is not per request: while
    // spinning, at most once a millisecond (a steady stream of requests keeps the loop spinning).
    if (const auto now = Clock::now(); !spinning || now >= m_next_timers) {
      m_next_timers = now + std::chrono::milliseconds(1);
      end_replaced(); // first: their watches count against the inotify limits
      arm_skeletons();
      timers();
    }
  }
  return shutdown_sessions();
}

} // namespace

Status run_daemon(const Paths& paths, const ServerOptions& opts) {
  // The runtime directory is ours alone: 0700, owned by us (refuse a foreign one).
  VRIFT_TRY(fs::mkdir_p(paths.runtime_dir, 0700));
  struct stat st {};
  if (::lstat(paths.runtime_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) ||
      st.st_uid != ::getuid()) {
    return fail("runtime directory '" + paths.runtime_dir +
                "' is not a directory owned by this user");
  }
  ::chmod(paths.runtime_dir.c_str(), 0700);
  UniqueFd lock(::open(paths.daemon_lock().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock.valid()) return fail_os("opening '" + paths.daemon_lock() + "'");
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    return fail("another vrift daemon is running for this user (lock '" + paths.daemon_lock() +
                    "')",
                EEXIST);
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock.get(), 0) != 0 || ::pwrite(lock.get(), pid.data(), pid.size(), 0) < 0) {
    return fail_os("writing '" + paths.daemon_lock() + "'");
  }
  VRIFT_ASSIGN(auto store, Store::open(paths.store_root, /*create=*/true));
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN); // the daemon's own process: replies use MSG_NOSIGNAL anyway
  Server server(paths, opts, std::move(store));
  VRIFT_TRY(server.listen_on(paths.daemon_socket()));
  Status s = server.loop();
  ::unlink(paths.daemon_socket().c_str());
  return s;
}

Result<int> ensure_daemon(const Paths& paths, const std::string& exe, int timeout_ms) {
  VRIFT_ASSIGN(auto c, connect_daemon(paths, exe, timeout_ms));
  return static_cast<int>(c.daemon().pid);
}

Result<proto::Client> connect_daemon(const Paths& paths, const std::string& exe, int timeout_ms) {
  auto ping = [&]() -> Result<proto::Client> {
    return proto::Client::connect(paths.daemon_socket(), proto::Role::Cli, 200);
  };
  if (auto p = ping(); p.ok()) return p;
  VRIFT_TRY(fs::mkdir_p(paths.runtime_dir, 0700));
  pid_t child = ::fork();
  if (child < 0) return fail_os("starting the daemon");
  if (child == 0) {
    // Detach: new session, no terminal, and none of the caller's preloads.
    ::setsid();
    int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    std::string log = paths.runtime_dir + "/vriftd.log";
    int logfd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    ::dup2(devnull, 0);
    ::dup2(logfd >= 0 ? logfd : devnull, 1);
    ::dup2(logfd >= 0 ? logfd : devnull, 2);
    // None of the caller's other descriptors (a make jobserver, a test harness's pipe would
    // never see EOF), none of its blocked signals.
    ::close_range(3, ~0U, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::unsetenv("LD_PRELOAD");
    ::unsetenv("LD_LIBRARY_PATH");
    // Double fork so the daemon is not our child (no zombie, no SIGCHLD for the caller).
    if (::fork() != 0) ::_exit(0);
    // The store the caller resolved (a --the-source-root flag is not in the environment).
    ::execl(exe.c_str(), exe.c_str(), "daemon", "run", "--the-source-root",
            paths.store_root.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (auto p = ping(); p.ok()) return p;
    if (Clock::now() > deadline) {
      return fail("the daemon did not answer within " + std::to_string(timeout_ms) + " ms (see " +
                      paths.runtime_dir + "/vriftd.log)",
                  ETIMEDOUT);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

} // namespace vrift

#include "vrift/run/sessions.h"

#include "vrift/daemon/server.h"
#include "vrift/util/fs.h"
#include "vrift/util/log.h"

namespace vrift::run {

namespace {

constexpr int kDaemonStartMs = 3000;

std::string opening(const Projection& p) {
  return "opening a session for '" + p.manifest_path + "' at '" + p.root + "'";
}

// SESSION_OPEN for P; with WATCH, asking the daemon to watch the files too (kCapTreeWatch's
// tail), the walk that wrote the manifest having begun at UNCHANGED_BEFORE_NS (0: no walk), and
// with WALKED_ID (kCapWalkedId's tail) naming the manifest that walk produced.
proto::SessionOpen open_request(const Projection& p, bool watch, int64_t unchanged_before_ns,
                                const std::optional<Hash>& walked_id = std::nullopt) {
  proto::SessionOpen req;
  req.root = p.root;
  req.manifest = p.manifest_path;
  if (watch) {
    req.has_tail = true;
    req.flags = proto::kOpenWatchTree;
    req.unchanged_before_ns = static_cast<uint64_t>(unchanged_before_ns);
    if (unchanged_before_ns != 0 && walked_id) {
      req.has_walked_id = true;
      req.walked_id = walked_id->bytes;
    }
  }
  return req;
}

// P is the session R names.
void adopt(Projection& p, const proto::SessionReply& r, std::string_view how) {
  p.session = r.session;
  p.vdir_path = std::string(r.vdir_path);
  p.skeleton_clean = (r.flags & proto::kSessionSkeletonClean) != 0;
  log::info("session {} for {} at {} ({} entries, VDir {}){}", p.session, p.manifest_path, p.root,
            r.entry_count, p.vdir_path, how);
}

} // namespace

std::optional<proto::Client> Sessions::reach(const Paths& paths) {
  // A listening Unix socket accepts at once (the kernel queues the connection), so the timeout
  // only bounds a daemon whose backlog is full.
  auto c = proto::Client::begin_connect(paths.daemon_socket(), proto::Role::Cli, 200);
  if (!c.ok()) return std::nullopt;
  return std::move(*c);
}

Result<Sessions> Sessions::connect(const Paths& paths, const std::string& exe,
                                   std::optional<proto::Client> early) {
  Sessions s;
  if (early) {
    if (auto done = early->finish_connect(proto::kCliConnectTimeoutMs); !done.ok()) {
      log::debug("{}; reaching the daemon again", done.error().message());
      early.reset();
    }
  }
  VRIFT_ASSIGN(proto::Client c, early ? Result<proto::Client>(std::move(*early))
                                      : connect_daemon(paths, exe, kDaemonStartMs)
                                            .context("starting or reaching the vrift daemon at '" +
                                                     paths.daemon_socket() + "'"));
  s.m_pid = static_cast<int>(c.daemon().pid);
  s.m_client.emplace(std::move(c));
  // The shim reads blobs from VRIFT_STORE and the daemon commits into its own store: they must
  // be one store (a daemon started with another VR_THE_SOURCE would be a different one). That is
  // checked before any session is opened (opening one has effects: stale staging files go, an
  // earlier journal is folded), from the greeting (a daemon that does not name its store there
  // is asked with STATUS); then every open goes out together with the lease, one round trip.
  constexpr int kTimeout = proto::kCliRequestTimeoutMs;
  auto ours = fs::canonical(paths.store_root);
  s.m_store = ours.ok() ? *ours : paths.store_root;
  std::string daemon_store;
  if (const auto& greeted = s.m_client->daemon_store()) {
    daemon_store = *greeted;
  } else {
    VRIFT_ASSIGN(auto st, s.m_client->call<proto::StatusReply>(proto::StatusQuery{}, kTimeout)
                              .context("asking the vrift daemon for its status"));
    daemon_store = std::string(st.store_root);
  }
  // The daemon reports the store it resolved, usually the very same string: no realpath then.
  auto served =
      daemon_store == s.m_store ? Result<std::string>(daemon_store) : fs::canonical(daemon_store);
  if (!ours.ok() || !served.ok() || *served != s.m_store) {
    return fail("the running vrift daemon (pid " + std::to_string(s.m_pid) +
                    ") serves the store '" + daemon_store + "', not '" + s.m_store + "'",
                EXDEV);
  }
  return s;
}

Status Sessions::open_all(std::vector<Projection>& ps) {
  constexpr int kTimeout = proto::kCliRequestTimeoutMs;
  const uint64_t caps = m_client->daemon().capabilities;
  std::vector<Projection*> pending;
  for (Projection& p : ps) {
    if (p.session != 0) continue; // open already (open_if_tree_unchanged)
    const bool watch = p.watch_tree_since_ns > 0 && (caps & proto::kCapTreeWatch) != 0;
    const std::optional<Hash> walked =
        (caps & proto::kCapWalkedId) != 0 ? p.walked_manifest_id : std::nullopt;
    VRIFT_TRY(
        m_client->queue(open_request(p, watch, p.watch_tree_since_ns, walked)).context(opening(p)));
    pending.push_back(&p);
  }
  // Requests of a connection are served in order: the lease covers every session opened above
  // (and any opened before on this connection). All in one write (proto::Client::queue).
  const bool lease = (caps & proto::kCapSessionLease) != 0;
  if (lease) VRIFT_TRY(m_client->queue(proto::SessionLease{}).context("leasing the sessions"));
  VRIFT_TRY(m_client->flush(kTimeout).context("opening the sessions"));
  for (Projection* p : pending) {
    VRIFT_ASSIGN(auto r, m_client->receive<proto::SessionReply>(kTimeout).context(opening(*p)));
    adopt(*p, r, "");
  }
  if (lease) {
    auto r = m_client->receive<proto::OkReply>(kTimeout);
    m_leased = r.ok();
    if (!r.ok()) log::debug("the daemon did not lease the sessions: {}", r.error().message());
  }
  return {};
}

Result<bool> Sessions::open_if_tree_unchanged(Projection& p) {
  constexpr int kTimeout = proto::kCliRequestTimeoutMs;
  if ((m_client->daemon().capabilities & proto::kCapTreeWatch) == 0) return false;
  VRIFT_ASSIGN(
      auto r,
      m_client->call<proto::SessionReply>(open_request(p, true, 0), kTimeout).context(opening(p)));
  if ((r.flags & proto::kSessionTreeClean) == 0) {
    // A walk decides; the session it leads to may be another (a rewritten manifest).
    proto::SessionClose close;
    close.session = r.session;
    auto closed = m_client->call<proto::OkReply>(close, kTimeout);
    if (!closed.ok()) return fail(std::move(closed).error().context(opening(p)));
    return false;
  }
  adopt(p, r, ": unchanged since the daemon checked it");
  return true;
}

bool Sessions::lease_to_this_process() {
  if (!m_client || !m_leased) return false;
  m_client.reset();
  return true;
}

} // namespace vrift::run

// vriftd: one per user. A single-threaded poll loop over a Unix socket file (mode 0600 in a
// 0700 directory); every connection's peer uid is checked with SO_PEERCRED before anything is
// sent, then the protocol greeting, then requests dispatched to sessions. Each session owns a
// VDir (shared-memory index) that its shims map read-only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "vrift/config/paths.h"
#include "vrift/proto/client.h"
#include "vrift/util/result.h"

namespace vrift {

struct ServerOptions {
  int idle_exit_ms = 10 * 60 * 1000; ///< exit after this long with no client and no session
  /// Keep a session this long after its last client: a run a few seconds or minutes after the
  /// last one finds its VDir filled and its skeleton watched (a new session for dataset B's
  /// 9,690 files costs ~20 ms, and the client's own skeleton check ~1-2 ms). A session for a
  /// root that gets a new one (a re-ingested manifest) ends at once instead.
  int linger_ms = 60 * 1000;
  /// A session whose files are watched (a zero-config run's) lingers this long while they are
  /// unchanged: the next run in the project walks nothing (docs/run.md, "Zero-config"). Once
  /// something changed, the next run walks anyway, and linger_ms applies.
  int watched_linger_ms = 10 * 60 * 1000;
  int checkpoint_idle_ms = 1000; ///< checkpoint a changed session after this much quiet
  bool sync_journal = false;     ///< fdatasync every journal record
  /// The capability bits offered to clients (tests: a daemon that predates some of them).
  uint64_t capabilities = proto::kCapabilities;
};

/// Runs the daemon in this process until SHUTDOWN, idle timeout, SIGTERM or SIGINT. Takes the
/// per-user daemon lock first: a second daemon exits with an error naming the first.
Status run_daemon(const Paths& paths, const ServerOptions& opts);

/// Starts the daemon in the background if it is not running (under the daemon lock, so that
/// racing starters make one daemon) and waits until it answers, at most TIMEOUT_MS. Returns
/// the daemon's pid. EXE is the vrift binary to run as `EXE daemon run`.
Result<int> ensure_daemon(const Paths& paths, const std::string& exe, int timeout_ms);

/// ensure_daemon() that keeps the connection it reached the daemon through (role Cli): one
/// connect and greeting fewer for a caller that goes on to send requests.
Result<proto::Client> connect_daemon(const Paths& paths, const std::string& exe, int timeout_ms);

} // namespace vrift

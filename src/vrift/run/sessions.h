// The daemon's side of a run: started on demand, one session per projection, held open for as
// long as this object lives (the daemon releases a connection's sessions when it closes, so a
// crashed `vrift run` leaks nothing).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "vrift/config/paths.h"
#include "vrift/proto/client.h"
#include "vrift/run/plan.h"
#include "vrift/util/result.h"

namespace vrift::run {

class Sessions {
public:
  /// Starts the daemon if needed (EXE is the vrift binary that runs it) and checks that it
  /// serves the store of PATHS (from its greeting: one round trip with a current daemon).
  /// Errors: the daemon cannot be started or reached, or it serves another store (EXDEV).
  /// EARLY, if given, is a greeting already on its way (reach()); a daemon that does not answer
  /// it is reached again as without one.
  static Result<Sessions> connect(const Paths& paths, const std::string& exe,
                                  std::optional<proto::Client> early = std::nullopt);
  /// Connects to a running daemon and greets it without waiting for the answer, for connect()
  /// to finish after the caller's own work: the daemon wakes meanwhile. Nullopt when no daemon
  /// listens (connect() starts one).
  static std::optional<proto::Client> reach(const Paths& paths);
  /// Opens a session for each of PS (root and manifest_path set) that is not open yet
  /// (session == 0), and fills in their vdir_path and session. The sessions are leased to this
  /// process as they open (SESSION_LEASE, where the daemon offers it): they outlive the
  /// connection for as long as this process lives, which a run wants whether it becomes CMD or
  /// waits for it. One round trip: the opens go out with the lease. Errors: the daemon refuses a
  /// session (its message, naming the manifest).
  Status open_all(std::vector<Projection>& ps);
  /// Zero-config, before any walk: opens a session for P (root and manifest_path set) asking
  /// the daemon to watch the tree, and keeps it (filling in P's session, VDir and skeleton flag)
  /// when the daemon vouches that every file is as the manifest has it and none has changed
  /// since it last looked (kSessionTreeClean). Otherwise the session is closed again and false
  /// returned: the project must be walked. False at once when the daemon cannot watch trees.
  Result<bool> open_if_tree_unchanged(Projection& p);

  /// The canonical store root the daemon serves.
  const std::string& store() const { return m_store; }
  int daemon_pid() const { return m_pid; }

  /// Releases the sessions (closes the connection).
  void close() { m_client.reset(); }
  /// Closes the connection if the sessions are leased to this process: for a run that becomes
  /// CMD by exec. False when the daemon does not offer leases or refused the lease (the
  /// sessions are then still held by the connection).
  bool lease_to_this_process();

private:
  std::optional<proto::Client> m_client;
  std::string m_store;
  int m_pid = 0;
  bool m_leased = false;
};

} // namespace vrift::run

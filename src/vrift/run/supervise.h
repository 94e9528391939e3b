// Running CMD under vrift: vfork, exec (a failed exec is reported to the parent through a
// variable the child writes before it exits; the parent resumes only then), forward signals,
// wait.
//
// Signals: from the moment a Supervisor exists, the forwarded signals and SIGCHLD are blocked
// and read through a signalfd, so none is lost before the child exists. A signal sent to vrift
// by a process (kill, sigqueue, tgkill: si_code SI_USER, SI_QUEUE, SI_TKILL) is sent on to the
// child; one the kernel generated (SI_KERNEL: ^C, ^\, a hangup, a window change) already went
// to the whole foreground process group, the child included, and is not sent twice. A signal
// that was ignored when vrift started stays ignored in the child (as `nohup` expects) and is
// not forwarded. The child starts with the signal mask and dispositions vrift was started with.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "vrift/util/fd.h"
#include "vrift/util/result.h"

namespace vrift::run {

/// How the child ended.
struct ChildExit {
  bool signaled = false;
  int code = 0; ///< the exit status, or the signal number when signaled
};

/// Everything the child needs, prepared before vfork: the child itself makes only system calls.
struct SpawnSpec {
  std::string path;              ///< the file to execute (find_command)
  std::vector<std::string> argv; ///< argv[0] is the command as the user typed it
  std::vector<std::string> env;  ///< "NAME=value"
};

/// The signals vrift forwards: HUP INT QUIT TERM USR1 USR2 ALRM WINCH CONT.
const std::vector<int>& forwarded_signals();

/// Whether SI_CODE says a process sent the signal (SI_USER, SI_QUEUE, SI_TKILL), rather than
/// the kernel (SI_KERNEL: the terminal's ^C goes to the whole process group).
bool sent_by_process(int si_code);

class Supervisor {
public:
  /// Starts catching the forwarded signals and SIGCHLD (blocked, read through a signalfd).
  /// Errors: signalfd or sigprocmask failing.
  static Result<Supervisor> create();
  Supervisor(Supervisor&& o) noexcept;
  Supervisor& operator=(Supervisor&&) = delete;
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;
  /// Drops signals still pending for vrift itself, then restores the mask and SIGCHLD's
  /// disposition.
  ~Supervisor();

  /// Runs SPEC, forwarding signals, until it ends. A file without "#!" that the kernel will not
  /// run is run by /bin/sh, as execvp does. Errors: vfork failing; the exec failing, as
  /// "ARGV0: <strerror>" with the exec's errno (ENOENT: a missing file or interpreter).
  Result<ChildExit> run(const SpawnSpec& spec);

  /// Becomes SPEC by exec, for a run with nothing to do after CMD (no skeleton to undo, the
  /// sessions leased to this process): restores the signal mask and SIGCHLD's disposition,
  /// keeping pending signals (they reach this process as if sent a moment later), then execs
  /// as run() does. Returns only on failure, with run()'s error; the supervisor is then spent.
  Status exec(const SpawnSpec& spec);

private:
  void restore(bool drain);
  Supervisor() = default;
  UniqueFd m_sfd;
  sigset_t m_old_mask{};
  struct sigaction m_old_chld {};
  bool m_armed = false;
};

/// Ends this process by signal SIG, as the child did: default disposition, no core file, the
/// signal unblocked and raised; 128 + SIG if that does not end it.
[[noreturn]] void die_by_signal(int sig);

} // namespace vrift::run

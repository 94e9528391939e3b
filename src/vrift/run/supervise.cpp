#include "vrift/run/supervise.h"

#include <poll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace vrift::run {

namespace {

// A NULL-terminated char* array over STRS (which must outlive it).
std::vector<char*> c_array(const std::vector<std::string>& strs) {
  std::vector<char*> out;
  out.reserve(strs.size() + 1);
  for (const auto& s : strs)
    out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// SPEC's argv and environment as execve takes them, and the argv of the /bin/sh fallback for a
// file the kernel will not run (as execvp does). Not copyable: the arrays point into SH_ARGS.
struct ExecArgs {
  std::vector<std::string> sh_args;
  std::vector<char*> argv, envp, sh_argv;
  explicit ExecArgs(const SpawnSpec& spec)
      : sh_args{"/bin/sh", spec.path}, argv(c_array(spec.argv)), envp(c_array(spec.env)) {
    sh_args.insert(sh_args.end(), spec.argv.begin() + 1, spec.argv.end());
    sh_argv = c_array(sh_args);
  }
  ExecArgs(const ExecArgs&) = delete;
  ExecArgs& operator=(const ExecArgs&) = delete;
};

ChildExit decode(int status) {
  if (WIFSIGNALED(status)) return {true, WTERMSIG(status)};
  return {false, WEXITSTATUS(status)};
}

} // namespace

const std::vector<int>& forwarded_signals() {
  static const std::vector<int> sigs = {SIGHUP,  SIGINT,  SIGQUIT,  SIGTERM, SIGUSR1,
                                        SIGUSR2, SIGALRM, SIGWINCH, SIGCONT};
  return sigs;
}

bool sent_by_process(int si_code) {
  return si_code == SI_USER || si_code == SI_QUEUE || si_code == SI_TKILL;
}

Result<Supervisor> Supervisor::create() {
  Supervisor s;
  sigset_t set;
  sigemptyset(&set);
  for (int sig : forwarded_signals()) {
    struct sigaction cur {};
    if (::sigaction(sig, nullptr, &cur) == 0 && cur.sa_handler == SIG_IGN) continue;
    sigaddset(&set, sig);
  }
  sigaddset(&set, SIGCHLD);
  // An inherited SIG_IGN on SIGCHLD would reap the child behind our back.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  if (::sigaction(SIGCHLD, &dfl, &s.m_old_chld) != 0) return fail_os("resetting SIGCHLD");
  if (::sigprocmask(SIG_BLOCK, &set, &s.m_old_mask) != 0) {
    int e = errno;
    ::sigaction(SIGCHLD, &s.m_old_chld, nullptr);
    return fail_os("blocking signals", e);
  }
  s.m_armed = true;
  s.m_sfd.reset(::signalfd(-1, &set, SFD_CLOEXEC));
  if (!s.m_sfd.valid()) return fail_os("signalfd");
  return s;
}

Supervisor::Supervisor(Supervisor&& o) noexcept
    : m_sfd(std::move(o.m_sfd)), m_old_mask(o.m_old_mask), m_old_chld(o.m_old_chld),
      m_armed(o.m_armed) {
  o.m_armed = false;
}

Supervisor::~Supervisor() { restore(true); }

void Supervisor::restore(bool drain) {
  if (!m_armed) return;
  m_armed = false;
  if (drain && m_sfd.valid()) {
    signalfd_siginfo si;
    pollfd p{m_sfd.get(), POLLIN, 0};
    while (::poll(&p, 1, 0) == 1 && ::read(m_sfd.get(), &si, sizeof si) == sizeof si) {
    }
  }
  ::sigprocmask(SIG_SETMASK, &m_old_mask, nullptr);
  ::sigaction(SIGCHLD, &m_old_chld, nullptr);
  m_sfd.reset();
}

Status Supervisor::exec(const SpawnSpec& spec) {
  if (spec.argv.empty()) return fail("no command", EINVAL);
  const ExecArgs a(spec);
  restore(false);
  std::fflush(nullptr); // nothing vrift buffered may be lost with its image
  ::execve(spec.path.c_str(), a.argv.data(), a.envp.data());
  int err = errno;
  if (err == ENOEXEC) ::execve("/bin/sh", a.sh_argv.data(), a.envp.data()); // as execvp does
  return fail_os(spec.argv[0], err);
}

Result<ChildExit> Supervisor::run(const SpawnSpec& spec) {
  if (spec.argv.empty()) return fail("no command", EINVAL);
  const ExecArgs a(spec);
  // vfork: the child borrows our memory until its exec, so no page tables are copied and torn
  // down again (a fork of vrift's address space cost ~0.3 ms per run), and it reports a failed
  // exec through EXEC_ERR before we resume. It makes only system calls: its signal dispositions
  // and mask are its own (vfork does not share them), and every signal it could get before the
  // exec is blocked or has the default action.
  volatile int exec_err = 0;
  const char* path = spec.path.c_str();
  char* const* args = a.argv.data();
  char* const* sh = a.sh_argv.data();
  char* const* env = a.envp.data();
  const struct sigaction* old_chld = &m_old_chld;
  const sigset_t* old_mask = &m_old_mask;
  pid_t pid = ::vfork();
  if (pid < 0) return fail_os("vfork");
  if (pid == 0) {
    ::sigaction(SIGCHLD, old_chld, nullptr);
    ::sigprocmask(SIG_SETMASK, old_mask, nullptr);
    ::execve(path, args, env);
    int err = errno;
    if (err == ENOEXEC) ::execve("/bin/sh", sh, env); // as execvp does
    exec_err = err;
    ::_exit(127);
  }
  int status = 0;
  if (int err = exec_err; err != 0) {
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return fail_os(spec.argv[0], err);
  }
  for (;;) {
    signalfd_siginfo si;
    ssize_t r = ::read(m_sfd.get(), &si, sizeof si);
    if (r < 0 && errno == EINTR) continue;
    if (r != static_cast<ssize_t>(sizeof si)) break; // cannot happen; wait without forwarding
    auto sig = static_cast<int>(si.ssi_signo);
    if (sig == SIGCHLD) {
      pid_t w = ::waitpid(pid, &status, WNOHANG);
      if (w == pid) return decode(status);
      if (w < 0 && errno != EINTR) return fail_os("waiting for " + spec.argv[0]);
      continue;
    }
    // The child signalling its parent does not get its own signal back.
    if (sent_by_process(si.ssi_code) && static_cast<pid_t>(si.ssi_pid) != pid) ::kill(pid, sig);
  }
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return fail_os("waiting for " + spec.argv[0]);
  }
  return decode(status);
}

void die_by_signal(int sig) {
  std::fflush(nullptr);
  struct rlimit none {
    0, 0
  };
  ::setrlimit(RLIMIT_CORE, &none); // the child's crash is not vrift's: no core file of ours
  ::signal(sig, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
  ::raise(sig);
  ::_exit(128 + sig);
}

} // namespace vrift::run

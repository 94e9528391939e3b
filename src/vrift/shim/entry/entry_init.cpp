// The shim's constructor: reads the environment vrift run prepared and resolves the real
// functions before the program's main runs (LESSONS 2). Nothing here prints unless VRIFT_LOG.
#include <pthread.h>
#include <sys/syscall.h>

#include <cerrno>

#include "vrift/shim/core/path.h"
#include "vrift/shim/core/state.h"
#include "vrift/shim/entry/real.h"
#include "vrift/util/raw_syscall.h"

extern char** environ;

namespace vrift::shim {

void* resolve_next(const char* name) {
  const int saved = errno;
  void* f = dlsym(RTLD_NEXT, name);
  errno = saved;
  return f;
}

namespace {

// A forked child has its own pid: the cwd cache uses it to tell a vfork child (which shares our
// memory but not our cwd) from us, and a cache fill interrupted by the fork is dropped. Nothing
// else is per-process: the shim holds no other lock and no descriptor (the VDir and the listing
// are mappings, inherited as they are).
void after_fork_in_child() {
  g_state.pid = static_cast<int>(sys::call6(SYS_getpid));
  cwd_after_fork();
}

__attribute__((constructor(101))) void vrift_shim_init(int, char**, char** envp) {
  const int saved = errno;
  init_from_env(envp ? envp : environ);
  pthread_atfork(nullptr, nullptr, after_fork_in_child);
  errno = saved;
}

} // namespace
} // namespace vrift::shim

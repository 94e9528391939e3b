// exec of a projected file. The kernel can only execute what exists on disk, and a phantom
// projection's files live in the store as read-only blobs. A projected script ("#!") is run
// the way the kernel would run it: its interpreter gets the script's projected path, which the
// shim in the interpreter then reads. A projected ELF binary cannot be executed from its blob
// (EACCES; the link farm runs those); a solid projection's file is on disk, and runs from there.
// execvp/execvpe/execlp search PATH themselves when PATH names a projected directory. posix_spawn
// and posix_spawnp take the same road and end in glibc's own, with the interpreter's argv (GNU make
// starts simple recipe lines that way). Everything here may run in a vfork child: stack and raw
// system calls only (LESSONS 8).
#include <spawn.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "vrift/shim/core/lookup.h"
#include "vrift/shim/core/statfill.h"
#include "vrift/shim/core/str.h"
#include "vrift/shim/entry/ops.h"
#include "vrift/shim/entry/real.h"
#include "vrift/util/raw_syscall.h"

#define VRIFT_EXPORT extern "C" __attribute__((visibility("default")))

extern char** environ;

namespace vrift::shim {
namespace {

using ExecveFn = int(const char*, char* const[], char* const[]);
using ExecvpeFn = int(const char*, char* const[], char* const[]);
using SpawnFn = int(pid_t*, const char*, const posix_spawn_file_actions_t*,
                    const posix_spawnattr_t*, char* const[], char* const[]);
VRIFT_REAL(execve, ExecveFn);
VRIFT_REAL(execvpe, ExecvpeFn);
VRIFT_REAL(posix_spawn, SpawnFn);
VRIFT_REAL(posix_spawnp, SpawnFn);

// How the program, once resolved, is started: by exec (returns only on failure: -1 and errno)
// or by posix_spawn (0 on success; its error number in errno and -1 on failure).
struct Launch {
  bool spawn;
  pid_t* pid; // the posix_spawn arguments
  const posix_spawn_file_actions_t* actions;
  const posix_spawnattr_t* attr;
};
constexpr Launch kExec{false, nullptr, nullptr, nullptr};

int from_spawn(int r) { return r == 0 ? 0 : fail(r); }

// The program at PATH, as execve (or posix_spawn) would start it.
int run(const Launch& how, const char* path, char* const argv[], char* const envp[]) {
  if (!how.spawn) return real_execve.get()(path, argv, envp);
  return from_spawn(real_posix_spawn.get()(how.pid, path, how.actions, how.attr, argv, envp));
}
// FILE found by libc's own PATH search (execvpe, or posix_spawnp).
int run_p(const Launch& how, const char* file, char* const argv[], char* const envp[]) {
  if (!how.spawn) return real_execvpe.get()(file, argv, envp);
  return from_spawn(real_posix_spawnp.get()(how.pid, file, how.actions, how.attr, argv, envp));
}

constexpr int kSmallArgs = 64;    // argv arrays up to this size live on the stack
constexpr int kMaxInterpHops = 4; // the kernel allows 4 levels of interpreters too

// An argv array of N pointers: SMALL when it fits, else an anonymous mapping (exec replaces the
// process image anyway; a failed exec leaks it, as a vfork child must not free; a spawn, which
// returns in the parent, gives it back: release_argv).
char** argv_space(char** small, long n) {
  if (n <= kSmallArgs) return small;
  const long r = sys::call6(SYS_mmap, 0, n * static_cast<long>(sizeof(char*)),
                            PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return sys::failed(r) ? nullptr : reinterpret_cast<char**>(r);
}
void release_argv(const Launch& how, char** small, char** argv, long n) {
  if (how.spawn && argv != small)
    sys::call6(SYS_munmap, sys::arg(argv), n * static_cast<long>(sizeof(char*)));
}

int exec_path(const Launch& how, const char* path, char* const argv[], char* const envp[],
              int depth);

// Reads the "#!" line of the blob of L into LINE (NUL-terminated). False if it is not a script.
bool shebang(const Lookup& l, char* line, size_t cap) {
  PathBuf blob;
  if (!blob_path(l.st.blob_hash, l.st.size, &blob)) return false;
  const long fd = sys::call6(SYS_openat, AT_FDCWD, sys::arg(blob.s), O_RDONLY | O_CLOEXEC);
  if (sys::failed(fd)) return false;
  const long n = sys::call6(SYS_read, fd, sys::arg(line), static_cast<long>(cap - 1));
  sys::call6(SYS_close, fd);
  if (n < 2 || line[0] != '#' || line[1] != '!') return false;
  line[n] = '\0';
  char* nl = static_cast<char*>(std::memchr(line, '\n', static_cast<size_t>(n)));
  if (nl) *nl = '\0';
  return true;
}

// Runs script PATH (projected, found by L) through its interpreter, as the kernel does:
// interp [one optional argument] PATH argv[1..].
int exec_script(const Launch& how, const char* path, const Lookup& l, char* const argv[],
                char* const envp[], int depth) {
  char line[256];
  if (!shebang(l, line, sizeof line)) {
    log3("cannot execute a projected binary: ", path, " is not on disk (ingest with --mode solid)");
    return fail(EACCES);
  }
  char* p = line + 2;
  while (*p == ' ' || *p == '\t')
    ++p;
  char* interp = p;
  while (*p && *p != ' ' && *p != '\t')
    ++p;
  char* arg = nullptr;
  if (*p) {
    *p++ = '\0';
    while (*p == ' ' || *p == '\t')
      ++p;
    if (*p) {
      arg = p;
      char* e = p + slen(p);
      while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        *--e = '\0';
    }
  }
  if (!*interp) return fail(ENOEXEC);
  int argc = 0;
  while (argv && argv[argc])
    ++argc;
  char* small[kSmallArgs];
  char** nargv = argv_space(small, argc + 3);
  if (!nargv) return fail(E2BIG);
  int n = 0;
  nargv[n++] = interp;
  if (arg) nargv[n++] = arg;
  nargv[n++] = const_cast<char*>(path);
  for (int i = 1; i < argc; ++i)
    nargv[n++] = argv[i];
  nargv[n] = nullptr;
  const int r = exec_path(how, interp, nargv, envp, depth + 1);
  const int e = errno;
  release_argv(how, small, nargv, argc + 3);
  errno = e;
  return r;
}

__attribute__((noinline)) int exec_path_slow(const Launch& how, const char* path,
                                             char* const argv[], char* const envp[], int depth) {
  if (depth > kMaxInterpHops) return fail(ELOOP);
  const int saved = errno;
  Scratch s;
  const Lookup l = lookup(AT_FDCWD, path, true, &s);
  if (l.res == Res::kReal) return run(how, l.real_path, argv, envp);
  if (l.res == Res::kError) return fail(l.err);
  if ((l.st.mode & vdir::kModeTypeMask) != vdir::kModeReg) return fail(EACCES);
  if (const int e = check_access(l.st, X_OK, true)) return fail(e);
  errno = saved;
  // A solid projection's file is on disk, as it is in the VDir (one a program of the session
  // changed is stale, and was the kernel's above): the kernel runs it, a binary too.
  struct stat ds;
  if (!sys::failed(sys::call6(SYS_newfstatat, AT_FDCWD, sys::arg(s.a.s), sys::arg(&ds),
                              AT_SYMLINK_NOFOLLOW)) &&
      S_ISREG(ds.st_mode))
    return run(how, s.a.s, argv, envp);
  return exec_script(how, path, l, argv, envp, depth);
}

int exec_path(const Launch& how, const char* path, char* const argv[], char* const envp[],
              int depth) {
  if (!path || !active() || surely_outside(AT_FDCWD, path)) return run(how, path, argv, envp);
  return exec_path_slow(how, path, argv, envp, depth);
}

// execvp's fallback: a file the kernel cannot execute (ENOEXEC: no "#!") runs under /bin/sh.
// (glibc's posix_spawn has none since 2.15: a spawn does not come here.)
int exec_sh(const char* file, char* const argv[], char* const envp[]) {
  int argc = 0;
  while (argv && argv[argc])
    ++argc;
  char* small[kSmallArgs];
  char** nargv = argv_space(small, argc + 2);
  if (!nargv) return fail(E2BIG);
  int n = 0;
  nargv[n++] = const_cast<char*>("/bin/sh");
  nargv[n++] = const_cast<char*>(file);
  for (int i = 1; i < argc; ++i)
    nargv[n++] = argv[i];
  nargv[n] = nullptr;
  return real_execve.get()("/bin/sh", nargv, envp);
}

// PATH search (execvp semantics) for FILE without a '/', when a PATH entry may be projected.
int exec_search(const Launch& how, const char* file, char* const argv[], char* const envp[]) {
  const char* path = nullptr;
  for (char** e = environ; e && *e; ++e)
    if (std::strncmp(*e, "PATH=", 5) == 0) path = *e + 5;
  if (!path) path = "/usr/local/bin:/usr/bin:/bin";
  bool projected = false;
  for (const char* p = path; *p;) {
    const char* e = p;
    while (*e && *e != ':')
      ++e;
    PathBuf dir;
    dir.len = 0;
    if (e > p && append(dir.s, &dir.len, kPathMax, p, static_cast<size_t>(e - p)) &&
        !surely_outside(AT_FDCWD, dir.s))
      projected = true;
    p = *e ? e + 1 : e;
  }
  if (!projected) return run_p(how, file, argv, envp);
  bool denied = false;
  const size_t flen = slen(file);
  for (const char* p = path;;) {
    const char* e = p;
    while (*e && *e != ':')
      ++e;
    PathBuf cand;
    cand.len = 0;
    const bool fits =
        (e == p ? append(cand.s, &cand.len, kPathMax, ".", 1)
                : append(cand.s, &cand.len, kPathMax, p, static_cast<size_t>(e - p))) &&
        append(cand.s, &cand.len, kPathMax, "/", 1) &&
        append(cand.s, &cand.len, kPathMax, file, flen);
    if (fits) {
      if (exec_path(how, cand.s, argv, envp, 0) == 0) return 0; // a spawn that started
      if (errno == ENOEXEC && !how.spawn) exec_sh(cand.s, argv, envp);
      // Only "not here" errors move on to the next PATH entry (as execvp does).
      if (errno == EACCES)
        denied = true;
      else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ENODEV &&
               errno != ETIMEDOUT)
        return -1;
    }
    if (!*e) break;
    p = e + 1;
  }
  return fail(denied ? EACCES : ENOENT);
}

__attribute__((noinline)) int exec_p_slow(const Launch& how, const char* file, char* const argv[],
                                          char* const envp[]) {
  if (std::strchr(file, '/')) {
    if (exec_path(how, file, argv, envp, 0) == 0) return 0;
    if (errno == ENOEXEC && !how.spawn) exec_sh(file, argv, envp);
    return -1;
  }
  return exec_search(how, file, argv, envp);
}

int exec_p(const Launch& how, const char* file, char* const argv[], char* const envp[]) {
  if (!file || !*file || !active() || (std::strchr(file, '/') && surely_outside(AT_FDCWD, file)))
    return run_p(how, file, argv, envp); // libc keeps its own ENOEXEC fallback
  return exec_p_slow(how, file, argv, envp);
}

// posix_spawn's convention: 0, or the error number (errno untouched).
int spawn_result(int r, int saved) {
  const int e = r == 0 ? 0 : errno;
  errno = saved;
  return e;
}

// Counts execl-style arguments (ARG0 and those after it, up to the NULL).
long count_args(const char* arg0, va_list ap) {
  if (!arg0) return 0;
  long n = 1;
  while (va_arg(ap, char*))
    ++n;
  return n;
}

// Collects them (N of them: ARG0, then the va_list) into ARGV (N + 1 slots) and skips the NULL.
void collect(const char* arg0, va_list ap, long n, char** argv) {
  if (n > 0) argv[0] = const_cast<char*>(arg0);
  for (long i = 1; i < n; ++i)
    argv[i] = va_arg(ap, char*);
  if (n > 0) (void)va_arg(ap, char*);
  argv[n] = nullptr;
}

// The execl family: builds argv from ARG0 and AP (then reads envp from AP when WITH_ENVP, else
// uses environ) and hands both to EXEC, with the array alive meanwhile.
template <typename Exec> int exec_list(const char* arg0, va_list ap, bool with_envp, Exec exec) {
  va_list cp;
  va_copy(cp, ap);
  const long n = count_args(arg0, cp);
  va_end(cp);
  char* small[kSmallArgs];
  char** argv = argv_space(small, n + 1);
  if (!argv) return fail(E2BIG);
  collect(arg0, ap, n, argv);
  char** envp = with_envp ? va_arg(ap, char**) : environ;
  return exec(argv, envp);
}

} // namespace
} // namespace vrift::shim

using namespace vrift::shim;

VRIFT_EXPORT int execve(const char* path, char* const argv[], char* const envp[]) {
  return exec_path(kExec, path, argv, envp, 0);
}
VRIFT_EXPORT int execv(const char* path, char* const argv[]) {
  return exec_path(kExec, path, argv, environ, 0);
}
VRIFT_EXPORT int execvp(const char* file, char* const argv[]) {
  return exec_p(kExec, file, argv, environ);
}
VRIFT_EXPORT int execvpe(const char* file, char* const argv[], char* const envp[]) {
  return exec_p(kExec, file, argv, envp);
}
VRIFT_EXPORT int posix_spawn(pid_t* pid, const char* path,
                             const posix_spawn_file_actions_t* actions,
                             const posix_spawnattr_t* attr, char* const argv[],
                             char* const envp[]) {
  const int saved = errno;
  const Launch how{true, pid, actions, attr};
  return spawn_result(exec_path(how, path, argv, envp, 0), saved);
}
VRIFT_EXPORT int posix_spawnp(pid_t* pid, const char* file,
                              const posix_spawn_file_actions_t* actions,
                              const posix_spawnattr_t* attr, char* const argv[],
                              char* const envp[]) {
  const int saved = errno;
  const Launch how{true, pid, actions, attr};
  return spawn_result(exec_p(how, file, argv, envp), saved);
}
VRIFT_EXPORT int execl(const char* path, const char* arg0, ...) {
  va_list ap;
  va_start(ap, arg0);
  const int r = exec_list(arg0, ap, false, [&](char** argv, char** envp) {
    return exec_path(kExec, path, argv, envp, 0);
  });
  va_end(ap);
  return r;
}
VRIFT_EXPORT int execlp(const char* file, const char* arg0, ...) {
  va_list ap;
  va_start(ap, arg0);
  const int r = exec_list(
      arg0, ap, false, [&](char** argv, char** envp) { return exec_p(kExec, file, argv, envp); });
  va_end(ap);
  return r;
}
VRIFT_EXPORT int execle(const char* path, const char* arg0, ...) {
  va_list ap;
  va_start(ap, arg0);
  const int r = exec_list(arg0, ap, true, [&](char** argv, char** envp) {
    return exec_path(kExec, path, argv, envp, 0);
  });
  va_end(ap);
  return r;
}

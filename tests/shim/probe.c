// A small program for tests/integration/test_shim.sh: the situations LESSONS.md names (threads,
// signal handlers, vfork, fork+exec, close_range, errno, *at calls, getdents64), each printing
// something the suite compares between the physical tree and the projection.
//   probe threads N ROUNDS FILE...   N threads stat+open+read every FILE ROUNDS times
//   probe signal FILE                stat and read FILE inside a SIGUSR1 handler
//   probe vfork FILE                 vfork, then exec cat FILE in the child
//   probe forkexec FILE              fork, then execvp cat FILE in the child
//   probe execvp FILE DIR            execvp FILE with DIR first in PATH
//   probe errno FILE                 errno survives a successful stat/open/close
//   probe closerange FILE            close_range(3, ~0) first, then read FILE
//   probe at DIR NAME                openat/fstatat relative to a directory fd; fstat agreement
//   probe getdents DIR               list DIR with getdents64 (sorted)
//   probe smallstack ARG             execl from a thread with a 48 KiB stack
//   probe stalefd PDIR ODIR NAME     a projected dir fd closed by fclose, its number reused
//   probe stalefile FILE OTHER       a projected file's fd closed inside libc, reused for OTHER
//   probe isatty FILE                a projected file is no terminal; a pty reusing its fd is
//   probe vforkclose FILE            a vfork child closing fds leaves the parent's table alone
//   probe vforkopen FILE             a vfork child opening FILE leaves the parent's table alone
//   probe closefrom FILE             FILE's fd closed by closefrom, its number reused by a pty
//   probe rawclose FILE OTHER        FILE's fd closed by a raw syscall, its number reused by fopen
//   probe rewind DIR                 getdents64 after lseek(fd, 0, SEEK_SET)
//   probe nftw CWD TREE              relative stats in nftw(FTW_CHDIR) callbacks
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <ftw.h>
#include <glob.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static uint64_t fnv(uint64_t h, const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

// stat + open + read of PATH, folded into a hash (size, mode, mtime and content).
static uint64_t digest(const char* path) {
  struct stat st;
  if (stat(path, &st) != 0) return 1;
  uint64_t h = 14695981039346656037ull;
  uint64_t meta[3] = {(uint64_t)st.st_size, st.st_mode, (uint64_t)st.st_mtim.tv_sec};
  h = fnv(h, (const unsigned char*)meta, sizeof meta);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 2;
  unsigned char buf[8192];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) h = fnv(h, buf, (size_t)n);
  close(fd);
  return h;
}

static char** g_files;
static int g_nfiles, g_rounds;
static void* worker(void* arg) {
  uint64_t* out = arg;
  uint64_t h = 0;
  for (int r = 0; r < g_rounds; ++r)
    for (int i = 0; i < g_nfiles; ++i) h += digest(g_files[i]);
  *out = h;
  return NULL;
}

static const char* g_sigfile;
static volatile sig_atomic_t g_sig_done;
static uint64_t g_sig_hash;
static long g_sig_size = -1;
static void on_usr1(int sig) {
  (void)sig;
  struct stat st;
  if (stat(g_sigfile, &st) == 0) g_sig_size = (long)st.st_size;
  g_sig_hash = digest(g_sigfile);
  g_sig_done = 1;
}

static void* smallstack_exec(void* arg) {
  execl("/bin/echo", "echo", "smallstack", (const char*)arg, (char*)NULL);
  return NULL;
}

static long long g_nftw_total;
static int g_walk_chdir, g_walk_action;
static const char* walk_type(int t) {
  switch (t) {
  case FTW_F: return "F";
  case FTW_D: return "D";
  case FTW_DNR: return "DNR";
  case FTW_DP: return "DP";
  case FTW_NS: return "NS";
  case FTW_SL: return "SL";
  case FTW_SLN: return "SLN";
  }
  return "?";
}
static int walk_cb(const char* path, const struct stat* sb, int type, struct FTW* f) {
  long long size = type == FTW_F ? (long long)sb->st_size : -1;
  struct stat rel;
  int rel_ok = g_walk_chdir ? lstat(path + f->base, &rel) == 0 : 1; // cwd is the parent
  printf("%s %d %d %s size=%lld rel=%d\n", walk_type(type), f->level, f->base, path, size, rel_ok);
  // FTW_ACTIONRETVAL: a directory named "deep" is not entered (order-independent)
  return g_walk_action && type == FTW_D && !strcmp(path + f->base, "deep") ? FTW_SKIP_SUBTREE : 0;
}
static int ftw_cb(const char* path, const struct stat* sb, int type) {
  printf("ftw %s %s %lld\n", walk_type(type), path, type == FTW_F ? (long long)sb->st_size : -1LL);
  return 0;
}
static int nftw_cb(const char* path, const struct stat* sb, int type, struct FTW* ftw) {
  (void)sb;
  struct stat st;
  if (type == FTW_F && stat(path + ftw->base, &st) == 0) g_nftw_total += st.st_size;
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  const char* mode = argv[1];
  if (!strcmp(mode, "threads") && argc > 4) {
    int n = atoi(argv[2]);
    g_rounds = atoi(argv[3]);
    g_files = argv + 4;
    g_nfiles = argc - 4;
    pthread_t t[64];
    uint64_t res[64];
    if (n < 1 || n > 64) return 2;
    for (int i = 0; i < n; ++i) pthread_create(&t[i], NULL, worker, &res[i]);
    for (int i = 0; i < n; ++i) pthread_join(t[i], NULL);
    for (int i = 1; i < n; ++i)
      if (res[i] != res[0]) {
        printf("threads disagree\n");
        return 1;
      }
    printf("threads %d agree %016llx\n", n, (unsigned long long)res[0]);
    return 0;
  }
  if (!strcmp(mode, "signal")) {
    g_sigfile = argv[2];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    while (!g_sig_done) {
    }
    printf("signal size=%ld hash=%016llx\n", g_sig_size, (unsigned long long)g_sig_hash);
    return 0;
  }
  if (!strcmp(mode, "vfork") || !strcmp(mode, "forkexec")) {
    fflush(stdout);
    pid_t pid = mode[0] == 'v' ? vfork() : fork();
    if (pid == 0) {
      if (mode[0] == 'v') {
        execl("/bin/cat", "cat", argv[2], (char*)NULL);
      } else {
        char* args[] = {"cat", argv[2], NULL};
        execvp("cat", args);
      }
      _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
  }
  if (!strcmp(mode, "execvp") && argc > 3) { // execvp FILE DIR: with DIR first in PATH
    char path[8192];
    snprintf(path, sizeof path, "%s/%s:%s", getcwd(NULL, 0), argv[3], getenv("PATH"));
    setenv("PATH", path, 1);
    fflush(stdout);
    char* args[] = {argv[2], NULL};
    execvp(argv[2], args);
    perror("execvp");
    return 1;
  }
  if (!strcmp(mode, "smallstack")) { // exec from a thread with a 48 KiB stack
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 48 * 1024);
    pthread_t t;
    fflush(stdout);
    pthread_create(&t, &a, smallstack_exec, argv[2]);
    pthread_join(t, NULL);
    return 1;
  }
  if (!strcmp(mode, "stalefd") && argc > 4) { // stalefd PROJDIR OUTSIDEDIR NAME
    int fd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    fclose(fdopen(fd, "r")); // closed behind the shim's back
    DIR* d = opendir(argv[3]); // libc's stream, very likely the same fd number
    struct stat st;
    if (!d || fstatat(dirfd(d), argv[4], &st, 0) != 0) return 1;
    printf("stalefd size=%lld\n", (long long)st.st_size);
    return 0;
  }
  if (!strcmp(mode, "stalefile") && argc > 3) { // stalefile FILE OTHER (OTHER: FILE's size)
    // FILE's descriptor closed inside libc (fclose, fclose of an fdopen'ed one, freopen), its
    // number then reused for OTHER: fstat describes OTHER.
    struct stat want, st;
    if (stat(argv[3], &want) != 0) return 1;
    const char* how[] = {"fclose", "fdopen", "freopen"};
    for (int i = 0; i < 3; ++i) {
      FILE* f = i == 1 ? fdopen(open(argv[2], O_RDONLY | O_CLOEXEC), "r") : fopen(argv[2], "r");
      if (!f) return 1;
      const int before = fileno(f);
      if (i < 2) {
        fclose(f);
        f = fopen(argv[3], "r");
      } else {
        f = freopen(argv[3], "r", f);
      }
      if (!f || fstat(fileno(f), &st) != 0) return 1;
      printf("stalefile %s: same_fd=%d other=%d size=%lld\n", how[i], fileno(f) == before,
             st.st_dev == want.st_dev && st.st_ino == want.st_ino, (long long)st.st_size);
      fclose(f);
    }
    // Closed through syscall() (which the shim sees), the number reused by an open it does not
    // see (openat2, which it passes through).
    int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) return 1;
    syscall(SYS_close, fd);
    struct open_how how2 = {.flags = O_RDONLY | O_CLOEXEC};
    const int again = (int)syscall(SYS_openat2, AT_FDCWD, argv[3], &how2, sizeof how2);
    if (again < 0 || fstat(again, &st) != 0) return 1;
    printf("stalefile syscall: same_fd=%d other=%d size=%lld\n", again == fd,
           st.st_dev == want.st_dev && st.st_ino == want.st_ino, (long long)st.st_size);
    close(again);
    return 0;
  }
  if (!strcmp(mode, "isatty") && argc > 2) { // isatty FILE: a blob is no terminal; a pty is
    int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
    errno = 0;
    const int file = isatty(fd);
    const int file_errno = errno;
    close(fd);
    const int pty = posix_openpt(O_RDWR | O_NOCTTY); // the number just closed, very likely
    printf("isatty file=%d enotty=%d pty=%d same_fd=%d\n", file, file_errno == ENOTTY,
           pty >= 0 && isatty(pty), pty == fd);
    // An O_PATH descriptor allows no ioctl (EBADF); a null buffer is the kernel's EFAULT.
    const int path_fd = open(argv[2], O_PATH | O_CLOEXEC);
    errno = 0;
    const int path_tty = isatty(path_fd);
    const int path_errno = errno;
    struct stat* volatile none = NULL;
    errno = 0;
    const int r = fstat(open(argv[2], O_RDONLY | O_CLOEXEC), none);
    printf("isatty o_path=%d ebadf=%d fstat_null=%d efault=%d\n", path_tty, path_errno == EBADF,
           r, errno == EFAULT);
    return 0;
  }
  if (!strcmp(mode, "vforkopen") && argc > 2) { // vforkopen FILE: the child's open is its own
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    dup2(null, 0); // stdin: a character device, whatever the test was given
    struct stat a, b;
    fstat(0, &a);
    pid_t pid = vfork();
    if (pid == 0) {
      close(0);
      if (open(argv[2], O_RDONLY) != 0) _exit(1); // the child's stdin: the projected file
      _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    fstat(0, &b);
    errno = 0;
    const int tty = isatty(0);
    printf("vforkopen child=%d same=%d chr=%d isatty=%d enotty=%d\n", WEXITSTATUS(status),
           a.st_dev == b.st_dev && a.st_ino == b.st_ino, S_ISCHR(b.st_mode), tty, errno == ENOTTY);
    return 0;
  }
  if (!strcmp(mode, "closefrom") && argc > 2) { // closefrom FILE: closed inside libc, reused
    int fd = open(argv[2], O_RDONLY);
    closefrom(fd);
    const int pty = posix_openpt(O_RDWR | O_NOCTTY); // the lowest free number: FILE's
    struct stat st;
    printf("closefrom same_fd=%d pty=%d chr=%d\n", pty == fd, isatty(pty),
           fstat(pty, &st) == 0 && S_ISCHR(st.st_mode));
    return 0;
  }
  if (!strcmp(mode, "rawclose") && argc > 3) { // rawclose FILE OTHER: a close the shim cannot
    // see (an inline system call), the number reused by fopen: the stream's fstat is OTHER's.
    struct stat want, st;
    if (stat(argv[3], &want) != 0) return 1;
    int fd = open(argv[2], O_RDONLY);
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"((long)SYS_close), "D"((long)fd) : "rcx", "r11", "memory");
    FILE* f = fopen(argv[3], "r");
    if (!f || fstat(fileno(f), &st) != 0) return 1;
    printf("rawclose closed=%d same_fd=%d other=%d\n", r == 0, fileno(f) == fd,
           st.st_dev == want.st_dev && st.st_ino == want.st_ino);
    fclose(f);
    return 0;
  }
  if (!strcmp(mode, "vforkclose")) { // a vfork child closes everything: the parent's fstat holds
    int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
    struct stat a, b;
    fstat(fd, &a);
    pid_t pid = vfork();
    if (pid == 0) {
      for (int i = 3; i < 64; ++i) close(i);
      execl("/bin/true", "true", (char*)NULL);
      _exit(127);
    }
    waitpid(pid, NULL, 0);
    fstat(fd, &b);
    printf("vforkclose same=%d size=%lld\n", a.st_ino == b.st_ino && a.st_mode == b.st_mode,
           (long long)b.st_size);
    return 0;
  }
  if (!strcmp(mode, "rewindkeep")) { // a dirent read before rewinddir is still readable after it
    DIR* d = opendir(argv[2]);
    struct dirent* e = NULL;
    for (int i = 0; i < 3; ++i) e = readdir(d);
    if (!e) return 1;
    char name[256];
    snprintf(name, sizeof name, "%s", e->d_name);
    rewinddir(d);
    printf("rewindkeep %s\n", strcmp(name, e->d_name) == 0 ? "same" : "changed");
    closedir(d);
    return 0;
  }
  if (!strcmp(mode, "rewindnew")) { // a file made after opendir shows after rewinddir (POSIX),
    // and after lseek(fd, 0) for getdents64
    char p[4096];
    snprintf(p, sizeof p, "%s/made-after-opendir", argv[2]);
    DIR* d = opendir(argv[2]);
    int fd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (!d || fd < 0) return 1;
    int n0 = 0, n1 = 0, g0 = 0, g1 = 0;
    char buf[4096];
    ssize_t r;
    while (readdir(d)) ++n0;
    while ((r = getdents64(fd, buf, sizeof buf)) > 0)
      for (ssize_t off = 0; off < r; off += ((struct dirent64*)(buf + off))->d_reclen) ++g0;
    close(open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    rewinddir(d);
    lseek(fd, 0, SEEK_SET);
    while (readdir(d)) ++n1;
    while ((r = getdents64(fd, buf, sizeof buf)) > 0)
      for (ssize_t off = 0; off < r; off += ((struct dirent64*)(buf + off))->d_reclen) ++g1;
    unlink(p);
    printf("readdir %d -> %d, getdents64 %d -> %d\n", n0, n1, g0, g1);
    closedir(d);
    return 0;
  }
  if (!strcmp(mode, "rewind")) { // getdents64 to the end, lseek(0), again: the same count
    int fd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char buf[4096];
    int counts[2] = {0, 0};
    for (int pass = 0; pass < 2; ++pass) {
      ssize_t r;
      while ((r = getdents64(fd, buf, sizeof buf)) > 0)
        for (ssize_t off = 0; off < r; off += ((struct dirent64*)(buf + off))->d_reclen)
          ++counts[pass];
      lseek(fd, 0, SEEK_SET);
    }
    printf("rewind %d %d\n", counts[0], counts[1]);
    return 0;
  }
  if (!strcmp(mode, "nftw") && argc > 3) { // cwd ARGV[2]; nftw(ARGV[3], FTW_CHDIR): relative stats
    if (chdir(argv[2]) != 0) return 1;
    struct stat st;
    stat(".", &st); // warm the shim's cwd cache
    g_nftw_total = 0;
    nftw(argv[3], nftw_cb, 8, FTW_CHDIR | FTW_PHYS);
    printf("nftw bytes=%lld\n", g_nftw_total);
    return 0;
  }
  if (!strcmp(mode, "walk") && argc > 3) { // walk DIR FLAGS: nftw's callbacks (sort them)
    int flags = 0;
    if (strstr(argv[3], "phys")) flags |= FTW_PHYS;
    if (strstr(argv[3], "depth")) flags |= FTW_DEPTH;
    if (strstr(argv[3], "chdir")) flags |= FTW_CHDIR;
    if (strstr(argv[3], "mount")) flags |= FTW_MOUNT;
    if (strstr(argv[3], "action")) flags |= FTW_ACTIONRETVAL;
    g_walk_action = (flags & FTW_ACTIONRETVAL) != 0;
    g_walk_chdir = (flags & FTW_CHDIR) != 0;
    char before[4096], after[4096];
    if (!getcwd(before, sizeof before)) return 1;
    int rc = nftw(argv[2], walk_cb, 4, flags);
    if (!getcwd(after, sizeof after)) return 1;
    printf("~ rc=%d same_cwd=%d\n", rc, strcmp(before, after) == 0);
    rc = ftw(argv[2], ftw_cb, 4);
    printf("~ ftw rc=%d\n", rc);
    return 0;
  }
  if (!strcmp(mode, "fdmeta") && argc > 2) { // metadata changes through a read-only descriptor
    int fd = open(argv[2], O_RDONLY);
    if (fd < 0) return 1;
    int a = fchmod(fd, 0700) ? errno : 0;
    int b = fchown(fd, getuid(), getgid()) ? errno : 0;
    int c = futimens(fd, NULL) ? errno : 0;
    int d = fsetxattr(fd, "user.vrift.fp", "0", 1, 0) ? errno : 0;
    int e = syscall(SYS_fchmod, fd, 0700) ? errno : 0;
    int f = utimensat(fd, "", NULL, AT_EMPTY_PATH) ? errno : 0;
    struct stat st;
    fstat(fd, &st);
    printf("fchmod=%d fchown=%d futimens=%d fsetxattr=%d syscall=%d utimensat=%d mode=%o\n", a, b,
           c, d, e, f, (unsigned)(st.st_mode & 07777));
    return 0;
  }
  if (!strcmp(mode, "glob") && argc > 2) { // glob(3) of each pattern, one match per line
    for (int i = 2; i < argc; ++i) {
      glob_t g;
      int rc = glob(argv[i], GLOB_MARK, NULL, &g);
      printf("%s: rc=%d\n", argv[i], rc);
      for (size_t k = 0; rc == 0 && k < g.gl_pathc; ++k) printf("  %s\n", g.gl_pathv[k]);
      if (rc == 0) globfree(&g);
    }
    return 0;
  }
  if (!strcmp(mode, "scandirat") && argc > 3) { // scandirat(open(ARGV[2]), ARGV[3]), sorted
    int dfd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct dirent** list;
    int n = scandirat(dfd, argv[3], &list, NULL, alphasort);
    printf("scandirat %s %s: %d\n", argv[2], argv[3], n);
    for (int i = 0; i < n; ++i) {
      printf("  %s\n", list[i]->d_name);
      free(list[i]);
    }
    if (n >= 0) free(list);
    return 0;
  }
  if (!strcmp(mode, "inotify") && argc > 2) { // a watch on each path: ok or the errno
    int in = inotify_init1(IN_CLOEXEC);
    for (int i = 2; i < argc; ++i)
      printf("%s: %s\n", argv[i], inotify_add_watch(in, argv[i], IN_MODIFY | IN_ATTRIB) >= 0 ? "ok" : strerror(errno));
    return 0;
  }
  if (!strcmp(mode, "errno")) {
    struct stat st;
    errno = 77;
    int r = stat(argv[2], &st);
    int e1 = errno;
    int fd = open(argv[2], O_RDONLY);
    int e2 = errno;
    if (fd >= 0) close(fd);
    printf("errno stat=%d after=%d open=%d after=%d\n", r, e1, fd >= 0, e2);
    return r == 0 && e1 == 77 && e2 == 77 ? 0 : 1;
  }
  if (!strcmp(mode, "closerange")) {
    if (syscall(436 /* close_range */, 3u, ~0u, 0) != 0) return 3;
    printf("closerange %016llx\n", (unsigned long long)digest(argv[2]));
    return 0;
  }
  if (!strcmp(mode, "at") && argc > 3) {
    int dfd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
      perror("open dir");
      return 1;
    }
    struct stat a, b, c;
    if (fstatat(dfd, argv[3], &a, 0) != 0) {
      perror("fstatat");
      return 1;
    }
    int fd = openat(dfd, argv[3], O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &b) != 0) {
      perror("openat");
      return 1;
    }
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", argv[2], argv[3]);
    if (stat(path, &c) != 0) return 1;
    int dup_fd = dup(fd);
    struct stat d;
    fstat(dup_fd, &d);
    /* fcntl's F_DUPFD / F_DUPFD_CLOEXEC (bash's high fds, Python's os.dup) and the raw syscall. */
    int fc_fd = fcntl(fd, F_DUPFD_CLOEXEC, 20);
    int fc_fd2 = fcntl(fd, F_DUPFD, 30);
    int sc_fd = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 40);
    struct stat e, f, g;
    int fc_ok = fc_fd >= 20 && fc_fd2 >= 30 && sc_fd >= 40 && fstat(fc_fd, &e) == 0 &&
                fstat(fc_fd2, &f) == 0 && fstat(sc_fd, &g) == 0;
    printf("at size=%lld mode=%o same_ino=%d dup_same=%d fcntl_same=%d\n", (long long)a.st_size,
           a.st_mode, a.st_ino == b.st_ino && b.st_ino == c.st_ino && a.st_dev == b.st_dev,
           d.st_ino == b.st_ino && d.st_mtim.tv_nsec == b.st_mtim.tv_nsec,
           fc_ok && e.st_ino == b.st_ino && e.st_mtim.tv_nsec == b.st_mtim.tv_nsec &&
               f.st_ino == b.st_ino && f.st_mode == b.st_mode && g.st_ino == b.st_ino &&
               g.st_nlink == b.st_nlink);
    return 0;
  }
  if (!strcmp(mode, "getdents")) {
    int fd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return 1;
    char buf[1024];
    char* names[4096];
    int n = 0;
    for (;;) {
      ssize_t r = getdents64(fd, buf, sizeof buf);
      if (r <= 0) break;
      for (ssize_t off = 0; off < r;) {
        struct dirent64* d = (struct dirent64*)(buf + off);
        if (n < 4096) names[n++] = strdup(d->d_name);
        off += d->d_reclen;
      }
    }
    for (int i = 0; i < n; ++i)
      for (int j = i + 1; j < n; ++j)
        if (strcmp(names[i], names[j]) > 0) {
          char* t = names[i];
          names[i] = names[j];
          names[j] = t;
        }
    for (int i = 0; i < n; ++i) printf("%s\n", names[i]);
    return 0;
  }
  return 2;
}

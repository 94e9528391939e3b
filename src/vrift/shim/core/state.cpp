// Setting up the shim's state from the environment `vrift run` prepared (docs/shim.md, "The run
// contract"). Runs once, from the library's constructor, before the program's main.
#include "vrift/shim/core/state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "vrift/shim/core/path.h"
#include "vrift/shim/core/str.h"
#include "vrift/util/raw_syscall.h"

namespace vrift::shim {

// constinit: no constructor may run for it (ours runs first, at priority 101).
constinit State g_state{};

namespace {

// Copies the field [b, e) into DST (CAP bytes with the NUL); false if it does not fit or is empty.
bool take(const char* b, const char* e, char* dst, uint32_t cap, uint32_t* len) {
  const size_t n = static_cast<size_t>(e - b);
  if (n == 0 || n + 1 > cap) return false;
  std::memcpy(dst, b, n);
  dst[n] = '\0';
  if (len) *len = static_cast<uint32_t>(n);
  return true;
}

bool parse_u64(const char* b, const char* e, uint64_t* out) {
  if (b == e || e - b > 20) return false;
  uint64_t v = 0;
  for (const char* p = b; p < e; ++p) {
    if (*p < '0' || *p > '9') return false;
    v = v * 10 + static_cast<uint64_t>(*p - '0');
  }
  *out = v;
  return true;
}

// Parses one record [b, e): root \t vdir \t manifest \t session.
bool parse_record(const char* b, const char* e, Projection* p) {
  const char* f[5];
  int nf = 0;
  f[nf++] = b;
  for (const char* c = b; c < e && nf < 5; ++c)
    if (*c == '\t') f[nf++] = c + 1;
  if (nf != 4) return false;
  const char* root_e = f[1] - 1;
  if (!take(f[0], root_e, p->root, kPathMax, &p->root_len)) return false;
  if (p->root[0] != '/' || p->root_len < 2 || p->root[p->root_len - 1] == '/') return false;
  if (!take(f[1], f[2] - 1, p->vdir_path, kPathMax, nullptr)) return false;
  return parse_u64(f[3], e, &p->session) && p->session != 0;
}

const char* env_value(char** envp, const char* name) {
  const size_t n = slen(name);
  for (char** e = envp; e && *e; ++e)
    if (std::strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
  return nullptr;
}

bool stat_path(const char* path, struct stat* st) {
  return !sys::failed(sys::call6(SYS_newfstatat, AT_FDCWD, sys::arg(path), sys::arg(st), 0));
}

} // namespace

void log3(const char* a, const char* b, const char* c) {
  if (!g_state.log) return;
  char buf[1024];
  uint32_t len = 0;
  const char* parts[] = {"vrift-shim: ", a, b, c};
  for (const char* s : parts) {
    const size_t n = slen(s);
    (void)append(buf, &len, sizeof buf - 1, s, n < 300 ? n : 300);
  }
  buf[len++] = '\n';
  sys::call6(SYS_write, 2, sys::arg(buf), len);
}

int parse_projections(const char* text, State* st) {
  st->nproj = 0;
  if (!text) return 0;
  const char* b = text;
  while (*b && st->nproj < kMaxProjections) {
    const char* e = b;
    while (*e && *e != '\n')
      ++e;
    Projection* p = &st->proj[st->nproj];
    *p = Projection{};
    if (parse_record(b, e, p)) ++st->nproj;
    b = *e ? e + 1 : e;
  }
  return st->nproj;
}

// The stale map beside P's VDir ("<name>.stale" for "<name>.vdir"): without one (a daemon that
// makes none, a file that cannot be mapped) the projection works as before, and what a program
// changes in a solid projection's files is not seen through the VDir until the next session.
static void attach_stale(Projection* p) {
  char path[kPathMax];
  if (!vdir_sibling(*p, ".stale", path)) return;
  if (vdir::vdir_map_stale(path, &p->stale) != 0) {
    log3("cannot map the stale map ", path, "; changes to solid files show at the next session");
    return;
  }
  if (p->reader.attach_stale(const_cast<void*>(p->stale.base), p->stale.len) !=
      vdir::VdirAttach::kOk) {
    log3("not a usable stale map: ", path);
    vdir::vdir_unmap(&p->stale);
  }
}

bool vdir_sibling(const Projection& p, const char* ext, char* out) {
  uint32_t len = 0;
  const uint32_t vlen = static_cast<uint32_t>(slen(p.vdir_path));
  return vlen >= 5 && append(out, &len, kPathMax, p.vdir_path, vlen - 5) &&
         append(out, &len, kPathMax, ext, slen(ext));
}

void attach_projections(State* st) {
  int kept = 0;
  for (int i = 0; i < st->nproj; ++i) {
    Projection* p = &st->proj[i];
    const int err = vdir::vdir_map_readonly(p->vdir_path, &p->map);
    if (err != 0) {
      log3("cannot map the VDir ", p->vdir_path, "; using the real filesystem for it");
      continue;
    }
    if (p->reader.attach(p->map.base, p->map.len) != vdir::VdirAttach::kOk) {
      log3("not a usable VDir: ", p->vdir_path);
      vdir::vdir_unmap(&p->map);
      continue;
    }
    attach_stale(p);
    struct stat rs {};
    if (stat_path(p->root, &rs)) p->dev = rs.st_dev;
    char parent[kPathMax];
    uint32_t plen = 0;
    (void)append(parent, &plen, kPathMax, p->root, p->root_len);
    if (append(parent, &plen, kPathMax, "/..", 3) && stat_path(parent, &rs))
      p->parent_ino = rs.st_ino;
    if (kept != i) st->proj[kept] = *p;
    ++kept;
  }
  st->nproj = kept;
  // Longest root first, so that a nested projection wins over the one around it.
  for (int i = 1; i < st->nproj; ++i)
    for (int j = i; j > 0 && st->proj[j].root_len > st->proj[j - 1].root_len; --j) {
      Projection tmp = st->proj[j];
      st->proj[j] = st->proj[j - 1];
      st->proj[j - 1] = tmp;
    }
}

void init_from_env(char** envp) {
  State* st = &g_state;
  path_init();
  const char* log = env_value(envp, "VRIFT_LOG");
  st->log = log && *log && !(log[0] == '0' && log[1] == '\0');
  st->pid = static_cast<int>(sys::call6(SYS_getpid));
  st->uid = static_cast<uint32_t>(sys::call6(SYS_getuid));
  st->gid = static_cast<uint32_t>(sys::call6(SYS_getgid));
  st->euid = static_cast<uint32_t>(sys::call6(SYS_geteuid));
  st->egid = static_cast<uint32_t>(sys::call6(SYS_getegid));
  const char* store = env_value(envp, "VRIFT_STORE");
  const char* projs = env_value(envp, "VRIFT_PROJECTIONS");
  if (store && store[0] == '/' && slen(store) + 1 < kPathMax) {
    st->store_len = 0;
    (void)append(st->store, &st->store_len, kPathMax, store, slen(store));
    parse_projections(projs, st);
    attach_projections(st);
  } else if (projs) {
    log3("VRIFT_PROJECTIONS without a usable VRIFT_STORE; not projecting anything");
  }
  if (st->log) {
    char n[24];
    n[u64_dec(static_cast<uint64_t>(st->nproj), n)] = '\0';
    log3("active, projections: ", n);
  }
  __atomic_store_n(&st->ready, 1, __ATOMIC_RELEASE);
}

} // namespace vrift::shim

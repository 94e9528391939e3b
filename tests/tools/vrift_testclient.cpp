// A protocol client for the integration suites and the daemon benchmark: it speaks to vriftd
// through the same codec the CLI and the shim use.
//   vrift_testclient commit-loop SOCK ROOT MANIFEST N     commit N files; print each acked index
//   vrift_testclient commit SOCK ROOT MANIFEST REL CONTENT
//   vrift_testclient mkdir-in SOCK SESSION PATH             mkdir through a session this
//                                                          connection did not open (the shim's way)
//   vrift_testclient mutate SOCK ROOT MANIFEST OP ARGS...  mkdir P | unlink P | rmdir P |
//                                                          rename A B | chmod P MODE | symlink T P
//   vrift_testclient hold SOCK ROOT MANIFEST               open a session, keep it until stdin
//   closes vrift_testclient lookup VDIR REL                       read the VDir like the shim will
//   vrift_testclient bench SOCK ROOT MANIFEST N            N 4 KiB commits: latency percentiles
//   vrift_testclient walked SOCK ROOT MANIFEST SINCE_NS ID  open as zero-config does after a walk
//                                                          begun at SINCE_NS that produced the
//                                                          manifest of id ID (hex; - : none)
//   vrift_testclient ask SOCK ROOT MANIFEST MS             open as zero-config does before a
//                                                          walk, until the daemon vouches for the
//                                                          tree (prints tree-clean) or MS pass
//                                                          (prints walk)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "vrift/config/paths.h"
#include "vrift/proto/client.h"
#include "vrift/vdir/vdir_reader.h"

using namespace vrift;

namespace {

int die(const std::string& msg) {
  std::fprintf(stderr, "testclient: %s\n", msg.c_str());
  return 1;
}

Result<std::pair<proto::Client, uint64_t>> open_session(const char* sock, const char* root,
                                                        const char* manifest) {
  VRIFT_ASSIGN(auto c, proto::Client::connect(sock, proto::Role::Test, 2000));
  proto::SessionOpen o;
  o.root = root;
  o.manifest = manifest;
  VRIFT_ASSIGN(auto r, c.call<proto::SessionReply>(o, 10000));
  uint64_t sid = r.session;
  return std::make_pair(std::move(c), sid);
}

// mkdir DIR in the session; an existing directory is fine.
Status ensure_dir(proto::Client& c, uint64_t sid, const char* dir) {
  proto::Mkdir m;
  m.session = sid;
  m.path = dir;
  m.mode = 0755;
  auto r = c.call<proto::OkReply>(m, 10000);
  if (!r.ok() && r.error().errnum() != EEXIST) return fail(std::move(r).error());
  return {};
}

bool write_file(const std::string& p, const std::string& data) {
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  return ::close(fd) == 0 && ok;
}

Result<proto::CommitReply> commit(proto::Client& c, uint64_t sid, const std::string& root,
                                  const std::string& rel, const std::string& content, int n) {
  std::string staging =
      Paths::staging_dir(root) + "/tc." + std::to_string(::getpid()) + "." + std::to_string(n);
  if (!write_file(staging, content)) return fail_os("writing " + staging);
  proto::Commit m;
  m.session = sid;
  m.path = rel;
  m.staging = staging;
  auto r = c.call<proto::CommitReply>(m, 60000);
  ::unlink(staging.c_str());
  return r;
}

// One commit as the shim makes it: the program's write goes to a staging file (created at
// open(2), written, closed), and its close(2) sends COMMIT and waits for the ack. Timed
// separately: the staging write (what the kernel would do anyway for a physical file), the
// COMMIT round trip (what vrift adds at close), and both together.
int cmd_bench(const char* sock, const char* root, const char* manifest, int n) {
  auto s = open_session(sock, root, manifest);
  if (!s.ok()) return die(s.error().message());
  proto::Client& c = s->first;
  uint64_t sid = s->second;
  if (auto d = ensure_dir(c, sid, "bench"); !d.ok()) return die(d.error().message());
  std::string content(4096, 'x');
  std::vector<double> write_us, commit_us, total_us;
  write_us.reserve(static_cast<size_t>(n));
  commit_us.reserve(static_cast<size_t>(n));
  total_us.reserve(static_cast<size_t>(n));
  const std::string prefix = Paths::staging_dir(root) + "/tc." + std::to_string(::getpid()) + ".";
  auto t_all = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    std::snprintf(content.data(), 32, "%d-%d-", ::getpid(), i); // distinct contents
    const std::string staging = prefix + std::to_string(i);
    const std::string rel = "bench/f" + std::to_string(::getpid()) + "_" + std::to_string(i);
    proto::Commit m; // holds views of staging and rel
    m.session = sid;
    m.path = rel;
    m.staging = staging;
    auto t0 = std::chrono::steady_clock::now();
    if (!write_file(staging, content))
      return die("writing " + staging + ": " + std::strerror(errno));
    auto t1 = std::chrono::steady_clock::now();
    auto r = c.call<proto::CommitReply>(m, 60000);
    auto t2 = std::chrono::steady_clock::now();
    ::unlink(staging.c_str());
    if (!r.ok()) return die(r.error().message());
    write_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    commit_us.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
    total_us.push_back(std::chrono::duration<double, std::micro>(t2 - t0).count());
  }
  double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_all).count();
  auto pct = [](std::vector<double>& v, size_t p) {
    std::sort(v.begin(), v.end());
    return v[v.size() * p / 100];
  };
  std::printf("commits=%d commit_p50_us=%.1f commit_p90_us=%.1f commit_p99_us=%.1f "
              "staging_write_p50_us=%.1f total_p50_us=%.1f per_s=%.0f\n",
              n, pct(commit_us, 50), pct(commit_us, 90), pct(commit_us, 99), pct(write_us, 50),
              pct(total_us, 50), n / total);
  return 0;
}

int cmd_lookup(const char* vdir_path, const char* rel) {
  int fd = ::open(vdir_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return die(std::string("open ") + vdir_path + ": " + std::strerror(errno));
  struct stat st {};
  ::fstat(fd, &st);
  void* base = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (base == MAP_FAILED) return die("mmap failed");
  vdir::VdirReader reader;
  if (reader.attach(base, static_cast<size_t>(st.st_size)) != vdir::VdirAttach::kOk)
    return die("not a valid VDir");
  vdir::VdirStat out;
  auto r = reader.lookup(rel, std::strlen(rel), &out);
  if (r == vdir::VdirResult::kHit) {
    std::printf("hit mode=%o size=%llu\n", out.mode, static_cast<unsigned long long>(out.size));
  } else if (r == vdir::VdirResult::kDeleted) {
    std::printf("deleted\n");
  } else {
    std::printf("miss\n");
  }
  return 0;
}

// A zero-config SESSION_OPEN (kOpenWatchTree), the walk having begun at SINCE_NS (0: no walk).
proto::SessionOpen watch_open(const char* root, const char* manifest, uint64_t since_ns) {
  proto::SessionOpen o;
  o.root = root;
  o.manifest = manifest;
  o.has_tail = true;
  o.flags = proto::kOpenWatchTree;
  o.unchanged_before_ns = since_ns;
  return o;
}

// Zero-config's open after its walk (docs/run.md, "Zero-config"): kOpenWatchTree with the time
// the walk began and, unless ID is "-", the id of the manifest it produced. Prints the flags.
int cmd_walked(const char* sock, const char* root, const char* manifest, const char* since,
               const char* id) {
  auto c = proto::Client::connect(sock, proto::Role::Test, 2000);
  if (!c.ok()) return die(c.error().message());
  proto::SessionOpen o = watch_open(root, manifest, std::strtoull(since, nullptr, 10));
  if (std::string(id) != "-") {
    if (std::strlen(id) != 2 * proto::kHashSize) return die(std::string("not an id: ") + id);
    for (size_t i = 0; i < proto::kHashSize; ++i) {
      unsigned b = 0;
      if (std::sscanf(id + 2 * i, "%2x", &b) != 1) return die(std::string("not an id: ") + id);
      o.walked_id[i] = static_cast<uint8_t>(b);
    }
    o.has_walked_id = true;
  }
  auto r = c->call<proto::SessionReply>(o, 10000);
  if (!r.ok()) return die(r.error().message());
  std::printf("session=%llu flags=%u\n", static_cast<unsigned long long>(r->session), r->flags);
  return 0;
}

// Zero-config's question before it walks, asked again every 20 ms for up to MS ms.
int cmd_ask(const char* sock, const char* root, const char* manifest, int ms) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  for (;;) {
    auto c = proto::Client::connect(sock, proto::Role::Test, 2000);
    if (!c.ok()) return die(c.error().message());
    auto r = c->call<proto::SessionReply>(watch_open(root, manifest, 0), 10000);
    if (!r.ok()) return die(r.error().message());
    if (r->flags & proto::kSessionTreeClean) {
      std::printf("tree-clean\n");
      return 0;
    }
    if (std::chrono::steady_clock::now() >= end) {
      std::printf("walk\n");
      return 0;
    }
    ::usleep(20000);
  }
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 3) return die("usage: see the top of vrift_testclient.cpp");
  std::string cmd = argv[1];
  if (cmd == "lookup" && argc == 4) return cmd_lookup(argv[2], argv[3]);
  if (argc < 5) return die("missing arguments");
  if (cmd == "mkdir-in" && argc == 5) { // as the shim: a session this connection did not open
    auto c = proto::Client::connect(argv[2], proto::Role::Test, 2000);
    if (!c.ok()) return die(c.error().message());
    proto::Mkdir m;
    m.session = std::strtoull(argv[3], nullptr, 10);
    m.path = argv[4];
    m.mode = 0755;
    auto r = c->call<proto::OkReply>(m, 10000);
    if (!r.ok()) {
      return die(r.error().message() + " (" + proto::kind_name(c->last_error_kind()) + ")");
    }
    std::printf("ok\n");
    return 0;
  }
  const char *sock = argv[2], *root = argv[3], *manifest = argv[4];
  if (cmd == "bench" && argc == 6) return cmd_bench(sock, root, manifest, std::atoi(argv[5]));
  if (cmd == "walked" && argc == 7) return cmd_walked(sock, root, manifest, argv[5], argv[6]);
  if (cmd == "ask" && argc == 6) return cmd_ask(sock, root, manifest, std::atoi(argv[5]));
  auto s = open_session(sock, root, manifest);
  if (!s.ok()) return die(s.error().message());
  proto::Client& c = s->first; // named, not a structured binding: lambdas below capture it
  uint64_t sid = s->second;
  if (cmd == "open") {
    std::printf("session=%llu\n", static_cast<unsigned long long>(sid));
    return 0;
  }
  if (cmd == "hold") { // keep the session open until stdin closes
    std::printf("session=%llu\n", static_cast<unsigned long long>(sid));
    std::fflush(stdout);
    char b[64];
    while (::read(0, b, sizeof b) > 0) {
    }
    return 0;
  }
  if (cmd == "commit-loop" && argc == 6) {
    int n = std::atoi(argv[5]);
    if (auto d = ensure_dir(c, sid, "loop"); !d.ok()) return die(d.error().message());
    for (int i = 0; i < n; ++i) {
      auto r =
          commit(c, sid, root, "loop/f" + std::to_string(i), "content " + std::to_string(i), i);
      if (!r.ok()) return die(r.error().message());
      std::printf("%d\n", i);
      std::fflush(stdout);
    }
    return 0;
  }
  if (cmd == "commit" && argc == 7) {
    auto r = commit(c, sid, root, argv[5], argv[6], 0);
    if (!r.ok()) return die(r.error().message());
    std::printf("size=%llu\n", static_cast<unsigned long long>(r->size));
    return 0;
  }
  if (cmd == "mutate" && argc >= 7) {
    std::string op = argv[5];
    Status st;
    auto ok_call = [&](const auto& m) -> Status {
      auto r = c.call<proto::OkReply>(m, 10000);
      if (!r.ok()) return fail(std::move(r).error());
      return {};
    };
    if (op == "mkdir") {
      proto::Mkdir m;
      m.session = sid;
      m.path = argv[6];
      m.mode = 0755;
      st = ok_call(m);
    } else if (op == "unlink") {
      proto::Unlink m;
      m.session = sid;
      m.path = argv[6];
      st = ok_call(m);
    } else if (op == "rmdir") {
      proto::Rmdir m;
      m.session = sid;
      m.path = argv[6];
      st = ok_call(m);
    } else if (op == "rename" && argc == 8) {
      proto::Rename m;
      m.session = sid;
      m.from = argv[6];
      m.to = argv[7];
      st = ok_call(m);
    } else if (op == "chmod" && argc == 8) {
      proto::Chmod m;
      m.session = sid;
      m.path = argv[6];
      m.mode = static_cast<uint32_t>(std::strtoul(argv[7], nullptr, 8));
      st = ok_call(m);
    } else if (op == "symlink" && argc == 8) {
      proto::Symlink m;
      m.session = sid;
      m.target = argv[6];
      m.path = argv[7];
      st = ok_call(m);
    } else {
      return die("unknown mutation " + op);
    }
    if (!st.ok()) return die(st.error().message());
    std::printf("ok\n");
    return 0;
  }
  return die("unknown command " + cmd);
}

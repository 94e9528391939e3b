// The shim's logic without preloading (STYLE.md: a thin extern "C" layer over tested logic):
// path normalisation, the projection environment, lookups through a real VDir filled from a
// real manifest (symlinks, tombstones, errors), directory listings and realpath.
#include <gtest/gtest.h>

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "vrift/manifest/manifest.h"
#include "vrift/shim/core/dirstream.h"
#include "vrift/shim/core/fdtab.h"
#include "vrift/shim/core/lookup.h"
#include "vrift/shim/core/realpath.h"
#include "vrift/shim/core/state.h"
#include "vrift/shim/core/statfill.h"
#include "vrift/util/fs.h"
#include "vrift/vdir/vdir_writer.h"

using namespace vrift;
using namespace vrift::shim;

namespace {

std::string norm(const std::string& in, bool* dir_only = nullptr) {
  PathBuf b;
  b.len = static_cast<uint32_t>(in.size());
  std::memcpy(b.s, in.c_str(), in.size() + 1);
  normalize(&b);
  if (dir_only) *dir_only = b.dir_only;
  return std::string(b.s, b.len);
}

TEST(ShimPath, NormalizeIsLexical) {
  EXPECT_EQ(norm("/"), "/");
  EXPECT_EQ(norm("//a///b/"), "/a/b");
  EXPECT_EQ(norm("/a/./b/."), "/a/b");
  EXPECT_EQ(norm("/a/b/../c"), "/a/c");
  EXPECT_EQ(norm("/../.."), "/");
  EXPECT_EQ(norm("/a/.."), "/");
  EXPECT_EQ(norm("/a/..b/.c"), "/a/..b/.c");
  bool d = false;
  norm("/a/b/", &d);
  EXPECT_TRUE(d);
  norm("/a/b/..", &d);
  EXPECT_TRUE(d);
  norm("/a/b", &d);
  EXPECT_FALSE(d);
}

// A blob is opened without an fstat; the descriptor's first fstat learns its inode. Until then
// only a regular file of the entry's size on the store's device passes for it, and afterwards
// only that inode does.
TEST(ShimFdTable, ABlobsInodeIsLearntOnTheFirstFstat) {
  char tmpl[] = "/tmp/vrift-fdtab.XXXXXX";
  const std::string t = ::mkdtemp(tmpl);
  ASSERT_TRUE(fs::write_file_atomic(t + "/blob", "12345").ok());
  ASSERT_TRUE(fs::write_file_atomic(t + "/other", "abcde").ok());
  ASSERT_TRUE(fs::write_file_atomic(t + "/short", "1234").ok());
  struct stat blob {
  }, other{}, shorter{}, dir{};
  ASSERT_EQ(::stat((t + "/blob").c_str(), &blob), 0);
  ASSERT_EQ(::stat((t + "/other").c_str(), &other), 0);
  ASSERT_EQ(::stat((t + "/short").c_str(), &shorter), 0);
  ASSERT_EQ(::stat(t.c_str(), &dir), 0);
  g_state = State{};
  std::strcpy(g_state.store, t.c_str());
  g_state.store_len = static_cast<uint32_t>(t.size());

  vdir::VdirStat st{vdir::VdirStat::Zero{}};
  st.size = 5;
  st.mode = vdir::kModeReg | 0644;
  const int fd = 1000;
  fd_set_file(fd, 0, st, 0, 0);
  FdEntry* e = fd_entry(fd);
  ASSERT_NE(e, nullptr);
  EXPECT_FALSE(fd_same_file(e, shorter.st_dev, shorter.st_ino, true, true, 4)) << "another size";
  EXPECT_FALSE(fd_same_file(e, dir.st_dev, dir.st_ino, false, true, 5)) << "not a regular file";
  EXPECT_FALSE(fd_same_file(e, blob.st_dev + 1, blob.st_ino, true, true, 5)) << "another device";
  EXPECT_FALSE(fd_same_file(e, blob.st_dev, blob.st_ino, true, false, 0)) << "size not given";
  EXPECT_TRUE(fd_same_file(e, blob.st_dev, blob.st_ino, true, true, 5)) << "the blob";
  EXPECT_FALSE(fd_same_file(e, other.st_dev, other.st_ino, true, true, 5))
      << "once learnt, another file of the same size does not pass";
  EXPECT_TRUE(fd_same_file(e, blob.st_dev, blob.st_ino, true, true, 5));
  fd_copy(fd, fd + 1);
  EXPECT_FALSE(fd_same_file(fd_entry(fd + 1), other.st_dev, other.st_ino, true, true, 5))
      << "a dup keeps what was learnt";
  fd_clear(fd + 1);

  // A directory's entry is made with its inode: nothing is learnt for it.
  fd_set_dir(fd, 0, "d", 1, st, 0, 0);
  EXPECT_FALSE(fd_same_file(e, blob.st_dev, blob.st_ino, true, true, 5));
  fd_clear(fd);
  g_state = State{};
  std::filesystem::remove_all(t);
}

TEST(ShimState, ParsesProjectionRecords) {
  static State st; // large: not on the stack
  const char* text = "/p/one\t/v/1.vdir\t/m/1\t7\n"
                     "relative\t/v/2.vdir\t/m/2\t8\n" // root not absolute: skipped
                     "/p/two/\t/v/3.vdir\t/m/3\t9\n"  // trailing slash: skipped
                     "/p/three\t/v/4.vdir\t/m/4\t0\n" // session 0: skipped
                     "/p/four\t/v/5.vdir\t/m/5\n"     // missing field: skipped
                     "/p/five\t/v/6.vdir\t/m/6\t12";
  ASSERT_EQ(parse_projections(text, &st), 2);
  EXPECT_STREQ(st.proj[0].root, "/p/one");
  EXPECT_EQ(st.proj[0].root_len, 6u);
  EXPECT_STREQ(st.proj[0].vdir_path, "/v/1.vdir");
  EXPECT_EQ(st.proj[0].session, 7u);
  EXPECT_STREQ(st.proj[1].root, "/p/five");
  EXPECT_EQ(st.proj[1].session, 12u);
  EXPECT_EQ(parse_projections(nullptr, &st), 0);
  EXPECT_EQ(parse_projections("", &st), 0);
}

// A projection at a temp root: manifest -> VDir + listing, skeleton directories on disk, the
// global state pointing at it (as the constructor would set it up).
class ShimProjection : public ::testing::Test {
protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "vrift-shim-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    m_tmp = std::filesystem::canonical(tmpl).string();
    m_root = m_tmp + "/proj";
    std::vector<ManifestEntry> es;
    auto dir = [&](const std::string& p) {
      ManifestEntry e;
      e.path = p;
      e.type = EntryType::Dir;
      e.mode = 0755;
      es.push_back(e);
      std::filesystem::create_directories(m_root + "/" + p);
    };
    auto file = [&](const std::string& p, uint64_t size, uint32_t mode = 0644) {
      ManifestEntry e;
      e.path = p;
      e.type = EntryType::File;
      e.mode = mode;
      e.size = size;
      e.mtime_ns = 1700000000123456789;
      e.hash = blake3(p);
      es.push_back(e);
    };
    auto link = [&](const std::string& p, const std::string& target) {
      ManifestEntry e;
      e.path = p;
      e.type = EntryType::Symlink;
      e.mode = 0777;
      e.size = target.size();
      e.target = target;
      es.push_back(e);
    };
    std::filesystem::create_directories(m_root);
    dir("src");
    dir("src/sub");
    dir("src-x");
    file("src/a.c", 10);
    file("src/sub/b.h", 20);
    file("src-x/c", 1);
    file("run.sh", 5, 0750);
    link("srclink", "src");
    link("abslink", m_root + "/src/a.c");
    link("outlink", "/etc");
    link("loop1", "loop2");
    link("loop2", "loop1");
    link("dangling", "nowhere");
    std::sort(es.begin(), es.end(), [](auto& a, auto& b) { return a.path < b.path; });
    auto bytes = serialize_manifest(es, m_root);
    ASSERT_TRUE(bytes.ok()) << bytes.error().message();
    auto m = Manifest::from_bytes(*bytes);
    ASSERT_TRUE(m.ok());
    const std::string vdir = m_tmp + "/s.vdir";
    auto w = vdir::VdirWriter::create(vdir);
    ASSERT_TRUE(w.ok()) << w.error().message();
    m_writer = std::make_unique<vdir::VdirWriter>(std::move(*w));
    vdir::VdirRoot vr;
    vr.mode = 0755;
    vr.uid = ::getuid();
    vr.gid = ::getgid();
    ASSERT_TRUE(m_writer->fill_from_manifest(*m, vr).ok());
    ASSERT_TRUE(fs::write_file_atomic(m_tmp + "/s.listing", *bytes, 0400).ok());
    const std::string env = m_root + "\t" + vdir + "\t/m\t1";
    g_state = State{};
    ASSERT_EQ(parse_projections(env.c_str(), &g_state), 1);
    attach_projections(&g_state);
    ASSERT_EQ(g_state.nproj, 1);
    std::strcpy(g_state.store, "/store");
    g_state.store_len = 6;
    g_state.pid = ::getpid();
    g_state.uid = g_state.euid = ::getuid();
    g_state.gid = g_state.egid = ::getgid();
    g_state.ready = 1;
  }
  void TearDown() override {
    for (int i = 0; i < g_state.nproj; ++i)
      vdir::vdir_unmap(&g_state.proj[i].map);
    g_state = State{};
    m_writer.reset();
    std::error_code ec;
    std::filesystem::remove_all(m_tmp, ec);
  }
  Lookup look(const std::string& p, bool follow = true) {
    m_last = p;
    return lookup(AT_FDCWD, m_last.c_str(), follow, &m_s);
  }
  std::vector<std::string> list(const std::string& rel) {
    Scratch s;
    Lookup l = lookup(AT_FDCWD, (m_root + (rel.empty() ? "" : "/" + rel)).c_str(), true, &s);
    EXPECT_EQ(l.res, Res::kHit);
    int fd = ::open((m_root + "/" + rel).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    EXPECT_GE(fd, 0);
    int idx = dirstream_open(fd, 0, rel.c_str(), static_cast<uint32_t>(rel.size()), l.st);
    EXPECT_GE(idx, 0);
    std::vector<std::string> names;
    while (struct dirent64* d = dirstream_next(idx))
      names.emplace_back(d->d_name);
    dirstream_release_index(idx);
    ::close(fd);
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string m_tmp, m_root, m_last;
  std::unique_ptr<vdir::VdirWriter> m_writer;
  Scratch m_s;
};

TEST_F(ShimProjection, HitsCarryTheManifestsMetadata) {
  Lookup l = look(m_root + "/src/a.c");
  ASSERT_EQ(l.res, Res::kHit);
  EXPECT_EQ(l.st.size, 10u);
  EXPECT_EQ(l.st.mode, 0100644u);
  struct stat st;
  fill_stat(g_state.proj[0], l.st, &st);
  EXPECT_EQ(st.st_mtim.tv_sec, 1700000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 123456789);
  // Before 1970 the kernel's form too: whole seconds rounded down, nanoseconds in [0, 1e9).
  vdir::VdirStat old = l.st;
  old.mtime_ns = -1;
  old.atime_ns = -1500000000;
  struct stat before;
  std::memset(&before, 0xAB, sizeof before);
  fill_stat(g_state.proj[0], old, &before);
  EXPECT_EQ(before.st_mtim.tv_sec, -1);
  EXPECT_EQ(before.st_mtim.tv_nsec, 999999999);
  EXPECT_EQ(before.st_atim.tv_sec, -2);
  EXPECT_EQ(before.st_atim.tv_nsec, 500000000);
  EXPECT_EQ(before.st_rdev, 0u);
  struct stat zeroed; // every byte the shim does not set is zero, padding included
  std::memset(&zeroed, 0, sizeof zeroed);
  fill_stat(g_state.proj[0], old, &zeroed);
  EXPECT_EQ(std::memcmp(&zeroed, &before, sizeof before), 0);
  EXPECT_GE(st.st_ino, kInoBase);
  struct stat rs;
  ASSERT_EQ(::stat(m_root.c_str(), &rs), 0);
  EXPECT_EQ(st.st_dev, rs.st_dev);
  // Distinct, stable inode numbers.
  Lookup l2 = look(m_root + "/src/sub/b.h");
  ASSERT_EQ(l2.res, Res::kHit);
  EXPECT_NE(l2.st.ino, l.st.ino);
  EXPECT_EQ(look(m_root + "/src/a.c").st.ino, l.st.ino);
  // The root itself and unnormal spellings.
  EXPECT_EQ(look(m_root).res, Res::kHit);
  EXPECT_EQ(look(m_root + "/src/../src/./a.c").res, Res::kHit);
  EXPECT_EQ(look(m_root + "//src//a.c").res, Res::kHit);
}

TEST_F(ShimProjection, RelativePathsFollowTheCwd) {
  char old[4096];
  ASSERT_NE(::getcwd(old, sizeof old), nullptr);
  ASSERT_EQ(::chdir((m_root + "/src").c_str()), 0);
  cwd_invalidate();
  EXPECT_EQ(look("a.c").res, Res::kHit);
  EXPECT_EQ(look("../src-x/c").res, Res::kHit);
  EXPECT_EQ(look("sub/b.h").res, Res::kHit);
  ASSERT_EQ(::chdir(m_tmp.c_str()), 0);
  cwd_invalidate();
  EXPECT_FALSE(surely_outside(AT_FDCWD, "proj/src/a.c")); // the projection lies below the cwd
  EXPECT_EQ(look("proj/src/a.c").res, Res::kHit);
  ASSERT_EQ(::chdir("/"), 0);
  cwd_invalidate();
  EXPECT_FALSE(surely_outside(AT_FDCWD, "tmp"));
  ASSERT_EQ(::chdir(old), 0);
  cwd_invalidate();
}

TEST_F(ShimProjection, OutsidePathsAreRecognisedCheaply) {
  EXPECT_TRUE(surely_outside(AT_FDCWD, "/usr/lib/x"));
  EXPECT_TRUE(surely_outside(AT_FDCWD, (m_root + "-other/a").c_str()));
  EXPECT_FALSE(surely_outside(AT_FDCWD, (m_root + "/a").c_str()));
  EXPECT_FALSE(surely_outside(AT_FDCWD, m_root.c_str()));
  EXPECT_FALSE(surely_outside(AT_FDCWD, ("/usr/../" + m_root).c_str())); // must normalise
  EXPECT_EQ(look("/usr/lib").res, Res::kReal);
}

// The path scan (16 bytes a step with SSE2, 32 with AVX2) against byte-by-byte references, for
// paths made of '/', '.' and letters (many of them the projection root with '/', '.' or ".."
// spliced in) at every alignment, with junk after the NUL, and ending on the last byte before an
// unmapped page. quick_classify says kUnknown exactly for a path normalisation changes, and
// otherwise never calls a path outside that is inside, nor inside one that is not.
TEST_F(ShimProjection, PathScanMatchesAByteByByteReference) {
  struct Ref {
    bool unnormal, dotdot, inside;
  };
  const auto reference = [&](const std::string& p) {
    Ref r{false, false, false};
    for (size_t i = 0; i < p.size(); ++i) {
      const bool starts = i == 0 ? p[0] != '/' : p[i - 1] == '/';
      if (starts && (p[i] == '.' || p[i] == '/')) r.unnormal = true;
      if (starts && p.compare(i, 2, "..") == 0 && (i + 2 == p.size() || p[i + 2] == '/'))
        r.dotdot = true;
    }
    if (p.size() > 1 && p.back() == '/') r.unnormal = true;
    if (p[0] == '/') {
      const std::string n = norm(p);
      r.inside = n == m_root || n.rfind(m_root + "/", 0) == 0;
    }
    return r;
  };
  const bool avx2 = path_init(true);
  std::mt19937 rng(7);
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  void* mem = ::mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  ASSERT_EQ(::mprotect(static_cast<char*>(mem) + page, page, PROT_NONE), 0);
  char* buf = static_cast<char*>(mem);
  const char alphabet[] = {'/', '.', 'a', 'b', '/', 'c'};
  // "zz/../" after a '/' leaves the path inside, yet it no longer starts with the root.
  const char* splices[] = {"/", "//", "/./", "/../", ".", "..", "x", "/..", "/.", "zz/../"};
  for (int n = 0; n < 30000; ++n) {
    std::string p;
    if (n % 3 == 0) {
      p = m_root;
      const int edits = static_cast<int>(rng() % 3);
      for (int e = 0; e < edits; ++e) {
        const size_t at = 1 + rng() % p.size();
        p.insert(at, splices[rng() % (sizeof splices / sizeof *splices)]);
      }
      if (rng() % 2 == 0) { // a detour "zz/../" right after one of the root's '/'
        size_t at = 0, k = rng() % 4;
        for (size_t i = 0; i < p.size(); ++i)
          if (p[i] == '/' && k-- == 0) at = i + 1;
        if (at) p.insert(at, std::string(rng() % 40, 'q') + "zz/../");
      }
      if (rng() % 4 == 0) p.resize(1 + rng() % p.size());
      p += "/";
    } else if (n % 3 == 1) {
      p = "/";
    }
    const size_t extra = rng() % 140;
    for (size_t i = 0; i < extra; ++i)
      p += alphabet[rng() % sizeof alphabet];
    if (p.empty() || p.size() + 1 > page) continue;
    for (size_t i = 0; i < page; ++i)
      buf[i] = alphabet[rng() % sizeof alphabet]; // junk around the string
    // At a random offset, or ending right before the unmapped page.
    const size_t off = n % 5 == 0 ? page - (p.size() + 1) : rng() % 64;
    std::memcpy(buf + off, p.c_str(), p.size() + 1);
    const char* at = buf + off;
    const Ref want = reference(p);
    for (bool wide : {false, true}) {
      path_init(wide);
      SCOPED_TRACE("path '" + p + "' at offset " + std::to_string(off) +
                   (wide ? " (widest scan)" : " (SSE2)"));
      EXPECT_EQ(has_dotdot(at), want.dotdot);
      if (p[0] != '/') continue;
      const Quick q = quick_classify(AT_FDCWD, at);
      if (q.where == Where::kInside) {
        EXPECT_TRUE(want.inside);
        EXPECT_FALSE(want.unnormal);
        EXPECT_EQ(q.len, p.size());
      } else if (q.where == Where::kOutside) {
        EXPECT_FALSE(want.inside);
      } else {
        EXPECT_TRUE(want.unnormal);
      }
      EXPECT_EQ(q.where == Where::kUnknown, want.unnormal);
    }
  }
  path_init(true);
  ::munmap(mem, 2 * page);
  if (!avx2) std::printf("note: no AVX2 here; only the SSE2 scan was compared\n");
}

TEST_F(ShimProjection, SymlinksResolveInsideTheProjection) {
  Lookup l = look(m_root + "/srclink/sub/b.h"); // a directory symlink in the middle
  ASSERT_EQ(l.res, Res::kHit);
  EXPECT_EQ(l.st.size, 20u);
  EXPECT_EQ(std::string(l.rel, l.rel_len), "src/sub/b.h");
  l = look(m_root + "/abslink"); // an absolute target back into the projection
  ASSERT_EQ(l.res, Res::kHit);
  EXPECT_EQ(l.st.size, 10u);
  l = look(m_root + "/srclink", false); // lstat: the link itself
  ASSERT_EQ(l.res, Res::kHit);
  EXPECT_EQ(l.st.mode & S_IFMT, static_cast<unsigned>(S_IFLNK));
  l = look(m_root + "/srclink/", false); // a trailing slash follows it
  ASSERT_EQ(l.res, Res::kHit);
  EXPECT_EQ(l.st.mode & S_IFMT, static_cast<unsigned>(S_IFDIR));
  l = look(m_root + "/outlink/hostname"); // leaves the projection: real call, rewritten path
  ASSERT_EQ(l.res, Res::kReal);
  EXPECT_STREQ(l.real_path, "/etc/hostname");
  EXPECT_EQ(look(m_root + "/loop1").res, Res::kError);
  EXPECT_EQ(look(m_root + "/loop1").err, ELOOP);
  l = look(m_root + "/dangling"); // the target is not projected: the kernel answers
  EXPECT_EQ(l.res, Res::kReal);
}

TEST_F(ShimProjection, ErrorsAreTheKernels) {
  Lookup l = look(m_root + "/src/a.c/x");
  ASSERT_EQ(l.res, Res::kError);
  EXPECT_EQ(l.err, ENOTDIR);
  l = look(m_root + "/src/a.c/");
  ASSERT_EQ(l.res, Res::kError);
  EXPECT_EQ(l.err, ENOTDIR);
  // Not in the manifest, in a projected directory: the real filesystem decides.
  EXPECT_EQ(look(m_root + "/src/new.c").res, Res::kReal);
  // Deleted in the session: ENOENT without asking the kernel, also below it.
  ASSERT_TRUE(m_writer->remove("src/sub").ok());
  l = look(m_root + "/src/sub");
  ASSERT_EQ(l.res, Res::kError);
  EXPECT_EQ(l.err, ENOENT);
}

TEST_F(ShimProjection, ListingsJoinManifestAndSkeleton) {
  EXPECT_EQ(list(""), (std::vector<std::string>{".", "..", "abslink", "dangling", "loop1", "loop2",
                                                "outlink", "run.sh", "src", "src-x", "srclink"}));
  EXPECT_EQ(list("src"), (std::vector<std::string>{".", "..", "a.c", "sub"}));
  // A file created physically in the skeleton shows up; a deleted entry does not.
  { std::ofstream(m_root + "/src/made.o") << "x"; }
  ASSERT_TRUE(m_writer->remove("src/a.c").ok());
  EXPECT_EQ(list("src"), (std::vector<std::string>{".", "..", "made.o", "sub"}));
  EXPECT_EQ(list("src/sub"), (std::vector<std::string>{".", "..", "b.h"}));
}

// A stream's buffers stay with its slot after the stream is released, for the next listing:
// a directory too large for them (2,000 physical entries: the physical read grows its buffer,
// and the listing needs a larger one) and small ones after and before it all list in full.
TEST_F(ShimProjection, ListingsOfEverySizeReuseTheSlotsBuffers) {
  const std::vector<std::string> small = {".", "..", "a.c", "sub"};
  EXPECT_EQ(list("src"), small);
  std::vector<std::string> big = {".", "..", "b.h"};
  for (int i = 0; i < 2000; ++i) {
    const std::string name = "made-by-a-build-step-" + std::to_string(i) + ".o";
    { std::ofstream(m_root + "/src/sub/" + name) << ""; }
    big.push_back(name);
  }
  std::sort(big.begin(), big.end());
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(list("src/sub"), big);
    EXPECT_EQ(list("src"), small);
  }
}

TEST_F(ShimProjection, GetdentsCopiesWholeRecords) {
  Scratch s;
  Lookup l = lookup(AT_FDCWD, m_root.c_str(), true, &s);
  int fd = ::open(m_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int idx = dirstream_open(fd, 0, "", 0, l.st);
  ASSERT_GE(idx, 0);
  alignas(8) char small[40];
  EXPECT_EQ(dirstream_getdents(idx, small, 10), -EINVAL);
  std::set<std::string> names;
  alignas(8) char buf[96];
  for (;;) {
    long n = dirstream_getdents(idx, buf, sizeof buf);
    ASSERT_GE(n, 0);
    if (n == 0) break;
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<struct dirent64*>(buf + off);
      names.insert(d->d_name);
      off += d->d_reclen;
    }
  }
  EXPECT_EQ(names.size(), 11u);
  EXPECT_TRUE(names.count("srclink"));
  dirstream_release_index(idx);
  ::close(fd);
}

TEST_F(ShimProjection, RealpathResolvesThroughProjectedLinks) {
  Scratch s;
  PathBuf out;
  ASSERT_EQ(resolve_realpath((m_root + "/srclink/sub/../a.c").c_str(), &out, &s), 0);
  EXPECT_EQ(std::string(out.s), m_root + "/src/a.c");
  ASSERT_EQ(resolve_realpath((m_root + "/abslink").c_str(), &out, &s), 0);
  EXPECT_EQ(std::string(out.s), m_root + "/src/a.c");
  EXPECT_EQ(resolve_realpath((m_root + "/nothing").c_str(), &out, &s), ENOENT);
  EXPECT_EQ(resolve_realpath((m_root + "/src/a.c/").c_str(), &out, &s), ENOTDIR);
  EXPECT_EQ(resolve_realpath((m_root + "/loop1").c_str(), &out, &s), ELOOP);
}

TEST_F(ShimProjection, AccessFollowsModeBits) {
  Lookup l = look(m_root + "/run.sh");
  ASSERT_EQ(l.res, Res::kHit);
  EXPECT_EQ(check_access(l.st, F_OK, false), 0);
  EXPECT_EQ(check_access(l.st, R_OK | X_OK, false), 0);
  Lookup f = look(m_root + "/src/a.c");
  EXPECT_EQ(check_access(f.st, X_OK, false), EACCES); // no x bit, even for root
  State saved = g_state;
  g_state.uid = g_state.euid = 4242; // someone else: only the "other" bits count
  g_state.gid = g_state.egid = 4242;
  EXPECT_EQ(check_access(l.st, R_OK, false), EACCES);
  EXPECT_EQ(check_access(f.st, R_OK, false), 0);
  EXPECT_EQ(check_access(f.st, W_OK, false), EACCES);
  // The file's group among our supplementary groups: its group bits count (as the kernel's).
  vdir::VdirStat grp = f.st;
  grp.mode = (grp.mode & ~07777u) | 0640;
  grp.gid = 4343;
  EXPECT_EQ(check_access(grp, R_OK, false), EACCES) << "not in group 4343 yet";
  std::vector<gid_t> old_groups(static_cast<size_t>(::getgroups(0, nullptr)) + 1);
  const int nold = ::getgroups(static_cast<int>(old_groups.size()), old_groups.data());
  ASSERT_GE(nold, 0);
  const gid_t mine[] = {17, 4343};
  const bool can = ::setgroups(2, mine) == 0; // needs root (CI runs as root)
  if (can) {
    EXPECT_EQ(check_access(grp, R_OK, false), 0);
    EXPECT_EQ(check_access(grp, R_OK, true), 0);
    EXPECT_EQ(check_access(grp, W_OK, false), EACCES);
    EXPECT_EQ(::setgroups(static_cast<size_t>(nold), old_groups.data()), 0);
  }
  g_state.uid = saved.uid;
  g_state.euid = saved.euid;
  g_state.gid = saved.gid;
  g_state.egid = saved.egid;
  if (!can) GTEST_SKIP() << "setgroups needs root: " << std::strerror(errno);
}

} // namespace

// The skeleton of a projection: missing directories (with the manifest's modes, even read-only
// ones) and symlinks are created, nothing when they exist, an entry of the wrong type in the way
// is an error that leaves nothing behind, and removal takes back only what is unchanged.
// The supervisor: exit statuses, death by signal, exec failures and execvp's /bin/sh fallback.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "manifest_fixtures.h"
#include "vrift/run/skeleton.h"
#include "vrift/run/supervise.h"

namespace vrift::run {
namespace {

using testing::dir_entry;
using testing::file_entry;
using testing::link_entry;

class RunSkeleton : public ::testing::Test {
protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vrift-skel-unit.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    m_dir = tmpl;
    m_root = m_dir + "/root";
    ASSERT_EQ(::mkdir(m_root.c_str(), 0755), 0);
    auto bytes = serialize_manifest({dir_entry("a"), dir_entry("a/b", 0750), dir_entry("a/b/c"),
                                     file_entry("a/b/c/f", "x"), dir_entry("ro", 0555),
                                     dir_entry("ro/inner", 0700), link_entry("ro/inner/l", "../x"),
                                     link_entry("top", "a/b"), file_entry("plain", "y")},
                                    m_root);
    ASSERT_TRUE(bytes.ok());
    auto m = Manifest::from_bytes(*bytes);
    ASSERT_TRUE(m.ok());
    m_manifest = std::move(*m);
  }
  void TearDown() override {
    std::system(("chmod -R u+rwx " + m_dir + "; rm -rf " + m_dir).c_str());
  }
  mode_t mode_of(const std::string& rel) {
    struct stat st {};
    EXPECT_EQ(::lstat((m_root + "/" + rel).c_str(), &st), 0) << rel;
    return st.st_mode;
  }
  size_t entries_in_root() {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(m_root))
      ++n;
    return n;
  }
  std::string m_dir, m_root;
  Manifest m_manifest;
};

TEST_F(RunSkeleton, CreatesWhatIsMissingAndRemovesIt) {
  auto sk = Skeleton::ensure(m_root, m_manifest);
  ASSERT_TRUE(sk.ok()) << sk.error().message();
  EXPECT_EQ(sk->created_dirs(), 5u);
  EXPECT_EQ(mode_of("a") & 07777, 0755u);
  EXPECT_EQ(mode_of("a/b") & 07777, 0750u);
  EXPECT_EQ(mode_of("ro") & 07777, 0555u);
  EXPECT_FALSE(std::filesystem::is_symlink(m_root + "/top")) << "symlinks are the shim's";
  EXPECT_FALSE(std::filesystem::is_symlink(m_root + "/ro/inner/l"));
  EXPECT_FALSE(std::filesystem::exists(m_root + "/plain")) << "files are the shim's";
  EXPECT_EQ(sk->remove(), 5u);
  EXPECT_EQ(entries_in_root(), 0u);
  EXPECT_EQ(sk->remove(), 0u);
}

TEST_F(RunSkeleton, NothingToDoWhenItExists) {
  for (const char* d : {"a", "a/b", "a/b/c", "ro", "ro/inner"})
    ASSERT_EQ(::mkdir((m_root + "/" + d).c_str(), 0700), 0);
  ASSERT_EQ(::symlink("whatever", (m_root + "/ro/inner/l").c_str()), 0);
  ASSERT_EQ(::symlink("a/b", (m_root + "/top").c_str()), 0);
  auto sk = Skeleton::ensure(m_root, m_manifest);
  ASSERT_TRUE(sk.ok());
  EXPECT_EQ(sk->created_dirs(), 0u);
  EXPECT_EQ(sk->remove(), 0u);
  EXPECT_EQ(mode_of("ro") & 07777, 0700u) << "existing directories are left as they are";
  EXPECT_TRUE(std::filesystem::is_symlink(m_root + "/ro/inner/l"));
}

TEST_F(RunSkeleton, WrongTypeInTheWayIsAnErrorAndLeavesNothing) {
  ASSERT_EQ(::mkdir((m_root + "/ro").c_str(), 0755), 0);
  std::ofstream(m_root + "/ro/inner") << "a file";
  auto sk = Skeleton::ensure(m_root, m_manifest);
  ASSERT_FALSE(sk.ok());
  EXPECT_NE(sk.error().message().find("ro/inner' is a file, the manifest has a directory"),
            std::string::npos)
      << sk.error().message();
  EXPECT_FALSE(std::filesystem::exists(m_root + "/a")) << "what was created is removed again";
  EXPECT_EQ(entries_in_root(), 1u);
  ::unlink((m_root + "/ro/inner").c_str());
  ::symlink("a", (m_root + "/ro/inner").c_str());
  EXPECT_FALSE(Skeleton::ensure(m_root, m_manifest).ok()) << "a symlink where a directory is";
}

TEST_F(RunSkeleton, RemovalKeepsWhatChanged) {
  auto sk = Skeleton::ensure(m_root, m_manifest);
  ASSERT_TRUE(sk.ok());
  std::ofstream(m_root + "/a/b/c/new") << "someone wrote here";
  std::ofstream(m_root + "/ro/inner/kept") << "inside a read-only directory";
  sk->remove();
  EXPECT_TRUE(std::filesystem::exists(m_root + "/a/b/c/new"));
  EXPECT_FALSE(std::filesystem::exists(m_root + "/ro/inner/l"));
  EXPECT_EQ(mode_of("ro") & 07777, 0555u) << "a kept directory gets its mode back";
  EXPECT_EQ(mode_of("a/b") & 07777, 0750u);
}

// Several runs at the same fresh root at once (`vrift run --at DIR` twice): each one's mkdir may
// lose the race to another's; a directory that appeared meanwhile is the other run's, not an
// error.
TEST_F(RunSkeleton, ConcurrentRunsAtOneFreshRootAllSucceed) {
  std::vector<ManifestEntry> entries;
  for (int i = 0; i < 20; ++i) {
    entries.push_back(dir_entry("d" + std::to_string(i)));
    for (int j = 0; j < 20; ++j)
      entries.push_back(dir_entry("d" + std::to_string(i) + "/e" + std::to_string(j)));
  }
  const std::string root = m_dir + "/fresh";
  ASSERT_EQ(::mkdir(root.c_str(), 0755), 0);
  auto bytes = serialize_manifest(std::move(entries), root);
  ASSERT_TRUE(bytes.ok());
  auto m = Manifest::from_bytes(*bytes);
  ASSERT_TRUE(m.ok());
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  std::vector<pid_t> kids;
  for (int k = 0; k < 8; ++k) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(go[1]);
      char c;
      (void)::read(go[0], &c, 1); // all start together
      auto sk = Skeleton::ensure(root, *m);
      if (!sk.ok()) {
        std::fprintf(stderr, "child: %s\n", sk.error().message().c_str());
        _exit(1);
      }
      _exit(0); // keeps what it made (no destructor)
    }
    kids.push_back(pid);
  }
  ::close(go[0]);
  ::close(go[1]); // EOF: go
  int failed = 0;
  for (pid_t pid : kids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  EXPECT_EQ(failed, 0);
  EXPECT_TRUE(std::filesystem::is_directory(root + "/d19/e19"));
}

TEST(RunSupervise, SignalOrigins) {
  EXPECT_TRUE(sent_by_process(SI_USER));
  EXPECT_TRUE(sent_by_process(SI_QUEUE));
  EXPECT_TRUE(sent_by_process(SI_TKILL));
  EXPECT_FALSE(sent_by_process(SI_KERNEL));
}

std::vector<std::string> env_now() {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e)
    env.emplace_back(*e);
  return env;
}

TEST(RunSupervise, ExitStatusAndSignals) {
  auto sup = Supervisor::create();
  ASSERT_TRUE(sup.ok()) << sup.error().message();
  auto r = sup->run({"/bin/sh", {"sh", "-c", "exit 3"}, env_now()});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_FALSE(r->signaled);
  EXPECT_EQ(r->code, 3);
  r = sup->run({"/bin/sh", {"sh", "-c", "kill -TERM $$"}, env_now()});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->signaled);
  EXPECT_EQ(r->code, SIGTERM);
  r = sup->run({"/bin/sh", {"sh", "-c", "test \"$ONLY\" = here"}, {"ONLY=here"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->code, 0) << "the child gets exactly the environment given";
}

TEST(RunSupervise, ExecFailuresComeBackThroughThePipe) {
  auto sup = Supervisor::create();
  ASSERT_TRUE(sup.ok());
  auto r = sup->run({"/nonexistent/cmd", {"cmd"}, {}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errnum(), ENOENT);
  EXPECT_EQ(r.error().message().rfind("cmd: ", 0), 0u) << r.error().message();
  r = sup->run({"/tmp", {"tmp"}, {}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errnum(), EACCES);
}

TEST(RunSupervise, AFileWithoutShebangRunsUnderSh) {
  char tmpl[] = "/tmp/vrift-sup-unit.XXXXXX";
  int fd = ::mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::ofstream(tmpl) << "exit 4\n";
  ::chmod(tmpl, 0755);
  auto sup = Supervisor::create();
  ASSERT_TRUE(sup.ok());
  auto r = sup->run({tmpl, {tmpl}, {}});
  ::unlink(tmpl);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->code, 4);
}

} // namespace
} // namespace vrift::run

// The daemon's core without sockets: the live tree, the journal, and sessions (commit pipeline
// and mutations), including a session process killed with SIGKILL in the middle of commits.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

#include "vrift/daemon/journal.h"
#include "vrift/daemon/session.h"
#include "vrift/daemon/tree.h"
#include "vrift/maint/gc.h"
#include "vrift/util/fs.h"

namespace vrift {
namespace {

ManifestEntry file(const std::string& p, const std::string& content) {
  ManifestEntry e;
  e.path = p;
  e.size = content.size();
  e.hash = blake3(content);
  return e;
}

TEST(Tree, MutationsFollowFilesystemRules) {
  Tree t;
  EXPECT_EQ(t.put(file("a/b", "x")).error().errnum(), ENOENT);
  ASSERT_TRUE(t.mkdir("a", 0755, 1).ok());
  ASSERT_TRUE(t.put(file("a/b", "x")).ok());
  EXPECT_EQ(t.mkdir("a", 0755, 1).error().errnum(), EEXIST);
  EXPECT_EQ(t.rmdir("a").error().errnum(), ENOTEMPTY);
  EXPECT_EQ(t.unlink("a").error().errnum(), EISDIR);
  EXPECT_EQ(t.rmdir("a/b").error().errnum(), ENOTDIR);
  EXPECT_EQ(t.put(file("a/b/c", "x")).error().errnum(), ENOTDIR);
  EXPECT_EQ(t.put(file("a", "x")).error().errnum(), EISDIR);
  ASSERT_TRUE(t.mkdir("a/sub", 0700, 1).ok());
  ASSERT_TRUE(t.put(file("a/sub/deep", "y")).ok());
  // Renaming a directory moves its whole subtree.
  std::vector<std::pair<std::string, std::string>> moved;
  ASSERT_TRUE(t.rename("a", "z", &moved).ok());
  EXPECT_EQ(moved.size(), 4u);
  EXPECT_EQ(t.find("a/sub/deep"), nullptr);
  ASSERT_NE(t.find("z/sub/deep"), nullptr);
  EXPECT_EQ(t.find("z/sub/deep")->hash, blake3("y"));
  EXPECT_EQ(t.rename("z", "z/sub/x").error().errnum(), EINVAL);
  ASSERT_TRUE(t.mkdir("empty", 0755, 1).ok());
  EXPECT_EQ(t.rename("z/b", "empty").error().errnum(), EISDIR);
  EXPECT_EQ(t.rename("empty", "z/b").error().errnum(), ENOTDIR);
  ASSERT_TRUE(t.rename("z/b", "z/b2").ok());
  ASSERT_TRUE(t.unlink("z/b2").ok());
  EXPECT_EQ(t.unlink("z/b2").error().errnum(), ENOENT);
  EXPECT_FALSE(t.put(file("../escape", "x")).ok());
  EXPECT_FALSE(t.put(file("/abs", "x")).ok());
}

ManifestEntry link_to(const std::string& p, const std::string& target) {
  ManifestEntry e;
  e.path = p;
  e.type = EntryType::Symlink;
  e.target = target;
  e.size = target.size();
  return e;
}

TEST(Tree, ResolveFollowsSymlinksInsideTheTreeOnly) {
  Tree t;
  ASSERT_TRUE(t.mkdir("a", 0755, 1).ok());
  ASSERT_TRUE(t.mkdir("a/b", 0755, 1).ok());
  ASSERT_TRUE(t.put(file("a/b/f", "x")).ok());
  ASSERT_TRUE(t.put(link_to("l1", "a/b")).ok());
  ASSERT_TRUE(t.put(link_to("a/l2", "b/f")).ok());
  ASSERT_TRUE(t.put(link_to("a/l3", "./../l1/f")).ok());
  ASSERT_TRUE(t.put(link_to("abs", "/root/a/b/f")).ok());
  ASSERT_TRUE(t.put(link_to("out", "/elsewhere/x")).ok());
  ASSERT_TRUE(t.put(link_to("up", "../x")).ok());
  ASSERT_TRUE(t.put(link_to("loop1", "loop2")).ok());
  ASSERT_TRUE(t.put(link_to("loop2", "loop1")).ok());
  const std::string root = "/root";
  EXPECT_EQ(t.resolve("l1/f", false, root).value(), "a/b/f"); // a link on the way is followed
  EXPECT_EQ(t.resolve("a/l2", true, root).value(), "a/b/f");
  EXPECT_EQ(t.resolve("a/l2", false, root).value(), "a/l2"); // the final one only if asked
  EXPECT_EQ(t.resolve("a/l3", true, root).value(), "a/b/f"); // through a second link
  EXPECT_EQ(t.resolve("abs", true, root).value(), "a/b/f");
  EXPECT_EQ(t.resolve("out", true, root).error().errnum(), EXDEV);
  EXPECT_EQ(t.resolve("up", true, root).error().errnum(), EXDEV);
  EXPECT_EQ(t.resolve("loop1", true, root).error().errnum(), ELOOP);
  EXPECT_EQ(t.resolve("loop1", false, root).value(), "loop1");
  EXPECT_EQ(t.resolve("nope/x", true, root).value(), "nope/x");
  // ".." after a link applies to where the link led (as the kernel walks), not to its text
  ASSERT_TRUE(t.put(file("f", "top")).ok());
  ASSERT_TRUE(t.put(link_to("s", "a/b")).ok());
  ASSERT_TRUE(t.put(link_to("dotdot", "s/../b/f")).ok());
  EXPECT_EQ(t.resolve("dotdot", true, root).value(), "a/b/f");
  ASSERT_TRUE(t.put(link_to("up2", "s/../../f")).ok());
  EXPECT_EQ(t.resolve("up2", true, root).value(), "f");
  // a target with a trailing '/' must be a directory
  ASSERT_TRUE(t.put(link_to("tf", "f/")).ok());
  EXPECT_EQ(t.resolve("tf", true, root).error().errnum(), ENOTDIR);
  ASSERT_TRUE(t.put(link_to("td", "a/b/")).ok());
  EXPECT_EQ(t.resolve("td/f", true, root).value(), "a/b/f");
  ASSERT_TRUE(t.put(link_to("toroot", "/root/")).ok());
  EXPECT_EQ(t.resolve("toroot/f", true, root).value(), "f");
  EXPECT_EQ(t.missing_errno("a/b/f/x"), ENOTDIR);
  EXPECT_EQ(t.missing_errno("a/nope/x"), ENOENT);
  EXPECT_EQ(t.unlink("a/b/f/x").error().errnum(), ENOTDIR);
  EXPECT_EQ(t.rmdir("a/b/f/x").error().errnum(), ENOTDIR);
  EXPECT_EQ(t.rename("a/b/f/x", "n").error().errnum(), ENOTDIR);
}

class SessionTest : public ::testing::Test {
protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vrift-session-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    m_dir = tmpl;
    ::setenv("HOME", m_dir.c_str(), 1);
    ::setenv("VR_THE_SOURCE", (m_dir + "/store").c_str(), 1);
    ::unsetenv("VRIFT_HOME");
    m_paths = resolve_paths({}).value();
    m_store = Store::open(m_paths.store_root, true).value();
    m_root = m_dir + "/proj";
    ASSERT_TRUE(fs::mkdir_p(Paths::staging_dir(m_root)).ok());
    // A small starting manifest: dir "src" with one file.
    std::vector<ManifestEntry> es;
    ManifestEntry d;
    d.path = "src";
    d.type = EntryType::Dir;
    d.mode = 0755;
    es.push_back(d);
    es.push_back(file("src/main.c", "int main;"));
    ASSERT_TRUE(m_store->insert_bytes("int main;").ok());
    ASSERT_TRUE(write_manifest(manifest(), es, m_root).ok());
  }
  void TearDown() override { std::system(("rm -rf " + m_dir).c_str()); }
  std::string manifest() const { return m_dir + "/proj.manifest"; }
  std::string stage(const std::string& name, const std::string& content) {
    std::string p = Paths::staging_dir(m_root) + "/" + name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  std::unique_ptr<Session> open(SessionOptions o = {}) {
    auto s = Session::open(m_paths, *m_store, m_root, manifest(), nullptr, o);
    EXPECT_TRUE(s.ok()) << s.error().message();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  std::string m_dir, m_root;
  Paths m_paths;
  std::unique_ptr<Store> m_store;
};

TEST_F(SessionTest, CommitStoresContentAndSurvivesReopen) {
  auto s = open();
  auto r = s->commit("src/main.c", stage("1", "int main() { return 0; }"), 0);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->hash, blake3("int main() { return 0; }"));
  EXPECT_EQ(m_store->check(r->hash, r->size), BlobState::Ok);
  ASSERT_TRUE(s->mkdir("build", 0755).ok());
  ASSERT_TRUE(s->commit("build/out.o", stage("2", "object"), 0600).ok());
  ASSERT_TRUE(s->symlink("../src/main.c", "build/link").ok());
  ASSERT_TRUE(s->rename("build/out.o", "build/main.o").ok());
  ASSERT_TRUE(s->chmod("build/main.o", 0644).ok());
  ASSERT_TRUE(s->truncate("src/main.c", 3).ok());
  s.reset(); // no checkpoint: everything is in the journal only
  auto again = open();
  ASSERT_NE(again, nullptr);
  EXPECT_GT(again->replayed(), 0u);
  const Tree& t = again->tree();
  ASSERT_NE(t.find("build/main.o"), nullptr);
  EXPECT_EQ(t.find("build/main.o")->hash, blake3("object"));
  EXPECT_EQ(t.find("build/main.o")->mode, 0644u);
  EXPECT_EQ(t.find("build/out.o"), nullptr);
  EXPECT_EQ(t.find("build/link")->target, "../src/main.c");
  EXPECT_EQ(t.find("src/main.c")->hash, blake3("int"));
  EXPECT_EQ(m_store->check(blake3("int"), 3), BlobState::Ok);
  // The replay was folded into the manifest and registered.
  auto m = Manifest::open(manifest());
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->find("build/main.o").has_value());
}

TEST_F(SessionTest, GcKeepsJournaledCommitsThatAreNotCheckpointed) {
  auto s = open();
  auto r = s->commit("src/new.c", stage("n", "fresh content"), 0);
  ASSERT_TRUE(r.ok());
  ::unlink((Paths::staging_dir(m_root) + "/n").c_str()); // as the shim does after the ack
  GcOptions o;
  o.do_delete = true;
  auto g = run_gc(m_paths, o);
  ASSERT_TRUE(g.ok()) << g.error().message();
  EXPECT_EQ(m_store->check(r->hash, r->size), BlobState::Ok)
      << "gc deleted a blob that only the session journal references";
  // Once the session is gone and its journal folded, an unreferenced blob is collectable.
  ASSERT_TRUE(s->unlink("src/new.c").ok());
  ASSERT_TRUE(s->checkpoint().ok());
  g = run_gc(m_paths, o);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(m_store->check(r->hash, r->size), BlobState::Missing);
}

TEST_F(SessionTest, ACheckpointRegistersBeforeItRewritesTheManifest) {
  // A daemon killed between rewriting the manifest and registering it used to leave the old
  // tree registered and the journal folded, so gc deleted the blobs of every change since. Here
  // the registration fails instead of the daemon dying: the file must still be the old one.
  auto s = open();
  auto r = s->commit("src/new.c", stage("n", "kept content"), 0);
  ASSERT_TRUE(r.ok()) << r.error().message();
  ::unlink((Paths::staging_dir(m_root) + "/n").c_str());
  const Hash before = Manifest::open(manifest()).value().id();
  const std::string copies = m_paths.manifest_copies_dir();
  std::system(("rm -rf '" + copies + "'").c_str());
  std::ofstream(copies) << "not a directory";
  EXPECT_FALSE(s->checkpoint().ok());
  EXPECT_EQ(Manifest::open(manifest()).value().id(), before)
      << "the manifest was rewritten before the registry knew its tree";
  s.reset(); // the daemon dies
  ::unlink(copies.c_str());
  ASSERT_TRUE(fs::mkdir_p(copies).ok());
  auto again = open(); // replays the journal, folds and registers it
  ASSERT_NE(again, nullptr);
  EXPECT_GT(again->replayed(), 0u);
  GcOptions o;
  o.do_delete = true;
  ASSERT_TRUE(run_gc(m_paths, o).ok());
  EXPECT_EQ(m_store->check(r->hash, r->size), BlobState::Ok);
  EXPECT_TRUE(Manifest::open(manifest()).value().find("src/new.c").has_value());
}

TEST_F(SessionTest, BadRequestsAreErrorsNotCrashes) {
  auto s = open();
  EXPECT_EQ(s->commit("x", "/etc/passwd", 0).error().errnum(), EACCES);
  EXPECT_EQ(s->commit("x", Paths::staging_dir(m_root) + "/../../../etc/passwd", 0).error().errnum(),
            EACCES);
  EXPECT_FALSE(s->commit("../x", stage("a", "a"), 0).ok());
  EXPECT_EQ(s->commit("nodir/x", stage("b", "b"), 0).error().errnum(), ENOENT);
  EXPECT_EQ(s->unlink("missing").error().errnum(), ENOENT);
  EXPECT_EQ(s->rmdir("src").error().errnum(), ENOTEMPTY);
  EXPECT_EQ(s->link("src", "src2").error().errnum(), EPERM);
  // A truncate far beyond what can be hashed promptly is refused (it used to build the content
  // in memory: 2^62 bytes ended the daemon with bad_alloc), and so is a rename that would push
  // a path below the directory past the manifest's limit (the project could not be opened
  // again); neither changes anything.
  EXPECT_EQ(s->truncate("src/main.c", uint64_t{1} << 62).error().errnum(), EFBIG);
  EXPECT_EQ(s->tree().find("src/main.c")->size, 9u);
  ASSERT_TRUE(s->mkdir("deep", 0755).ok());
  const std::string name(200, 'n');
  std::string dir = "deep";
  while (dir.size() + 1 + name.size() < kMaxManifestPath - 300) {
    dir += "/" + name;
    ASSERT_TRUE(s->mkdir(dir, 0755).ok());
  }
  const std::string longer = "deep" + std::string(700, 'x');
  EXPECT_EQ(s->rename("deep", longer).error().errnum(), ENAMETOOLONG);
  EXPECT_NE(s->tree().find(dir), nullptr);
  EXPECT_EQ(s->tree().find(longer), nullptr);
  ASSERT_TRUE(s->rename("deep", "deep2").ok()); // a rename that fits still works
  // The session still works, and checkpoints.
  EXPECT_TRUE(s->commit("src/ok.c", stage("c", "ok"), 0).ok());
  EXPECT_TRUE(s->checkpoint().ok());
}

TEST_F(SessionTest, CommitTakesTheStagingFilesModeAndRefusesAnotherUsersFile) {
  auto s = open();
  const std::string exe = stage("x", "#!/bin/sh\n");
  ASSERT_EQ(::chmod(exe.c_str(), 0755), 0);
  ASSERT_TRUE(s->commit("src/run.sh", exe, 0).ok());
  EXPECT_EQ(s->tree().find("src/run.sh")->mode, 0755u);
  ASSERT_TRUE(s->commit("src/run.sh", stage("y", "#!/bin/sh\n"), 0600).ok()); // explicit mode
  EXPECT_EQ(s->tree().find("src/run.sh")->mode, 0600u);
  const std::string theirs = stage("z", "not yours");
  ASSERT_EQ(::chown(theirs.c_str(), ::geteuid() + 1, ::getegid()), 0);
  EXPECT_EQ(s->commit("src/theirs.c", theirs, 0).error().errnum(), EACCES);
  EXPECT_EQ(s->tree().find("src/theirs.c"), nullptr);
}

TEST_F(SessionTest, MutationsFollowSymlinksAsTheSystemCallsDo) {
  auto s = open();
  ASSERT_TRUE(s->symlink("main.c", "src/link").ok());
  ASSERT_TRUE(s->chmod("src/link", 0600).ok()); // chmod(2) follows
  EXPECT_EQ(s->tree().find("src/main.c")->mode, 0600u);
  ASSERT_TRUE(s->chmod("src/link", 0700, true).ok()); // fchmodat(AT_SYMLINK_NOFOLLOW)
  EXPECT_EQ(s->tree().find("src/main.c")->mode, 0600u);
  EXPECT_EQ(s->tree().find("src/link")->mode, 0700u);
  ASSERT_TRUE(s->utimens("src/link", 12345).ok());
  EXPECT_EQ(s->tree().find("src/main.c")->mtime_ns, 12345);
  ASSERT_TRUE(s->truncate("src/link", 3).ok()); // truncate(2) follows
  EXPECT_EQ(s->tree().find("src/main.c")->hash, blake3("int"));
  EXPECT_EQ(s->tree().find("src/link")->type, EntryType::Symlink);
  ASSERT_TRUE(s->link("src/link", "src/hard", true).ok()); // linkat(AT_SYMLINK_FOLLOW)
  EXPECT_EQ(s->tree().find("src/hard")->type, EntryType::File);
  ASSERT_TRUE(s->link("src/link", "src/hard2").ok()); // link(2): the symlink itself
  EXPECT_EQ(s->tree().find("src/hard2")->type, EntryType::Symlink);
  EXPECT_EQ(s->link("src", "src/hard").error().errnum(), EEXIST); // before EPERM, as Linux
  EXPECT_EQ(s->unlink("src/main.c/x").error().errnum(), ENOTDIR);
  ASSERT_TRUE(s->symlink("/elsewhere/f", "src/out").ok());
  EXPECT_EQ(s->chmod("src/out", 0600).error().errnum(), EXDEV);
}

TEST_F(SessionTest, TruncateCutsOrExtendsWithZeros) {
  auto s = open();
  ASSERT_TRUE(s->truncate("src/main.c", 3).ok());
  EXPECT_EQ(s->tree().find("src/main.c")->hash, blake3("int"));
  ASSERT_TRUE(s->truncate("src/main.c", 200000).ok()); // past one scratch buffer
  std::string want = "int" + std::string(200000 - 3, '\0');
  const ManifestEntry* e = s->tree().find("src/main.c");
  EXPECT_EQ(e->size, 200000u);
  EXPECT_EQ(e->hash, blake3(want));
  EXPECT_EQ(m_store->check(e->hash, e->size), BlobState::Ok);
  auto ok = m_store->verify(e->hash, e->size);
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(*ok);
  ASSERT_TRUE(s->truncate("src/main.c", 0).ok());
  EXPECT_EQ(s->tree().find("src/main.c")->hash, blake3(""));
  EXPECT_EQ(s->truncate("src", 1).error().errnum(), EISDIR);
}

TEST_F(SessionTest, TornJournalTailIsDropped) {
  {
    auto s = open();
    ASSERT_TRUE(s->commit("src/a.c", stage("1", "aaa"), 0).ok());
    ASSERT_TRUE(s->commit("src/b.c", stage("2", "bbb"), 0).ok());
  }
  // A record cut in the middle, as a kill during write(2) would leave it.
  std::string jp = session_journal_path(m_paths, manifest());
  JournalRecord r{JournalOp::Put, file("src/c.c", "ccc"), {}};
  std::string rec = encode_record(r);
  std::ofstream(jp, std::ios::binary | std::ios::app) << rec.substr(0, rec.size() / 2);
  auto s = open();
  ASSERT_NE(s, nullptr);
  EXPECT_NE(s->tree().find("src/a.c"), nullptr);
  EXPECT_NE(s->tree().find("src/b.c"), nullptr);
  EXPECT_EQ(s->tree().find("src/c.c"), nullptr);
}

TEST_F(SessionTest, NothingAcknowledgedIsLostOnSigkill) {
  // The child commits files as fast as it can and reports each acknowledged commit through a
  // pipe; the parent kills it with SIGKILL mid-stream, then reopens the session.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    auto s =
        Session::open(m_paths, *m_store, m_root, manifest(), nullptr, SessionOptions{false, 64});
    if (!s.ok()) ::_exit(3);
    for (int i = 0; i < 100000; ++i) {
      std::string content = "content " + std::to_string(i);
      std::string st = Paths::staging_dir(m_root) + "/s" + std::to_string(i);
      { std::ofstream(st, std::ios::binary) << content; }
      if (!(*s)->commit("src/f" + std::to_string(i), st, 0).ok()) ::_exit(4);
      ::unlink(st.c_str());
      uint32_t n = static_cast<uint32_t>(i);
      if (::write(fds[1], &n, sizeof n) != sizeof n) ::_exit(5);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::set<uint32_t> acked;
  uint32_t n;
  while (acked.size() < 700 && ::read(fds[0], &n, sizeof n) == sizeof n)
    acked.insert(n);
  ::kill(pid, SIGKILL);
  while (::read(fds[0], &n, sizeof n) == sizeof n)
    acked.insert(n); // acks already in the pipe
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(fds[0]);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the child must have been killed mid-stream";
  auto s = open();
  ASSERT_NE(s, nullptr);
  for (uint32_t i : acked) {
    const ManifestEntry* e = s->tree().find("src/f" + std::to_string(i));
    ASSERT_NE(e, nullptr) << "acknowledged commit " << i << " lost";
    EXPECT_EQ(e->hash, blake3("content " + std::to_string(i)));
    EXPECT_EQ(m_store->check(e->hash, e->size), BlobState::Ok) << i;
  }
}

} // namespace
} // namespace vrift

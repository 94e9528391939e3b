// The daemon's knowledge of a session's skeleton (daemon/skeleton_watch.h): clean only while
// every directory of the tree exists under the root and nothing was removed or moved since.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <set>
#include <string>

#include "manifest_fixtures.h"
#include "vrift/daemon/skeleton_watch.h"
#include "vrift/daemon/tree.h"
#include "vrift/hash/blake3.h"
#include "vrift/store/store.h"

namespace vrift {
namespace {

struct TempRoot {
  std::string path;
  TempRoot() {
    char t[] = "/tmp/vrift-skelwatch.XXXXXX";
    path = ::mkdtemp(t);
  }
  ~TempRoot() { (void)std::system(("rm -rf '" + path + "'").c_str()); }
};

Tree tree_of(std::initializer_list<const char*> dirs) {
  Tree t;
  for (const char* d : dirs)
    EXPECT_TRUE(t.mkdir(d, 0755, 1).ok()) << d;
  return t;
}

void make_dirs(const std::string& root, std::initializer_list<const char*> dirs) {
  for (const char* d : dirs)
    ASSERT_EQ(::mkdir((root + "/" + d).c_str(), 0755), 0) << d;
}

TEST(SkeletonWatch, CleanUntilADirectoryGoes) {
  TempRoot r;
  make_dirs(r.path, {"a", "a/b", "c"});
  Tree t = tree_of({"a", "a/b", "c"});
  SkeletonWatch w;
  EXPECT_FALSE(w.clean(r.path)) << "nothing is known before arm()";
  w.arm(r.path, t);
  EXPECT_EQ(w.watched(), 4u) << "the root and three directories";
  EXPECT_GE(w.fd(), 0);
  EXPECT_TRUE(w.clean(r.path));
  EXPECT_TRUE(w.clean(r.path)) << "asking does not change it";
  ASSERT_EQ(::rmdir((r.path + "/a/b").c_str()), 0);
  EXPECT_FALSE(w.clean(r.path));
  EXPECT_EQ(w.fd(), -1) << "the watches are dropped";
  EXPECT_FALSE(w.clean(r.path)) << "and it stays unknown until armed again";
  w.arm(r.path, t);
  EXPECT_FALSE(w.clean(r.path)) << "a/b is missing";
  make_dirs(r.path, {"a/b"});
  w.arm(r.path, t);
  EXPECT_TRUE(w.clean(r.path));
}

TEST(SkeletonWatch, MovesAndReplacementsAreNoticed) {
  TempRoot r;
  make_dirs(r.path, {"root", "root/a", "root/a/b"});
  const std::string root = r.path + "/root";
  Tree t = tree_of({"a", "a/b"});
  SkeletonWatch w;
  w.arm(root, t);
  ASSERT_TRUE(w.clean(root));
  // A rename inside the tree, even back again.
  ASSERT_EQ(::rename((root + "/a").c_str(), (root + "/x").c_str()), 0);
  ASSERT_EQ(::rename((root + "/x").c_str(), (root + "/a").c_str()), 0);
  EXPECT_FALSE(w.clean(root));
  // A rename above the root fires no watch: the root's identity is compared.
  w.arm(root, t);
  ASSERT_TRUE(w.clean(root));
  ASSERT_EQ(::rename(r.path.c_str(), (r.path + ".moved").c_str()), 0);
  make_dirs(r.path, {"", "root", "root/a", "root/a/b"});
  EXPECT_FALSE(w.clean(root)) << "same path, another directory";
  (void)std::system(("rm -rf '" + r.path + ".moved'").c_str());
  // A mutation of the session's tree: reset() forgets.
  w.arm(root, t);
  ASSERT_TRUE(w.clean(root));
  w.reset();
  EXPECT_FALSE(w.clean(root));
}

TEST(SkeletonWatch, SymlinksAndFilesAreNotDirectories) {
  TempRoot r;
  make_dirs(r.path, {"real"});
  ASSERT_EQ(::symlink("real", (r.path + "/a").c_str()), 0);
  SkeletonWatch w;
  w.arm(r.path, tree_of({"a"}));
  EXPECT_FALSE(w.clean(r.path)) << "a symlink where the tree has a directory";
  EXPECT_EQ(w.watched(), 0u);
  std::FILE* f = std::fopen((r.path + "/f").c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  w.arm(r.path, tree_of({"f"}));
  EXPECT_FALSE(w.clean(r.path)) << "a file where the tree has a directory";
  w.arm(r.path + "/missing", Tree());
  EXPECT_FALSE(w.clean(r.path + "/missing")) << "no root";
  w.arm(r.path, Tree());
  EXPECT_TRUE(w.clean(r.path)) << "an empty tree needs only its root";
}

int64_t now_ns() {
  struct timespec ts {};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void write_file(const std::string& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr) << path;
  std::fputs(text.c_str(), f);
  std::fclose(f);
}

// Whether W vouches for the tree once its look at it (a thread of its own) is over.
bool vouched(const SkeletonWatch& w) {
  for (int i = 0; i < 30000 && w.tree_pending(); ++i)
    ::usleep(1000);
  EXPECT_FALSE(w.tree_pending()) << "the look at the tree did not end";
  return w.tree_unchanged();
}

// The tree as a zero-config run's manifest has it: "d" and "d/sub" directories, "d/f" (5
// bytes) and "d/sub/g" (3 bytes), "l" a symlink.
Tree file_tree() {
  Tree t = tree_of({"d", "d/sub"});
  auto file = [&](const char* path, uint64_t size) {
    ManifestEntry e;
    e.path = path;
    e.type = EntryType::File;
    e.mode = 0644;
    e.size = size;
    EXPECT_TRUE(t.put(e).ok()) << path;
  };
  file("d/f", 5);
  file("d/sub/g", 3);
  EXPECT_TRUE(t.put(testing::link_entry("l", "d")).ok());
  return t;
}

void make_file_tree(const std::string& root) {
  make_dirs(root, {"d", "d/sub"});
  write_file(root + "/d/f", "hello");
  write_file(root + "/d/sub/g", "abc");
  ASSERT_EQ(::symlink("d", (root + "/l").c_str()), 0);
}

// Zero-config runs (kOpenWatchTree): armed with the time the walk began, the watch vouches for
// the files too, until any of them changes.
TEST(SkeletonWatch, TheTreeIsUnchangedUntilAFileChanges) {
  TempRoot r;
  make_file_tree(r.path);
  const Tree t = file_tree();
  // A walk that began after every change (and after the ctime margin).
  const int64_t later = now_ns() + 2 * SkeletonWatch::kCtimeMarginNs;
  SkeletonWatch w;
  w.arm(r.path, t);
  ASSERT_TRUE(w.clean(r.path));
  EXPECT_FALSE(vouched(w)) << "armed for the skeleton only";
  w.arm(r.path, t, later);
  ASSERT_TRUE(w.clean(r.path));
  EXPECT_TRUE(vouched(w));
  EXPECT_EQ(w.watched(), 3u);
  write_file(r.path + "/d/sub/g", "xyz"); // same size: the event tells
  EXPECT_FALSE(w.clean(r.path));
  EXPECT_FALSE(vouched(w));
  w.arm(r.path, t, now_ns() + 2 * SkeletonWatch::kCtimeMarginNs);
  ASSERT_TRUE(w.clean(r.path));
  EXPECT_TRUE(vouched(w));
  write_file(r.path + "/d/new", "n"); // a new file: the directory's event
  EXPECT_FALSE(w.clean(r.path));
  ASSERT_EQ(::unlink((r.path + "/d/new").c_str()), 0);
  w.arm(r.path, t, now_ns() + 2 * SkeletonWatch::kCtimeMarginNs);
  ASSERT_TRUE(w.clean(r.path));
  ASSERT_TRUE(vouched(w));
  ASSERT_EQ(::chmod((r.path + "/d/f").c_str(), 0600), 0); // metadata too
  EXPECT_FALSE(w.clean(r.path));
}

// A watch of the tree follows it after an event: the watches stay, and drain() names what
// changed (the daemon marks those entries stale for the shims); a skeleton-only watch does not.
TEST(SkeletonWatch, AWatchOfTheTreeNamesWhatChanged) {
  TempRoot r;
  make_file_tree(r.path);
  const Tree t = file_tree();
  SkeletonWatch w;
  w.arm(r.path, t);
  EXPECT_FALSE(w.follows()) << "the skeleton only";
  w.arm(r.path, t, now_ns() + 2 * SkeletonWatch::kCtimeMarginNs);
  ASSERT_TRUE(w.follows());
  write_file(r.path + "/d/f", "HELLO");                 // in place
  ASSERT_EQ(::chmod((r.path + "/l").c_str(), 0755), 0); // through the link: d
  write_file(r.path + "/d/new", "n");                   // made
  ASSERT_EQ(::rename((r.path + "/d/new").c_str(), (r.path + "/d/sub/g").c_str()), 0); // over g
  w.drain();
  std::set<std::string> got;
  for (const auto& c : w.take_changes())
    got.insert(c.path + (c.gone_dir ? " (dir)" : ""));
  EXPECT_EQ(got, (std::set<std::string>{"d/f", "d/new", "d/sub/g"}));
  EXPECT_TRUE(w.take_changes().empty()) << "taken once";
  EXPECT_FALSE(w.clean(r.path)) << "changed: not vouched for";
  EXPECT_TRUE(w.follows()) << "but still following";
  EXPECT_GE(w.fd(), 0);
  ASSERT_EQ(std::system(("mv '" + r.path + "/d/sub' '" + r.path + "/moved'").c_str()), 0);
  EXPECT_FALSE(w.clean(r.path)); // clean() drains too
  std::set<std::string> moved;
  for (const auto& c : w.take_changes())
    moved.insert(c.path + (c.gone_dir ? " (dir)" : ""));
  EXPECT_EQ(moved, (std::set<std::string>{"d/sub (dir)"}));
  // Re-armed (a session a program still runs in): what the old watches saw is not lost.
  write_file(r.path + "/d/f", "hello");
  w.arm(r.path, tree_of({"d"}), now_ns() + 2 * SkeletonWatch::kCtimeMarginNs);
  std::set<std::string> kept;
  for (const auto& c : w.take_changes())
    kept.insert(c.path);
  EXPECT_EQ(kept, (std::set<std::string>{"d/f"}));
  ASSERT_EQ(std::system(("rm -rf '" + r.path + "'").c_str()), 0);
  EXPECT_FALSE(w.clean(r.path));
  EXPECT_FALSE(w.follows()) << "the root went: nothing left to follow";
}

// What changed before the watches were in place is found by looking: a file changed after the
// walk began (its ctime), a size or type other than the tree's, a file the disk lacks.
TEST(SkeletonWatch, AChangeBeforeTheWatchesIsFoundByLooking) {
  TempRoot r;
  make_file_tree(r.path);
  SkeletonWatch w;
  const int64_t walk = now_ns() - 10 * SkeletonWatch::kCtimeMarginNs;
  w.arm(r.path, file_tree(), walk); // every file is younger than that walk
  ASSERT_TRUE(w.clean(r.path)) << "the skeleton is fine";
  EXPECT_FALSE(vouched(w));
  ::usleep(static_cast<useconds_t>(2 * SkeletonWatch::kCtimeMarginNs / 1000));
  w.arm(r.path, file_tree(), now_ns());
  EXPECT_TRUE(w.clean(r.path) && vouched(w)) << "the same, older than the walk";
  const int64_t walk2 = now_ns() + 2 * SkeletonWatch::kCtimeMarginNs;
  write_file(r.path + "/d/f", "hello, longer");
  w.arm(r.path, file_tree(), walk2);
  EXPECT_TRUE(w.clean(r.path));
  EXPECT_FALSE(vouched(w)) << "d/f has another size than the tree's";
  write_file(r.path + "/d/f", "hello");
  ASSERT_EQ(::unlink((r.path + "/d/sub/g").c_str()), 0);
  w.arm(r.path, file_tree(), now_ns() + 2 * SkeletonWatch::kCtimeMarginNs);
  EXPECT_TRUE(w.clean(r.path));
  EXPECT_FALSE(vouched(w)) << "d/sub/g is missing (a phantom tree is never vouched for)";
  write_file(r.path + "/d/sub/g", "abc");
  ASSERT_EQ(::unlink((r.path + "/l").c_str()), 0);
  write_file(r.path + "/l", "d");
  w.arm(r.path, file_tree(), now_ns() + 2 * SkeletonWatch::kCtimeMarginNs);
  EXPECT_TRUE(w.clean(r.path));
  EXPECT_FALSE(vouched(w)) << "a file where the tree has a symlink";
  // A file rewritten in place (same size, same inode: its directory is untouched) after the
  // walk began but before the watches: only its ctime tells.
  ASSERT_EQ(::unlink((r.path + "/l").c_str()), 0);
  ASSERT_EQ(::symlink("d", (r.path + "/l").c_str()), 0);
  ::usleep(static_cast<useconds_t>(2 * SkeletonWatch::kCtimeMarginNs / 1000));
  const int64_t walk3 = now_ns();
  w.arm(r.path, file_tree(), walk3);
  ASSERT_TRUE(w.clean(r.path) && vouched(w));
  write_file(r.path + "/d/sub/g", "xyz");
  w.arm(r.path, file_tree(), walk3);
  EXPECT_TRUE(w.clean(r.path));
  EXPECT_FALSE(vouched(w)) << "d/sub/g changed after the walk began";
}

// The entry a walk records for the file at REL whose stat is ST and whose bytes are BYTES.
ManifestEntry walked_entry(const std::string& rel, const struct stat& st,
                           const std::string& bytes) {
  ManifestEntry e;
  e.path = rel;
  e.type = EntryType::File;
  e.mode = st.st_mode & 07777;
  e.size = static_cast<uint64_t>(st.st_size);
  e.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  e.hash = blake3(bytes);
  return e;
}

// The tree of make_file_tree() as a walk of it records it: each file's mode, mtime and hash too.
Tree walked_file_tree(const std::string& root) {
  Tree t = file_tree();
  for (const char* path : {"d/f", "d/sub/g"}) {
    const std::string full = root + "/" + path;
    struct stat st {};
    EXPECT_EQ(::stat(full.c_str(), &st), 0) << full;
    std::FILE* f = std::fopen(full.c_str(), "r");
    EXPECT_NE(f, nullptr) << full;
    std::string bytes(static_cast<size_t>(st.st_size), '\0');
    if (f) {
      EXPECT_EQ(std::fread(bytes.data(), 1, bytes.size(), f), bytes.size());
      std::fclose(f);
    }
    EXPECT_TRUE(t.put(walked_entry(path, st, bytes)).ok()) << path;
  }
  return t;
}

// A file whose ctime is younger than the walk is read: still the tree's mode, mtime, size and
// bytes (what linking it into the store leaves: only its ctime moves), it is vouched for;
// anything else of it changed, it is not.
TEST(SkeletonWatch, AFileTheWalkLinkedIsReadNotRefused) {
  TempRoot r, elsewhere;
  make_file_tree(r.path);
  ::usleep(static_cast<useconds_t>(2 * SkeletonWatch::kCtimeMarginNs / 1000));
  const Tree t = walked_file_tree(r.path);
  const int64_t walk = now_ns(); // the walk began: everything is older
  ::usleep(static_cast<useconds_t>(2 * SkeletonWatch::kCtimeMarginNs / 1000));
  const std::string f = r.path + "/d/f";
  ASSERT_EQ(::link(f.c_str(), (elsewhere.path + "/blob").c_str()), 0); // as the store does
  SkeletonWatch w;
  w.arm(r.path, t, walk);
  ASSERT_TRUE(w.clean(r.path));
  EXPECT_TRUE(vouched(w)) << "only d/f's ctime moved, and its bytes are the tree's";

  // The same bytes count, so same size; the mtime put back: only the bytes tell.
  struct stat st {};
  ASSERT_EQ(::stat(f.c_str(), &st), 0);
  write_file(f, "jello");
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, f.c_str(), times, 0), 0);
  w.arm(r.path, t, walk);
  EXPECT_TRUE(w.clean(r.path));
  EXPECT_FALSE(vouched(w)) << "d/f's bytes are not the tree's";
  write_file(f, "hello");
  ASSERT_EQ(::utimensat(AT_FDCWD, f.c_str(), times, 0), 0);
  w.arm(r.path, t, walk);
  EXPECT_TRUE(w.clean(r.path) && vouched(w)) << "the tree's bytes and mtime again";

  ASSERT_EQ(::chmod(f.c_str(), 0600), 0);
  w.arm(r.path, t, walk);
  EXPECT_FALSE(vouched(w)) << "d/f's mode is not the tree's";
  ASSERT_EQ(::chmod(f.c_str(), st.st_mode & 07777), 0);
  const struct timespec later[2] = {st.st_atim, {st.st_mtim.tv_sec + 1, st.st_mtim.tv_nsec}};
  ASSERT_EQ(::utimensat(AT_FDCWD, f.c_str(), later, 0), 0);
  w.arm(r.path, t, walk);
  EXPECT_FALSE(vouched(w)) << "d/f's mtime is not the tree's";
  ASSERT_EQ(::utimensat(AT_FDCWD, f.c_str(), times, 0), 0);
  w.arm(r.path, t, walk);
  EXPECT_TRUE(w.clean(r.path) && vouched(w));

  // A directory younger than the walk (an entry came and went) is listed: the tree's entries.
  write_file(r.path + "/d/sub/tmp", "x");
  ASSERT_EQ(::unlink((r.path + "/d/sub/tmp").c_str()), 0);
  w.arm(r.path, t, walk);
  EXPECT_TRUE(vouched(w)) << "d/sub changed after the walk began, and is as walked again";
  write_file(r.path + "/d/sub/tmp", "x");
  w.arm(r.path, t, walk);
  EXPECT_FALSE(vouched(w)) << "d/sub has an entry the walk did not see";
}

// A directory younger than the walk (an entry came or went since it began: the first walk creates
// `.vrift/` in the root) is listed: each name the tree's, older than the walk (left out by its
// filters), or the first component of the walk's own manifest in the root.
TEST(SkeletonWatch, ADirectoryTheWalkChangedIsListed) {
  TempRoot r;
  make_file_tree(r.path);
  write_file(r.path + "/d/left-out", "an ignored file, there before the walk");
  ::usleep(static_cast<useconds_t>(2 * SkeletonWatch::kCtimeMarginNs / 1000));
  const Tree t = walked_file_tree(r.path);
  const int64_t walk = now_ns();
  ::usleep(static_cast<useconds_t>(2 * SkeletonWatch::kCtimeMarginNs / 1000));
  make_dirs(r.path, {".vrift"});
  write_file(r.path + "/.vrift/run.manifest", "m");
  const std::string manifest = r.path + "/.vrift/run.manifest";
  SkeletonWatch w;
  w.arm(r.path, t, walk, manifest);
  ASSERT_TRUE(w.clean(r.path));
  EXPECT_TRUE(vouched(w)) << "the root is younger than the walk, but only by its .vrift/";
  w.arm(r.path, t, walk);
  EXPECT_FALSE(vouched(w)) << "without the manifest's path, .vrift/ is a new entry";
  w.arm(r.path, t, walk, "/elsewhere/.vrift/run.manifest");
  EXPECT_FALSE(vouched(w)) << "a manifest outside the root is no excuse";

  // A file replaced (a new inode under the same name: its directory changes, the tree's entry
  // is looked at as usual).
  write_file(r.path + "/d/tmp", "hello");
  struct stat st {};
  ASSERT_EQ(::stat((r.path + "/d/f").c_str(), &st), 0);
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, (r.path + "/d/tmp").c_str(), times, 0), 0);
  ASSERT_EQ(::chmod((r.path + "/d/tmp").c_str(), st.st_mode & 07777), 0);
  ASSERT_EQ(::rename((r.path + "/d/tmp").c_str(), (r.path + "/d/f").c_str()), 0);
  w.arm(r.path, t, walk, manifest);
  EXPECT_TRUE(vouched(w)) << "d/f replaced by the same bytes, mode and mtime";

  write_file(r.path + "/d/new", "x");
  w.arm(r.path, t, walk, manifest);
  ASSERT_TRUE(w.clean(r.path));
  EXPECT_FALSE(vouched(w)) << "d/new came after the walk began";
  ASSERT_EQ(::unlink((r.path + "/d/new").c_str()), 0);
  w.arm(r.path, t, walk, manifest);
  EXPECT_TRUE(vouched(w)) << "gone again: d is as walked";
  make_dirs(r.path, {"d/sub/newdir"});
  w.arm(r.path, t, walk, manifest);
  EXPECT_FALSE(vouched(w)) << "a directory d/sub/newdir came after the walk began";
}

// A directory moved into the tree whole after the walk began keeps its entries' ctimes, which are
// older than the walk: it is young itself (a rename sets the moved inode's ctime), and so is
// everything below it, read rather than trusted.
TEST(SkeletonWatch, ADirectoryPutInWholeIsReadThrough) {
  TempRoot r, stage;
  make_file_tree(r.path);
  make_dirs(stage.path, {"sub"});
  write_file(stage.path + "/sub/g", "xyz"); // d/sub/g's size, other bytes
  ASSERT_EQ(::symlink("elsewhere", (stage.path + "/sub/l").c_str()), 0);
  ::usleep(static_cast<useconds_t>(2 * SkeletonWatch::kCtimeMarginNs / 1000));
  Tree t = walked_file_tree(r.path);
  const int64_t walk = now_ns();
  ::usleep(static_cast<useconds_t>(2 * SkeletonWatch::kCtimeMarginNs / 1000));
  ASSERT_EQ(::rename((r.path + "/d/sub").c_str(), (stage.path + "/old").c_str()), 0);
  ASSERT_EQ(::rename((stage.path + "/sub").c_str(), (r.path + "/d/sub").c_str()), 0);
  ASSERT_EQ(::unlink((r.path + "/d/sub/l").c_str()), 0);
  SkeletonWatch w;
  w.arm(r.path, t, walk);
  ASSERT_TRUE(w.clean(r.path));
  EXPECT_FALSE(vouched(w)) << "d/sub/g, old but below a directory put in after the walk began";
  // The walk's bytes back: d/sub is young, and what is below it is read and found as walked.
  write_file(r.path + "/d/sub/g", "abc");
  const int64_t m = t.find("d/sub/g")->mtime_ns;
  const struct timespec mt[2] = {{m / 1'000'000'000, m % 1'000'000'000},
                                 {m / 1'000'000'000, m % 1'000'000'000}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (r.path + "/d/sub/g").c_str(), mt, 0), 0);
  w.arm(r.path, t, walk);
  EXPECT_TRUE(vouched(w)) << "d/sub/g read, the tree's bytes and mtime";
  // A symlink below a young directory is read as a link: its target must be the tree's.
  ASSERT_TRUE(t.put(testing::link_entry("d/sub/l", "up")).ok());
  ASSERT_EQ(::symlink("no", (r.path + "/d/sub/l").c_str()), 0);
  w.arm(r.path, t, walk);
  EXPECT_FALSE(vouched(w)) << "d/sub/l points elsewhere than the tree says";
  ASSERT_EQ(::unlink((r.path + "/d/sub/l").c_str()), 0);
  ASSERT_EQ(::symlink("up", (r.path + "/d/sub/l").c_str()), 0);
  w.arm(r.path, t, walk);
  EXPECT_TRUE(vouched(w)) << "d/sub/l points where the tree says";
}

// A tier1 file the walk replaced with a link to the blob the store already had has the blob's
// mtime, not the tree's (whose mode is the one after placement, mtime the one before): it is
// vouched for if it is that blob's very inode, read-only, of the tree's mode, with its bytes.
TEST(SkeletonWatch, ATier1FileLinkedToItsBlobIsRead) {
  TempRoot r, store;
  make_file_tree(r.path);
  ::usleep(static_cast<useconds_t>(2 * SkeletonWatch::kCtimeMarginNs / 1000));
  Tree t = walked_file_tree(r.path);
  auto with_mode = [&](uint32_t mode) {
    ManifestEntry e = *t.find("d/f");
    e.mode = mode;
    EXPECT_TRUE(t.put(e).ok());
  };
  with_mode(0444); // as the walk records it after placement
  const ManifestEntry* f = t.find("d/f");
  ASSERT_NE(f, nullptr);
  const std::string rel = Store::blob_relpath(f->hash, f->size);
  const std::string blob = store.path + "/" + rel;
  ASSERT_EQ(
      std::system(("mkdir -p '" + store.path + "/" + rel.substr(0, rel.rfind('/')) + "'").c_str()),
      0);
  const int64_t walk = now_ns();
  ::usleep(static_cast<useconds_t>(2 * SkeletonWatch::kCtimeMarginNs / 1000));
  // The blob of d/f's bytes, older (another mtime) and read-only; d/f becomes a link to it.
  write_file(blob, "hello");
  const struct timespec old[2] = {{1'000'000'000, 0}, {1'000'000'000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, blob.c_str(), old, 0), 0);
  ASSERT_EQ(::chmod(blob.c_str(), 0444), 0);
  const std::string path = r.path + "/d/f";
  ASSERT_EQ(::unlink(path.c_str()), 0);
  ASSERT_EQ(::link(blob.c_str(), path.c_str()), 0);
  SkeletonWatch w;
  w.arm(r.path, t, walk, "", store.path);
  ASSERT_TRUE(w.clean(r.path));
  EXPECT_TRUE(vouched(w)) << "d/f is its blob, read-only, with the tree's bytes";
  w.arm(r.path, t, walk);
  EXPECT_FALSE(vouched(w)) << "without the store, another mtime is a change";

  ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
  w.arm(r.path, t, walk, "", store.path);
  EXPECT_FALSE(vouched(w)) << "d/f is its blob, but not of the tree's mode";
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  with_mode(0644);
  w.arm(r.path, t, walk, "", store.path);
  EXPECT_FALSE(vouched(w)) << "d/f is its blob, of the tree's mode, but writable";
  ASSERT_EQ(::chmod(path.c_str(), 0555), 0);
  with_mode(0555);
  w.arm(r.path, t, walk, "", store.path);
  EXPECT_TRUE(vouched(w)) << "read-only and executable (a script's blob)";
  with_mode(0444);

  // The same bytes in another inode: not the blob.
  ASSERT_EQ(::unlink(path.c_str()), 0);
  write_file(path, "hello");
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), old, 0), 0);
  ASSERT_EQ(::chmod(path.c_str(), 0444), 0);
  w.arm(r.path, t, walk, "", store.path);
  EXPECT_FALSE(vouched(w)) << "d/f has the blob's mode and mtime but is another file";

  // The blob's inode, but other bytes (its mtime put back).
  ASSERT_EQ(::unlink(path.c_str()), 0);
  ASSERT_EQ(::link(blob.c_str(), path.c_str()), 0);
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  write_file(path, "jello");
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), old, 0), 0);
  ASSERT_EQ(::chmod(path.c_str(), 0444), 0);
  w.arm(r.path, t, walk, "", store.path);
  EXPECT_FALSE(vouched(w)) << "d/f is its blob, but its bytes are not the tree's";
}

// The look at the tree runs on a thread of its own (two readers for a first walk's many files);
// an event or a reset meanwhile makes its answer moot.
TEST(SkeletonWatch, TheLookRunsBesideTheLoop) {
  TempRoot r;
  make_dirs(r.path, {"d"});
  Tree t = tree_of({"d"});
  const std::string block(256 << 10, 'b');
  for (int i = 0; i < 96; ++i) {
    const std::string rel = "d/f" + std::to_string(i);
    write_file(r.path + "/" + rel, block + std::to_string(i));
  }
  ::usleep(static_cast<useconds_t>(2 * SkeletonWatch::kCtimeMarginNs / 1000));
  for (int i = 0; i < 96; ++i) {
    const std::string rel = "d/f" + std::to_string(i);
    struct stat st {};
    ASSERT_EQ(::stat((r.path + "/" + rel).c_str(), &st), 0);
    ASSERT_TRUE(t.put(walked_entry(rel, st, block + std::to_string(i))).ok());
  }
  const int64_t walk = now_ns();
  ::usleep(static_cast<useconds_t>(2 * SkeletonWatch::kCtimeMarginNs / 1000));
  // Every file younger than the walk (as a first walk leaves them): 96 files, 24 MiB to read.
  ASSERT_EQ(std::system(("chmod -R u+w '" + r.path + "/d'").c_str()), 0);
  SkeletonWatch w;
  w.arm(r.path, t, walk);
  EXPECT_TRUE(w.clean(r.path));
  EXPECT_TRUE(w.wait_tree(30000)) << "a wait ends with the look";
  EXPECT_TRUE(vouched(w)) << "every file read, each with the tree's bytes";
  EXPECT_FALSE(w.tree_pending());

  // One file's bytes changed, its size and mtime put back: found by one of the readers.
  const std::string f50 = r.path + "/d/f50";
  struct stat st {};
  ASSERT_EQ(::stat(f50.c_str(), &st), 0);
  std::string other = block + "50";
  other[1000] = 'x';
  write_file(f50, other);
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, f50.c_str(), times, 0), 0);
  w.arm(r.path, t, walk);
  EXPECT_FALSE(vouched(w)) << "d/f50's bytes are not the tree's";
  write_file(f50, block + "50");
  ASSERT_EQ(::utimensat(AT_FDCWD, f50.c_str(), times, 0), 0);

  // A wait that ends before the look does is not made again for the same look (the fast path
  // and the full path of one run both ask): the second returns at once.
  w.arm(r.path, t, walk);
  if (!w.wait_tree(0)) {
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(w.wait_tree(30000)) << "waited out once already";
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  }
  EXPECT_TRUE(vouched(w)) << "and the look goes on to its end";

  // Stopped while it looks: nothing is vouched for, whatever the thread finds after.
  w.arm(r.path, t, walk);
  w.reset();
  EXPECT_TRUE(w.wait_tree(0)) << "no look to wait for";
  EXPECT_FALSE(vouched(w));
  w.arm(r.path, t, walk);
  write_file(r.path + "/d/f7", block + "7"); // the same bytes: only the event tells
  EXPECT_FALSE(w.clean(r.path));
  EXPECT_FALSE(vouched(w));
}

// An instance of many watches is closed on a thread of its own (a reset, a re-arm): the watch
// goes on as before, and a new arm works at once.
TEST(SkeletonWatch, ManyWatchesAreClosedAside) {
  TempRoot r;
  Tree t;
  ASSERT_TRUE(t.mkdir("d", 0755, 1).ok());
  ASSERT_EQ(::mkdir((r.path + "/d").c_str(), 0755), 0);
  for (int i = 0; i < 400; ++i) {
    const std::string d = "d/s" + std::to_string(i);
    ASSERT_TRUE(t.mkdir(d, 0755, 1).ok());
    ASSERT_EQ(::mkdir((r.path + "/" + d).c_str(), 0755), 0);
  }
  SkeletonWatch w;
  for (int round = 0; round < 3; ++round) {
    w.arm(r.path, t);
    ASSERT_TRUE(w.clean(r.path)) << round;
    EXPECT_EQ(w.watched(), 402u);
  }
  w.reset();
  EXPECT_FALSE(w.clean(r.path));
  w.arm(r.path, t);
  ASSERT_TRUE(w.clean(r.path));
  ASSERT_EQ(::rmdir((r.path + "/d/s7").c_str()), 0);
  EXPECT_FALSE(w.clean(r.path)) << "a directory gone: the event of the new instance";
}

} // namespace
} // namespace vrift

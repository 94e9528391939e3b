// The daemon's knowledge of a session's skeleton (daemon/skeleton_watch.h): clean only while
// every directory of the tree exists under the root and nothing was removed or moved since.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "vrift/daemon/skeleton_watch.h"
#include "vrift/daemon/tree.h"

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

} // namespace
} // namespace vrift

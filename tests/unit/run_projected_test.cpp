// Commands inside a projection: paths resolved through the manifests (symlinks followed,
// relative and absolute, into another projection, loops refused), execute permission as the
// daemon serves it, and the launch of a projected script (as the kernel would), of a file
// without "#!" (/bin/sh), and the refusal of a binary that exists only in the store.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "manifest_fixtures.h"
#include "vrift/run/projected.h"
#include "vrift/store/store.h"
#include "vrift/util/fs.h"

namespace vrift::run {
namespace {

using testing::dir_entry;
using testing::file_entry;
using testing::link_entry;

PlannedProjection projection(const std::string& root, std::vector<ManifestEntry> entries) {
  PlannedProjection p;
  p.root = root;
  auto bytes = serialize_manifest(std::move(entries), root);
  EXPECT_TRUE(bytes.ok());
  auto m = Manifest::from_bytes(*bytes);
  EXPECT_TRUE(m.ok());
  p.manifest = std::move(*m);
  return p;
}

// Projection roots under a directory that does not exist: nothing is resolved on disk.
constexpr const char* kA = "/nonexistent-vrift-test/a";
constexpr const char* kB = "/nonexistent-vrift-test/a/sub/b";

std::vector<PlannedProjection> two() {
  std::vector<PlannedProjection> ps;
  ps.push_back(projection(
      kA,
      {dir_entry("bin"), file_entry("bin/tool", "#!/bin/sh\n", 0755),
       file_entry("bin/data", "x", 0644), dir_entry("node_modules"), dir_entry("node_modules/.bin"),
       link_entry("node_modules/.bin/cli", "../pkg/cli.js"), dir_entry("node_modules/pkg"),
       file_entry("node_modules/pkg/cli.js", "#!x\n", 0755),
       link_entry("abs", std::string(kB) + "/run"), link_entry("loop", "loop"),
       link_entry("dirlink", "node_modules"), dir_entry("sub"),
       link_entry("py", "/nonexistent-vrift-out/bin/python3"), link_entry("up", "../outside/tool"),
       link_entry("outdir", "/opt/x"), link_entry("via", "py")}));
  ps.push_back(projection(kB, {file_entry("run", "#!/bin/sh\n", 0700)}));
  return ps;
}

std::string path_of(const std::vector<PlannedProjection>& ps,
                    const std::optional<ProjectedFile>& f) {
  if (!f) return "(none)";
  if (!f->outside.empty()) return "outside " + f->outside;
  return ps[f->projection].root + "/" + std::string(ps[f->projection].manifest.at(f->entry).path);
}

TEST(RunProjected, ResolvesThroughTheManifests) {
  auto ps = two();
  std::string a = kA;
  EXPECT_EQ(path_of(ps, resolve_projected(a + "/bin/tool", ps)), a + "/bin/tool");
  EXPECT_EQ(path_of(ps, resolve_projected(a + "/./bin//../bin/tool", ps)), a + "/bin/tool");
  EXPECT_EQ(path_of(ps, resolve_projected(a + "/node_modules/.bin/cli", ps)),
            a + "/node_modules/pkg/cli.js");
  EXPECT_EQ(path_of(ps, resolve_projected(a + "/dirlink/.bin/cli", ps)),
            a + "/node_modules/pkg/cli.js");
  EXPECT_EQ(path_of(ps, resolve_projected(a + "/abs", ps)), std::string(kB) + "/run")
      << "an absolute symlink into the other projection";
  EXPECT_EQ(path_of(ps, resolve_projected(std::string(kB) + "/run", ps)), std::string(kB) + "/run")
      << "the deepest root wins";
  EXPECT_FALSE(resolve_projected(a + "/loop", ps)) << "symlink loop";
  EXPECT_FALSE(resolve_projected(a + "/bin", ps)) << "a directory";
  EXPECT_FALSE(resolve_projected(a + "/bin/tool/x", ps)) << "below a file";
  EXPECT_FALSE(resolve_projected(a + "/bin/none", ps));
  EXPECT_FALSE(resolve_projected(a, ps)) << "the root itself";
  EXPECT_FALSE(resolve_projected("/elsewhere/bin/tool", ps));
  EXPECT_FALSE(resolve_projected(a + "x/bin/tool", ps)) << "a sibling with the root as prefix";
  // Links that lead out of every projection: the disk answers for where they end.
  EXPECT_EQ(path_of(ps, resolve_projected(a + "/py", ps)),
            "outside /nonexistent-vrift-out/bin/python3");
  EXPECT_EQ(path_of(ps, resolve_projected(a + "/via", ps)),
            "outside /nonexistent-vrift-out/bin/python3")
      << "a link to a link that leaves";
  EXPECT_EQ(path_of(ps, resolve_projected(a + "/up", ps)),
            "outside /nonexistent-vrift-test/outside/tool")
      << "a relative link climbing above the root";
  EXPECT_EQ(path_of(ps, resolve_projected(a + "/outdir/tool", ps)), "outside /opt/x/tool")
      << "the rest of the path follows a directory link that leaves";
}

// The PATH search's filter: one realpath of the candidate's directory, no manifest entry read.
TEST(RunProjected, MayBeProjectedRulesOutOnlyWhatIsCertainlyOutside) {
  char tmpl[] = "/tmp/vrift-mbp.XXXXXX";
  const std::string t = ::mkdtemp(tmpl);
  ASSERT_EQ(::mkdir((t + "/root").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((t + "/root/bin").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((t + "/other").c_str(), 0755), 0);
  ASSERT_EQ(::symlink((t + "/root/bin").c_str(), (t + "/linkbin").c_str()), 0);
  std::vector<PlannedProjection> ps;
  ps.push_back(projection(t + "/root", {dir_entry("bin")}));
  EXPECT_TRUE(may_be_projected(t + "/root/tool", ps)) << "directly in the root";
  EXPECT_TRUE(may_be_projected(t + "/root/bin/tool", ps)) << "in a directory of it";
  EXPECT_TRUE(may_be_projected(t + "/linkbin/tool", ps)) << "through a symlink above";
  EXPECT_TRUE(may_be_projected(t + "/root/gone/tool", ps)) << "a directory not on disk";
  EXPECT_TRUE(may_be_projected(t + "/root/gone/deeper/tool", ps)) << "two levels not on disk";
  EXPECT_TRUE(may_be_projected(t + "/linkbin/gone/tool", ps)) << "not on disk, under a symlink";
  EXPECT_FALSE(may_be_projected(t + "/nowhere/deeper/tool", ps)) << "not on disk, outside";
  EXPECT_FALSE(may_be_projected(t + "/rootless/tool", ps)) << "a sibling named like the root";
  EXPECT_FALSE(may_be_projected(t + "/other/tool", ps));
  EXPECT_FALSE(may_be_projected(t + "/tool", ps)) << "beside the root";
  EXPECT_FALSE(may_be_projected("/usr/bin/tool", ps));
  (void)std::system(("rm -rf '" + t + "'").c_str());
}

TEST(RunProjected, ExecutePermission) {
  auto ps = two();
  EXPECT_TRUE(projected_executable(ps[0].manifest.at(*ps[0].manifest.find("bin/tool"))));
  EXPECT_FALSE(projected_executable(ps[0].manifest.at(*ps[0].manifest.find("bin/data"))));
}

class RunLaunch : public ::testing::Test {
protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vrift-launch-unit.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    m_store = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + m_store).c_str()); }
  // A projection of one executable file "f" with CONTENT, whose blob is in the store.
  std::vector<PlannedProjection> with_blob(const std::string& content) {
    std::vector<PlannedProjection> ps;
    ps.push_back(projection("/p", {file_entry("f", content, 0755)}));
    std::string blob = m_store + "/" + Store::blob_relpath(blake3(content), content.size());
    EXPECT_TRUE(fs::mkdir_p(fs::dirname(blob)).ok());
    std::ofstream(blob, std::ios::binary) << content;
    return ps;
  }
  std::string m_store;
};

TEST_F(RunLaunch, ScriptRunsThroughItsInterpreter) {
  auto ps = with_blob("#! /usr/bin/env  node --x \nconsole.log(1)\n");
  auto l = launch_projected("./f", ProjectedFile{0, 0, {}}, ps, m_store, {"./f", "a", "b"});
  ASSERT_TRUE(l.ok()) << l.error().message();
  EXPECT_EQ(l->path, "/usr/bin/env");
  EXPECT_EQ(l->argv, (std::vector<std::string>{"/usr/bin/env", "node --x", "./f", "a", "b"}));
  ASSERT_TRUE(l->shebang.has_value());
  ps = with_blob("#!/bin/sh\n");
  l = launch_projected("/p/f", ProjectedFile{0, 0, {}}, ps, m_store, {"f"});
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->argv, (std::vector<std::string>{"/bin/sh", "/p/f"}));
}

TEST_F(RunLaunch, PlainFileRunsUnderShAndBinaryIsRefused) {
  auto ps = with_blob("echo hi\n");
  auto l = launch_projected("./f", ProjectedFile{0, 0, {}}, ps, m_store, {"./f", "x"});
  ASSERT_TRUE(l.ok());
  EXPECT_FALSE(l->shebang.has_value());
  EXPECT_EQ(l->argv, (std::vector<std::string>{"/bin/sh", "./f", "x"}));
  ps = with_blob(std::string("\x7f"
                             "ELF\x02\x01\x01",
                             7) +
                 std::string(100, '\0'));
  l = launch_projected("./f", ProjectedFile{0, 0, {}}, ps, m_store, {"./f"});
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.error().errnum(), EACCES);
  EXPECT_NE(l.error().message().find("exists only in the store"), std::string::npos);
}

TEST_F(RunLaunch, MissingBlobIsAnError) {
  auto ps = with_blob("#!/bin/sh\n");
  std::system(("rm -rf " + m_store + "/blake3").c_str());
  EXPECT_FALSE(launch_projected("./f", ProjectedFile{0, 0, {}}, ps, m_store, {"./f"}).ok());
}

} // namespace
} // namespace vrift::run

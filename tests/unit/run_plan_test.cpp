// `vrift run`'s pure pieces: splitting CMD off the command line, --at pairing, the default
// projection root (origin and --prefix), VRIFT_PROJECTIONS, LD_PRELOAD and CMD's environment.
#include <gtest/gtest.h>

#include <string_view>

#include "vrift/run/cmdline.h"
#include "vrift/run/plan.h"

namespace vrift::run {
namespace {

using Args = std::vector<std::string>;

SplitCommandLine split(const Args& a) {
  static constexpr std::string_view globals[] = {"--the-source-root"};
  static constexpr std::string_view opts[] = {"-m", "--manifest", "--at"};
  return split_command_line(a, "run", globals, opts);
}

TEST(RunCmdline, DashDashSeparatesTheCommand) {
  auto s = split({"vrift", "run", "--manifest", "m", "--", "ls", "-la", "--", "x"});
  EXPECT_TRUE(s.is_run);
  EXPECT_EQ(s.vrift_args, (Args{"vrift", "run", "--manifest", "m"}));
  EXPECT_EQ(s.command, (Args{"ls", "-la", "--", "x"}));
}

TEST(RunCmdline, CommandStartsAtTheFirstPlainArgument) {
  auto s = split({"vrift", "-v", "--the-source-root", "run", "run", "-m", "a", "--at", "b",
                  "--at=c", "node", "--inspect", "-m"});
  EXPECT_EQ(s.vrift_args, (Args{"vrift", "-v", "--the-source-root", "run", "run", "-m", "a", "--at",
                                "b", "--at=c"}));
  EXPECT_EQ(s.command, (Args{"node", "--inspect", "-m"}));
}

TEST(RunCmdline, OptionsAfterDashDashAreTheCommands) {
  auto s = split({"vrift", "run", "--", "--help"});
  EXPECT_EQ(s.vrift_args, (Args{"vrift", "run"}));
  EXPECT_EQ(s.command, (Args{"--help"}));
  s = split({"vrift", "run", "--help"});
  EXPECT_EQ(s.vrift_args, (Args{"vrift", "run", "--help"}));
  EXPECT_TRUE(s.command.empty());
}

TEST(RunCmdline, NoCommand) {
  for (const Args& a : {Args{"vrift", "run"}, Args{"vrift", "run", "--"},
                        Args{"vrift", "run", "-m", "x"}, Args{"vrift", "run", "--manifest"}}) {
    auto s = split(a);
    EXPECT_TRUE(s.is_run);
    EXPECT_TRUE(s.command.empty()) << a.size();
  }
}

TEST(RunCmdline, OtherSubcommandsAreUntouched) {
  for (const Args& a : {Args{"vrift", "ingest", "--", "-dir"}, Args{"vrift", "--", "run", "x"},
                        Args{"vrift", "--the-source-root", "run"}, Args{"vrift"}, Args{}}) {
    auto s = split(a);
    EXPECT_FALSE(s.is_run);
    EXPECT_EQ(s.vrift_args, a);
    EXPECT_TRUE(s.command.empty());
  }
}

TEST(RunPlan, AtPairsWithManifestsInOrder) {
  auto none = pair_at({"a", "b"}, {});
  ASSERT_TRUE(none.ok());
  ASSERT_EQ(none->size(), 2u);
  EXPECT_EQ((*none)[1].manifest, "b");
  EXPECT_EQ((*none)[1].at, "");
  auto both = pair_at({"a", "b"}, {"x", "y"});
  ASSERT_TRUE(both.ok());
  EXPECT_EQ((*both)[0].at, "x");
  EXPECT_EQ((*both)[1].at, "y");
  EXPECT_FALSE(pair_at({"a", "b"}, {"x"}).ok());
  EXPECT_FALSE(pair_at({"a"}, {"x", "y"}).ok());
  EXPECT_FALSE(pair_at({}, {"x"}).ok());
  EXPECT_TRUE(pair_at({}, {}).ok());
}

TEST(RunPlan, DefaultRootIsTheOriginWithoutThePrefix) {
  EXPECT_EQ(*default_root("/p/node_modules", ""), "/p/node_modules");
  EXPECT_EQ(*default_root("/p/node_modules", "node_modules"), "/p");
  EXPECT_EQ(*default_root("/p/a/b", "a/b"), "/p");
  EXPECT_EQ(*default_root("/p/xnode_modules", "node_modules"), "/p/xnode_modules");
  EXPECT_EQ(*default_root("/p/other", "node_modules"), "/p/other");
  EXPECT_EQ(*default_root("/node_modules", "node_modules"), "/");
  EXPECT_EQ(*default_root("/p/q/", ""), "/p/q");
  EXPECT_FALSE(default_root("", "").ok());
  EXPECT_FALSE(default_root("relative/dir", "").ok());
}

std::vector<Projection> two() {
  return {{"/w/a", "/dev/shm/v/1.vdir", "/w/a.manifest", 1},
          {"/w/b", "/dev/shm/v/2.vdir", "/m/b.manifest", 22}};
}

TEST(RunPlan, ProjectionsFormatAsTabSeparatedLines) {
  auto v = format_projections(two());
  ASSERT_TRUE(v.ok()) << v.error().message();
  EXPECT_EQ(
      *v, "/w/a\t/dev/shm/v/1.vdir\t/w/a.manifest\t1\n/w/b\t/dev/shm/v/2.vdir\t/m/b.manifest\t22");
}

TEST(RunPlan, ProjectionsAreChecked) {
  EXPECT_TRUE(check_projections(two()).ok());
  auto ps = two();
  ps[1].root = "/w/a";
  EXPECT_FALSE(check_projections(ps).ok()) << "same root twice";
  ps = two();
  ps[0].root = "/w/a\tb";
  EXPECT_FALSE(check_projections(ps).ok());
  ps = two();
  ps[0].manifest_path = "/w/a\n.manifest";
  EXPECT_FALSE(check_projections(ps).ok());
  ps = two();
  ps[0].root = "w/a";
  EXPECT_FALSE(check_projections(ps).ok());
  ps = two();
  ps[0].vdir_path = "/v\t1";
  EXPECT_TRUE(check_projections(ps).ok()) << "VDir paths are only known later";
  EXPECT_FALSE(format_projections(ps).ok());
  ps = two();
  ps[1].session = 0;
  EXPECT_FALSE(format_projections(ps).ok());
  ps.clear();
  for (size_t i = 0; i < kMaxProjections; ++i)
    ps.push_back({"/r" + std::to_string(i), "/v", "/m", i + 1});
  EXPECT_TRUE(format_projections(ps).ok());
  ps.push_back({"/r-last", "/v", "/m", 99});
  EXPECT_FALSE(check_projections(ps).ok());
}

TEST(RunPlan, PreloadPutsTheShimFirstOnce) {
  EXPECT_EQ(prepend_preload("", "/s.so"), "/s.so");
  EXPECT_EQ(prepend_preload(":", "/s.so"), "/s.so");
  EXPECT_EQ(prepend_preload("/a.so", "/s.so"), "/s.so:/a.so");
  EXPECT_EQ(prepend_preload("/a.so /b.so", "/s.so"), "/s.so:/a.so /b.so");
  EXPECT_EQ(prepend_preload("/a.so:/s.so", "/s.so"), "/a.so:/s.so");
  EXPECT_EQ(prepend_preload("/a.so /s.so", "/s.so"), "/a.so /s.so");
  EXPECT_EQ(prepend_preload("/s.so.1", "/s.so"), "/s.so:/s.so.1");
}

TEST(RunPlan, ChildEnvironmentSetsTheContract) {
  EnvInputs in{"/lib/s.so", "/r\t/v\t/m\t1", "/store", false};
  auto env = child_environment({"PATH=/bin", "VRIFT_PROJECTIONS=stale", "LD_PRELOAD=/a.so",
                                "LD_PRELOAD=/ignored.so", "VRIFT_LOG=2", "HOME=/h", "ODD"},
                               in);
  EXPECT_EQ(env, (std::vector<std::string>{"PATH=/bin", "VRIFT_LOG=2", "HOME=/h", "ODD",
                                           "LD_PRELOAD=/lib/s.so:/a.so",
                                           "VRIFT_PROJECTIONS=/r\t/v\t/m\t1", "VRIFT_STORE=/store",
                                           "UV_USE_IO_URING=0"}));
  in.log = true;
  env = child_environment({"UV_USE_IO_URING=1", "VRIFT_LOG=0"}, in);
  EXPECT_EQ(env,
            (std::vector<std::string>{"LD_PRELOAD=/lib/s.so", "VRIFT_PROJECTIONS=/r\t/v\t/m\t1",
                                      "VRIFT_STORE=/store", "UV_USE_IO_URING=0", "VRIFT_LOG=1"}));
}

} // namespace
} // namespace vrift::run

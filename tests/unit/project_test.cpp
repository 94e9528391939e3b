// Project detection, the root search, the project config (vrift.toml) and the path patterns.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "vrift/ingest/pattern.h"
#include "vrift/project/config.h"
#include "vrift/project/detect.h"
#include "vrift/util/fs.h"

namespace vrift::project {
namespace {

class ProjectTest : public ::testing::Test {
protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vrift-proj.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    m_dir = fs::canonical(tmpl).value();
    const char* h = std::getenv("HOME");
    m_old_home = h ? h : "";
    ::setenv("HOME", (m_dir + "/home").c_str(), 1);
    mkdir(m_dir + "/home");
  }
  void TearDown() override {
    ::setenv("HOME", m_old_home.c_str(), 1);
    std::system(("rm -rf " + m_dir).c_str());
  }
  void mkdir(const std::string& d) { ASSERT_TRUE(fs::mkdir_p(d).ok()); }
  void touch(const std::string& f, const std::string& body = "{}\n") {
    mkdir(fs::dirname(f));
    std::ofstream(f) << body;
  }
  std::string m_dir, m_old_home;
};

// --- Detection.

TEST_F(ProjectTest, DetectsEachKindAndItsMarkers) {
  std::string p = m_dir + "/p";
  touch(p + "/package.json");
  touch(p + "/requirements.txt");
  touch(p + "/pyproject.toml");
  auto d = detect(p);
  ASSERT_TRUE(d.ok()) << d.error().message();
  ASSERT_EQ(d->kinds.size(), 2u);
  EXPECT_EQ(d->kinds[0], Kind::Npm);
  EXPECT_EQ(d->kinds[1], Kind::Pip);
  EXPECT_EQ(d->markers_of(Kind::Pip), "pyproject.toml, requirements.txt");
  EXPECT_FALSE(d->has(Kind::Cargo));
  touch(m_dir + "/c/Cargo.toml");
  touch(m_dir + "/g/go.mod");
  touch(m_dir + "/s/setup.py");
  EXPECT_EQ(detect(m_dir + "/c")->kinds, std::vector<Kind>{Kind::Cargo});
  EXPECT_EQ(detect(m_dir + "/g")->kinds, std::vector<Kind>{Kind::Go});
  EXPECT_EQ(detect(m_dir + "/s")->kinds, std::vector<Kind>{Kind::Pip});
}

TEST_F(ProjectTest, DetectGenericAndErrors) {
  mkdir(m_dir + "/plain/package.json"); // a directory is not a marker
  auto d = detect(m_dir + "/plain");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->kinds.empty());
  EXPECT_TRUE(d->markers.empty());
  auto missing = detect(m_dir + "/nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("No such file"), std::string::npos);
  touch(m_dir + "/file");
  auto file = detect(m_dir + "/file");
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.error().message().find("not a directory"), std::string::npos);
  EXPECT_EQ(kind_from_name("cargo"), Kind::Cargo);
  EXPECT_FALSE(kind_from_name("maven"));
}

// --- The root search.

TEST_F(ProjectTest, FindRootPrefersTheNearestMarker) {
  std::string outer = m_dir + "/home/work/app";
  touch(outer + "/package.json");
  touch(outer + "/packages/ui/package.json");
  mkdir(outer + "/packages/ui/src/deep");
  auto r = find_root(outer + "/packages/ui/src/deep");
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->dir, outer + "/packages/ui");
  EXPECT_EQ((*r)->marker, "package.json");
  EXPECT_EQ(find_root(outer + "/packages")->value().dir, outer);
  // vrift.manifest counts as a marker.
  touch(outer + "/tools/x/vrift.manifest", "");
  EXPECT_EQ(find_root(outer + "/tools/x")->value().dir, outer + "/tools/x");
  // A relative start is resolved against the cwd.
  char cwd[4096];
  ASSERT_NE(::getcwd(cwd, sizeof cwd), nullptr);
  ASSERT_EQ(::chdir(outer.c_str()), 0);
  EXPECT_EQ(find_root("packages/ui/src")->value().dir, outer + "/packages/ui");
  ASSERT_EQ(::chdir(cwd), 0);
}

TEST_F(ProjectTest, FindRootAnExplicitConfigFurtherUpWins) {
  std::string mono = m_dir + "/home/mono";
  touch(mono + "/vrift.toml", "");
  touch(mono + "/package.json");
  touch(mono + "/packages/a/package.json");
  auto r = find_root(mono + "/packages/a");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->dir, mono);
  EXPECT_EQ((*r)->marker, "vrift.toml");
}

TEST_F(ProjectTest, FindRootNeverHomeNorAboveIt) {
  std::string home = m_dir + "/home";
  touch(home + "/package.json"); // a stray marker in ~ (common)
  mkdir(home + "/notes/2024");
  auto r = find_root(home + "/notes/2024");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value()) << (*r)->dir;
  auto at_home = find_root(home);
  ASSERT_TRUE(at_home.ok());
  EXPECT_FALSE(at_home->has_value());
  touch(home + "/vrift.toml", ""); // not even an explicit config makes ~ a root
  EXPECT_FALSE(find_root(home + "/notes")->has_value());
  // Markers above home are never reached from inside it.
  touch(m_dir + "/package.json");
  EXPECT_FALSE(find_root(home + "/notes")->has_value());
  // Outside home the walk goes up to (not including) '/'.
  mkdir(m_dir + "/elsewhere/sub");
  EXPECT_EQ(find_root(m_dir + "/elsewhere/sub")->value().dir, m_dir);
}

TEST_F(ProjectTest, FindRootErrorsAreNotNoneFound) {
  auto r = find_root(m_dir + "/missing");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("missing"), std::string::npos);
  touch(m_dir + "/home/f");
  EXPECT_FALSE(find_root(m_dir + "/home/f").ok());
}

// --- The project config.

TEST_F(ProjectTest, DefaultsFollowTheKinds) {
  std::string p = m_dir + "/py";
  mkdir(p + "/.venv/lib");
  auto c = default_config({Kind::Npm, Kind::Cargo, Kind::Pip}, p);
  EXPECT_EQ(c.tier1, (std::vector<std::string>{"node_modules/", "/.venv/"}));
  for (const char* want : {"/target/", "__pycache__/", "*.pyc", "node_modules/.cache/"}) {
    EXPECT_NE(std::find(c.ignore.begin(), c.ignore.end(), want), c.ignore.end()) << want;
  }
  EXPECT_EQ(c.mode, IngestMode::Solid);
  EXPECT_TRUE(c.security_filter);
  EXPECT_EQ(c.manifest, "vrift.manifest");
  EXPECT_TRUE(c.file.empty());
  auto generic = default_config({}, p);
  EXPECT_TRUE(generic.ignore.empty());
  EXPECT_TRUE(generic.tier1.empty());
  // Every default pattern compiles.
  EXPECT_TRUE(PathPatterns::compile(c.ignore).ok());
  EXPECT_TRUE(PathPatterns::compile(c.tier1).ok());
}

TEST_F(ProjectTest, ParseOverridesAndDefaultsForAbsentKeys) {
  std::string text = "[project]\nkinds = [\"cargo\"]\n[ingest]\nmode = \"phantom\"\n"
                     "security_filter = false\nmanifest = \"out/m.manifest\"\n";
  auto c = parse_config(text, "/p/vrift.toml", m_dir, {Kind::Npm});
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->kinds, std::vector<Kind>{Kind::Cargo}) << "the file's kinds win over detection";
  EXPECT_EQ(c->ignore, std::vector<std::string>{"/target/"}) << "absent: the kinds' default";
  EXPECT_TRUE(c->tier1.empty());
  EXPECT_EQ(c->mode, IngestMode::Phantom);
  EXPECT_FALSE(c->security_filter);
  EXPECT_EQ(manifest_path(*c, "/p"), "/p/out/m.manifest");
  EXPECT_EQ(c->file, "/p/vrift.toml");
  // No [project] kinds: detection's; an explicit empty list means "nothing".
  auto d = parse_config("[ingest]\nignore = []\n", "/p/vrift.toml", m_dir, {Kind::Npm});
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->ignore.empty());
  EXPECT_EQ(d->tier1, std::vector<std::string>{"node_modules/"});
  EXPECT_TRUE(parse_config("", "/p/vrift.toml", m_dir, {}).ok());
  ProjectConfig abs;
  abs.manifest = "/abs/x.manifest";
  EXPECT_EQ(manifest_path(abs, "/p"), "/abs/x.manifest");
}

TEST_F(ProjectTest, ParseErrorsNameTheFileAndTheKey) {
  struct Case {
    const char* text;
    const char* want;
  } cases[] = {
      {"[ingest\n", "line 1"},
      {"[ingest]\nignroe = []\n", "ingest.ignroe: unknown key"},
      {"[misc]\n", "misc: unknown key"},
      {"top = 1\n", "top: unknown key"},
      {"[project]\nname = \"x\"\n", "project.name: unknown key"},
      {"project = 3\n", "project: expected a table, got an integer"},
      {"[project]\nkinds = \"npm\"\n", "project.kinds: expected an array of strings"},
      {"[project]\nkinds = [\"maven\"]\n", "project.kinds[0]: unknown kind 'maven'"},
      {"[ingest]\nmode = 1\n", "ingest.mode: expected \"solid\" or \"phantom\", got an integer"},
      {"[ingest]\nmode = \"fast\"\n",
       "ingest.mode: expected \"solid\" or \"phantom\", got \"fast\""},
      {"[ingest]\nsecurity_filter = \"yes\"\n", "ingest.security_filter: expected true or false"},
      {"[ingest]\nignore = [\"a\", 3]\n", "ingest.ignore[1]: expected a string, got an integer"},
      {"[ingest]\nignore = [\"ok/\", \"!keep\"]\n", "ingest.ignore[1]: '!keep': negation"},
      {"[ingest]\ntier1 = [\"**/node_modules\"]\n", "ingest.tier1[0]: '**/node_modules': '**'"},
      {"[ingest]\nmanifest = \"\"\n", "ingest.manifest: expected a file path"},
  };
  for (const Case& c : cases) {
    auto r = parse_config(c.text, "/p/vrift.toml", m_dir, {});
    ASSERT_FALSE(r.ok()) << c.text;
    const std::string& msg = r.error().message();
    EXPECT_EQ(msg.rfind("project config '/p/vrift.toml'", 0), 0u) << msg;
    EXPECT_NE(msg.find(c.want), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
  }
  // A key error carries its line.
  auto r = parse_config("[ingest]\n\nmode = \"fast\"\n", "/p/vrift.toml", m_dir, {});
  EXPECT_NE(r.error().message().find("line 3"), std::string::npos) << r.error().message();
}

TEST_F(ProjectTest, RenderedConfigParsesBackToTheSame) {
  std::string p = m_dir + "/all";
  touch(p + "/package.json");
  touch(p + "/Cargo.toml");
  touch(p + "/setup.py");
  mkdir(p + "/venv");
  Detection d = detect(p).value();
  ProjectConfig c = default_config(d.kinds, p);
  c.ignore.push_back("we\"ird\\name");
  std::string text = render_config(c, d);
  EXPECT_NE(text.find("Detected from: package.json, Cargo.toml, setup.py"), std::string::npos);
  auto back = parse_config(text, p + "/vrift.toml", p, {});
  ASSERT_TRUE(back.ok()) << back.error().message() << "\n" << text;
  EXPECT_EQ(back->kinds, c.kinds);
  EXPECT_EQ(back->ignore, c.ignore);
  EXPECT_EQ(back->tier1, c.tier1);
  EXPECT_EQ(back->mode, c.mode);
  EXPECT_EQ(back->manifest, c.manifest);
  // load_config: the file when there is one, else the defaults.
  auto none = load_config(p, d);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->file.empty());
  ASSERT_TRUE(fs::write_file_atomic(p + "/vrift.toml", "[ingest]\ntier1 = []\n").ok());
  auto file = load_config(p, d);
  ASSERT_TRUE(file.ok()) << file.error().message();
  EXPECT_EQ(file->file, p + "/vrift.toml");
  EXPECT_TRUE(file->tier1.empty());
}

// --- Patterns.

TEST(PathPatterns, SyntaxAndMatching) {
  auto p = PathPatterns::compile(
      {"__pycache__/", "*.pyc", "build/out/", "/dist/", "README", "docs/*.tmp", "cache-?"});
  ASSERT_TRUE(p.ok()) << p.error().message();
  auto m = [&](const std::string& rel, bool dir) -> std::string {
    const char* r = p->match(rel, fs::basename(rel).c_str(), dir);
    return r ? r : "";
  };
  EXPECT_EQ(m("__pycache__", true), "__pycache__/");
  EXPECT_EQ(m("a/b/__pycache__", true), "__pycache__/") << "any depth";
  EXPECT_EQ(m("a/__pycache__", false), "") << "a trailing '/' is a directory only";
  EXPECT_EQ(m("x.pyc", false), "*.pyc");
  EXPECT_EQ(m("a/b/.hidden.pyc", false), "*.pyc");
  EXPECT_EQ(m("a/pyc", false), "");
  EXPECT_EQ(m("build/out", true), "build/out/");
  EXPECT_EQ(m("src/build/out", true), "") << "a '/' inside anchors at the root";
  EXPECT_EQ(m("dist", true), "/dist/");
  EXPECT_EQ(m("a/dist", true), "") << "a leading '/' anchors";
  EXPECT_EQ(m("README", false), "README");
  EXPECT_EQ(m("sub/README", true), "README") << "no '/': files and directories";
  EXPECT_EQ(m("docs/a.tmp", false), "docs/*.tmp");
  EXPECT_EQ(m("docs/sub/a.tmp", false), "") << "'*' stays within a component";
  EXPECT_EQ(m("x/cache-1", true), "cache-?");
  EXPECT_EQ(m("x/cache-12", true), "");
  EXPECT_TRUE(PathPatterns::compile({}).value().empty());
  // By path alone: the entry or any of its parent directories.
  EXPECT_STREQ(p->match_path("a/__pycache__/x/y.py", false), "__pycache__/");
  EXPECT_STREQ(p->match_path("build/out/bin/tool", false), "build/out/");
  EXPECT_STREQ(p->match_path("dist", true), "/dist/");
  EXPECT_EQ(p->match_path("dist", false), nullptr);
  EXPECT_EQ(p->match_path("src/build/out/x", false), nullptr);
}

TEST(PathPatterns, RejectsWhatItCannotHonour) {
  for (const char* bad :
       {"", "/", "//", "!x", "a/**/b", "**", "a//b", "./x", "a/../b", "..", "a/./b/"}) {
    auto r = PathPatterns::compile({bad});
    EXPECT_FALSE(r.ok()) << "'" << bad << "'";
  }
  auto r = PathPatterns::compile({"ok/", "!neg"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "'!neg': negation ('!') is not supported");
}

} // namespace
} // namespace vrift::project

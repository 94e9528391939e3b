// Ingest with ignore and tier1 patterns, and the transient ingest zero-config `vrift run` calls,
// each against a private store and HOME.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>

#include "vrift/manifest/manifest.h"
#include "vrift/project/transient.h"
#include "vrift/registry/registry.h"
#include "vrift/util/fs.h"
#include "vrift/util/log.h"

namespace vrift::project {
namespace {

class ProjectIngestTest : public ::testing::Test {
protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vrift-pingest.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    m_dir = fs::canonical(tmpl).value();
    for (const char* v : {"HOME", "VR_THE_SOURCE", "VRIFT_HOME"}) {
      const char* old = std::getenv(v);
      m_env.emplace_back(v, old ? std::optional<std::string>(old) : std::nullopt);
    }
    ::setenv("HOME", (m_dir + "/home").c_str(), 1);
    ::setenv("VR_THE_SOURCE", (m_dir + "/store").c_str(), 1);
    ::unsetenv("VRIFT_HOME");
    ASSERT_TRUE(fs::mkdir_p(m_dir + "/home").ok());
    auto p = resolve_paths({});
    ASSERT_TRUE(p.ok()) << p.error().message();
    m_paths = *p;
    ASSERT_EQ(m_paths.store_root, m_dir + "/store");
  }
  void TearDown() override {
    for (auto& [k, v] : m_env) {
      if (v)
        ::setenv(k.c_str(), v->c_str(), 1);
      else
        ::unsetenv(k.c_str());
    }
    std::system(("chmod -R u+w " + m_dir + " && rm -rf " + m_dir).c_str());
  }
  void write(const std::string& f, const std::string& body) {
    ASSERT_TRUE(fs::mkdir_p(fs::dirname(f)).ok());
    std::ofstream(f) << body;
  }
  // An npm project: N sources, a small node_modules tree, a bundler cache.
  std::string npm_project(const std::string& name, int n) {
    std::string p = m_dir + "/" + name;
    write(p + "/package.json", "{\"name\": \"" + name + "\"}\n");
    for (int i = 0; i < n; ++i)
      write(p + "/src/m" + std::to_string(i / 20) + "/f" + std::to_string(i) + ".js",
            "export const v = " + std::to_string(i) + ";\n");
    write(p + "/node_modules/left-pad/index.js", "module.exports = 1;\n");
    write(p + "/node_modules/left-pad/package.json", "{}\n");
    write(p + "/node_modules/.cache/babel/x.json", "cache\n");
    return p;
  }
  static unsigned mode_of(const std::string& f) {
    struct stat st {};
    return ::stat(f.c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
  }
  static bool has(const std::string& manifest, const std::string& path) {
    auto m = Manifest::open(manifest);
    return m.ok() && m->find(path).has_value();
  }
  std::string m_dir;
  Paths m_paths;
  std::vector<std::pair<std::string, std::optional<std::string>>> m_env;
};

TEST_F(ProjectIngestTest, IgnoreAndTier1Patterns) {
  std::string p = npm_project("app", 5);
  write(p + "/src/__pycache__/a.pyc", "x");
  write(p + "/src/b.pyc", "x");
  IngestOptions o;
  o.dir = p;
  o.output = m_dir + "/app.manifest";
  o.ignore = {"node_modules/.cache/", "__pycache__/", "*.pyc"};
  o.tier1_paths = {"node_modules/"};
  auto r = ingest(m_paths, o, nullptr);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(has(o.output, "node_modules/left-pad/index.js"));
  EXPECT_TRUE(has(o.output, "src/m0/f1.js"));
  EXPECT_FALSE(has(o.output, "node_modules/.cache"));
  EXPECT_FALSE(has(o.output, "node_modules/.cache/babel/x.json"));
  EXPECT_FALSE(has(o.output, "src/__pycache__"));
  EXPECT_FALSE(has(o.output, "src/b.pyc"));
  ASSERT_EQ(r->excluded.size(), 3u);
  EXPECT_EQ(r->excluded[0].path, "node_modules/.cache");
  EXPECT_EQ(r->excluded[0].reason, "ignored: node_modules/.cache/");
  EXPECT_EQ(r->tier1_files, 2u);
  EXPECT_EQ(mode_of(p + "/node_modules/left-pad/index.js"), 0444u) << "tier1: read-only";
  EXPECT_EQ(mode_of(p + "/src/m0/f1.js"), 0644u) << "tier2: untouched";
  EXPECT_EQ(mode_of(p + "/node_modules/.cache/babel/x.json"), 0644u) << "ignored: untouched";

  // Unchanged: everything comes from the cache.
  auto again = ingest(m_paths, o, nullptr);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->cached, again->files);
  // Other filters: the cache made under the old ones is not trusted.
  o.tier1_paths = {"node_modules/", "src/m0/"};
  auto changed = ingest(m_paths, o, nullptr);
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(changed->cached, 0u);
  EXPECT_EQ(mode_of(p + "/src/m0/f1.js"), 0444u) << "newly tier1 files are placed as tier1";
  // A bad pattern fails before anything is touched.
  o.ignore = {"!x"};
  auto bad = ingest(m_paths, o, nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "ignore pattern: '!x': negation ('!') is not supported");
}

// Identical tier1 files become names of one inode. Placing one of them again must not touch
// that inode (a chmod to the same mode still changes its ctime): otherwise each re-ingest left
// the other names' cache records stale, and every run re-hashed some of them.
TEST_F(ProjectIngestTest, DuplicateTier1FilesSettleInTheCache) {
  std::string p = m_dir + "/dups";
  write(p + "/package.json", "{}\n");
  for (const char* pkg : {"a", "b", "c", "d", "e"})
    write(p + "/node_modules/" + pkg + "/LICENSE", "MIT, the same text everywhere\n");
  IngestOptions o;
  o.dir = p;
  o.output = m_dir + "/dups.manifest";
  o.tier1_paths = {"node_modules/"};
  ASSERT_TRUE(ingest(m_paths, o, nullptr).ok());
  struct stat a {
  }, e{};
  ASSERT_EQ(::stat((p + "/node_modules/a/LICENSE").c_str(), &a), 0);
  ASSERT_EQ(::stat((p + "/node_modules/e/LICENSE").c_str(), &e), 0);
  EXPECT_EQ(a.st_ino, e.st_ino) << "one inode for the five names (and the blob)";
  ASSERT_TRUE(ingest(m_paths, o, nullptr).ok()); // may re-hash what the first run's links touched
  for (int run = 0; run < 3; ++run) {
    auto r = ingest(m_paths, o, nullptr);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->cached, r->files) << "run " << run << ": every file from the cache";
  }
}

// An unchanged tree's re-ingest knows from the cache's stamp that the manifest on disk is the
// one these entries make, and neither builds nor reads it. Every change the file records do not
// see (a directory's mode or time, a new empty directory, a symlink's target, the manifest file
// itself) must still rewrite the manifest, exactly as a cold ingest would write it.
TEST_F(ProjectIngestTest, UnchangedTreeKeepsItsManifestAndAnyChangeRewritesIt) {
  std::string p = npm_project("stamped", 30);
  ASSERT_EQ(::symlink("src/m0", (p + "/link").c_str()), 0);
  IngestOptions o;
  o.dir = p;
  o.output = m_dir + "/stamped.manifest";
  o.register_project = false; // the registry is not what this is about
  const int saved_level = log::level();
  log::set_level(2);
  // Runs an ingest; returns whether it took the manifest on disk as is (its debug line).
  auto run = [&](const char* what) {
    ::testing::internal::CaptureStderr();
    auto r = ingest(m_paths, o, nullptr);
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_TRUE(r.ok()) << what << ": " << (r.ok() ? "" : r.error().message());
    return err.find("the manifest on disk was built from these entries") != std::string::npos;
  };
  // What a cold ingest (no cache, another output) writes for the tree as it is now.
  int cold_runs = 0;
  auto cold_bytes = [&]() {
    IngestOptions c = o;
    c.output = m_dir + "/cold" + std::to_string(cold_runs++) + ".manifest";
    std::string home = m_dir + "/cold-home" + std::to_string(cold_runs);
    EXPECT_TRUE(fs::mkdir_p(home).ok());
    Paths cp = m_paths;
    cp.home = home;
    log::set_level(0);
    auto r = ingest(cp, c, nullptr);
    log::set_level(2);
    EXPECT_TRUE(r.ok());
    auto b = fs::read_file(c.output);
    return b.ok() ? *b : std::string("unreadable");
  };
  auto ino = [&] {
    struct stat st {};
    ::stat(o.output.c_str(), &st);
    return st.st_ino;
  };

  EXPECT_FALSE(run("first ingest"));
  const ino_t kept = ino();
  EXPECT_TRUE(run("unchanged tree"));
  EXPECT_TRUE(run("unchanged tree, again"));
  EXPECT_EQ(ino(), kept) << "an unchanged tree's manifest is not rewritten";
  EXPECT_EQ(fs::read_file(o.output).value(), cold_bytes());

  struct Change {
    const char* what;
    std::function<void()> apply;
  };
  const std::vector<Change> changes = {
      {"a directory's mode", [&] { ::chmod((p + "/src/m1").c_str(), 0700); }},
      {"a new empty directory", [&] { ::mkdir((p + "/src/empty").c_str(), 0755); }},
      {"a symlink's target",
       [&] {
         ::unlink((p + "/link").c_str());
         ::symlink("src/m1", (p + "/link").c_str());
       }},
      {"a directory's mtime",
       [&] {
         struct timespec ts[2] = {{1000, 0}, {1000, 7}};
         ::utimensat(AT_FDCWD, (p + "/src").c_str(), ts, 0);
       }},
      {"a removed file", [&] { ::unlink((p + "/src/m0/f3.js").c_str()); }},
      // Changes that leave every time as it was: only one field of one entry differs.
      {"a symlink's target of the same length, times restored",
       [&] {
         struct stat link_st {
         }, dir_st{};
         ::lstat((p + "/link").c_str(), &link_st);
         ::stat(p.c_str(), &dir_st);
         ::unlink((p + "/link").c_str());
         ::symlink("src/m0", (p + "/link").c_str()); // was src/m1: same size
         const struct timespec lt[2] = {link_st.st_atim, link_st.st_mtim};
         ::utimensat(AT_FDCWD, (p + "/link").c_str(), lt, AT_SYMLINK_NOFOLLOW);
         const struct timespec dt[2] = {dir_st.st_atim, dir_st.st_mtim};
         ::utimensat(AT_FDCWD, p.c_str(), dt, 0);
       }},
      {"a file's content, same size, mtime restored",
       [&] {
         const std::string f = p + "/src/m1/f25.js";
         struct stat st {};
         ::stat(f.c_str(), &st);
         std::string b = fs::read_file(f).value();
         b[b.size() - 2] = b[b.size() - 2] == '7' ? '8' : '7';
         std::ofstream(f, std::ios::in | std::ios::out | std::ios::binary) << b;
         const struct timespec ft[2] = {st.st_atim, st.st_mtim};
         ::utimensat(AT_FDCWD, f.c_str(), ft, 0);
       }},
      {"the manifest file rewritten in place",
       [&] {
         std::string b = fs::read_file(o.output).value();
         b[b.size() - 1] ^= 1;
         std::ofstream(o.output, std::ios::in | std::ios::out | std::ios::binary) << b;
       }},
  };
  for (const Change& c : changes) {
    c.apply();
    EXPECT_FALSE(run(c.what)) << c.what << ": must not be taken for the old manifest";
    EXPECT_EQ(fs::read_file(o.output).value(), cold_bytes()) << c.what;
    EXPECT_TRUE(run("unchanged again")) << "after " << c.what << ": stamped again";
  }
  // --force-hash reads every file again, and so builds and compares the manifest too.
  o.force_hash = true;
  EXPECT_FALSE(run("--force-hash"));
  log::set_level(saved_level);
}

// Ingests of one tree under other filters or into another manifest (a zero-config run's project
// config, and a plain `vrift ingest`) keep a cache each: alternating them hashes nothing again.
TEST_F(ProjectIngestTest, CachesOfOtherFiltersAndOutputsCoexist) {
  std::string p = npm_project("alt", 10);
  IngestOptions plain;
  plain.dir = p;
  plain.output = m_dir + "/plain.manifest";
  IngestOptions filtered = plain;
  filtered.output = m_dir + "/filtered.manifest";
  filtered.ignore = {"node_modules/.cache/"};
  IngestOptions other_out = plain;
  other_out.output = m_dir + "/other.manifest";
  for (const IngestOptions* o : {&plain, &filtered, &other_out})
    ASSERT_TRUE(ingest(m_paths, *o, nullptr).ok());
  for (int round = 0; round < 2; ++round) {
    for (const IngestOptions* o : {&plain, &filtered, &other_out}) {
      auto r = ingest(m_paths, *o, nullptr);
      ASSERT_TRUE(r.ok()) << r.error().message();
      EXPECT_EQ(r->cached, r->files) << o->output << ", round " << round;
    }
  }
}

TEST_F(ProjectIngestTest, PhantomReingestDoesNotCarryWhatIsNowIgnored) {
  std::string p = m_dir + "/ph";
  write(p + "/src/x.txt", "x\n");
  write(p + "/build/out/a.bin", "a\n");
  IngestOptions o;
  o.dir = p;
  o.output = m_dir + "/ph.manifest";
  o.mode = IngestMode::Phantom;
  ASSERT_TRUE(ingest(m_paths, o, nullptr).ok());
  ASSERT_NE(::access((p + "/build/out/a.bin").c_str(), F_OK), 0) << "phantom moved it";
  o.ignore = {"build/"};
  auto r = ingest(m_paths, o, nullptr);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(has(o.output, "src/x.txt")) << "still carried";
  EXPECT_FALSE(has(o.output, "build"));
  EXPECT_FALSE(has(o.output, "build/out/a.bin"));
}

TEST_F(ProjectIngestTest, TransientWithoutConfigDoesNotLitterTheProject) {
  std::string p = npm_project("zero", 200);
  auto first = prepare_transient(m_paths, p + "/src/..");
  ASSERT_TRUE(first.ok()) << first.error().message();
  EXPECT_EQ(first->root, p);
  EXPECT_EQ(first->manifest_path, p + "/.vrift/run.manifest");
  EXPECT_TRUE(first->config.file.empty());
  EXPECT_NE(::access((p + "/vrift.manifest").c_str(), F_OK), 0) << "no vrift.manifest";
  EXPECT_NE(::access((p + "/vrift.toml").c_str(), F_OK), 0) << "no vrift.toml";
  EXPECT_TRUE(has(first->manifest_path, "src/m9/f199.js"));
  EXPECT_FALSE(has(first->manifest_path, "node_modules/.cache")) << "npm defaults apply";
  EXPECT_FALSE(has(first->manifest_path, ".vrift")) << "vrift's own directory is never ingested";
  EXPECT_EQ(mode_of(p + "/node_modules/left-pad/index.js"), 0444u);
  EXPECT_EQ(mode_of(p + "/src/m0/f0.js"), 0644u);
  // Registered like any ingest: gc keeps its blobs.
  auto reg = Registry::open(m_paths.registry_db());
  ASSERT_TRUE(reg.ok());
  auto rows = reg->list(m_paths.store_root);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].manifest_path, first->manifest_path);

  // The repeated run on an unchanged project: nothing is read again, and it is fast.
  using clock = std::chrono::steady_clock;
  double best = 1e9;
  for (int i = 0; i < 5; ++i) {
    auto t0 = clock::now();
    auto again = prepare_transient(m_paths, p);
    double ms = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
    ASSERT_TRUE(again.ok()) << again.error().message();
    EXPECT_EQ(again->report.cached, again->report.files);
    EXPECT_EQ(again->report.new_blobs, 0u);
    EXPECT_EQ(again->report.manifest_id, first->report.manifest_id);
    best = std::min(best, ms);
  }
  std::cout << "[ measure  ] repeated prepare_transient, " << first->report.files
            << " files: best of 5 " << best << " ms\n";
  EXPECT_LT(best, 1000.0) << "a repeated transient ingest must cost milliseconds";
}

// A re-run of an unchanged project does not open the registry while the witness of its row
// holds; anything that writes the registry (a row removed with or without vrift's copy of the
// manifest, a registry deleted and created again) breaks the witness, and the next run checks
// and registers the project again.
TEST_F(ProjectIngestTest, RegistrationWitnessNeverOutlivesTheRow) {
  std::string p = npm_project("witnessed", 30);
  ASSERT_TRUE(prepare_transient(m_paths, p).ok());
  const std::string db = m_paths.registry_db();
  auto rows_of = [&]() -> size_t {
    auto reg = Registry::open(db);
    if (!reg.ok()) return 999;
    auto rows = reg->list(m_paths.store_root);
    return rows.ok() ? rows->size() : 999;
  };
  auto remove_row = [&](bool with_copy) {
    auto reg = Registry::open(db);
    ASSERT_TRUE(reg.ok());
    auto rows = reg->list(m_paths.store_root);
    ASSERT_TRUE(rows.ok());
    ASSERT_EQ(rows->size(), 1u);
    ASSERT_TRUE(reg->remove((*rows)[0].seq).ok());
    if (with_copy) {
      ASSERT_EQ(::unlink((*rows)[0].copy_path.c_str()), 0);
    }
  };
  ASSERT_EQ(rows_of(), 1u);
  ASSERT_TRUE(prepare_transient(m_paths, p).ok()); // after rows_of's open: checks, witnesses

  // SQLite makes the shared-memory file whenever it opens the registry (WAL mode): a vouched
  // run leaves it missing.
  ASSERT_EQ(::unlink((db + "-shm").c_str()), 0);
  ASSERT_TRUE(prepare_transient(m_paths, p).ok());
  EXPECT_NE(::access((db + "-shm").c_str(), F_OK), 0) << "the registry was opened";

  remove_row(/*with_copy=*/false); // by hand, vrift's copy left behind
  ASSERT_EQ(rows_of(), 0u);
  ASSERT_TRUE(prepare_transient(m_paths, p).ok());
  EXPECT_EQ(rows_of(), 1u) << "registered again after a row removed by hand";

  remove_row(/*with_copy=*/true); // gc's prune
  ASSERT_EQ(rows_of(), 0u);
  ASSERT_TRUE(prepare_transient(m_paths, p).ok());
  EXPECT_EQ(rows_of(), 1u) << "registered again after a prune";

  for (const char* suffix : {"", "-wal", "-shm"}) // a registry deleted by hand
    ::unlink((db + suffix).c_str());
  ASSERT_TRUE(prepare_transient(m_paths, p).ok());
  EXPECT_EQ(rows_of(), 1u) << "registered in the new registry";
}

TEST_F(ProjectIngestTest, TransientFollowsTheProjectConfig) {
  std::string p = npm_project("cfg", 3);
  write(p + "/vrift.toml", "[ingest]\nignore = [\"src/m0/f1.js\"]\nmanifest = \"out.manifest\"\n");
  auto r = prepare_transient(m_paths, p);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->manifest_path, p + "/out.manifest");
  EXPECT_EQ(r->config.file, p + "/vrift.toml");
  EXPECT_FALSE(has(r->manifest_path, "src/m0/f1.js"));
  EXPECT_TRUE(has(r->manifest_path, "node_modules/.cache/babel/x.json")) << "ignore was replaced";
  EXPECT_EQ(mode_of(p + "/node_modules/left-pad/index.js"), 0444u) << "tier1 from the kinds";
  // A bad config is an error naming the file, not a silent fallback to the defaults.
  write(p + "/vrift.toml", "[ingest]\nmode = \"fast\"\n");
  auto bad = prepare_transient(m_paths, p);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find(p + "/vrift.toml"), std::string::npos);
}

TEST_F(ProjectIngestTest, TransientAdoptsOnlyAManifestOfTheRootItself) {
  std::string p = npm_project("adopt", 3);
  // vrift.manifest of a subtree (`vrift ingest node_modules` run in the project): kept as is.
  IngestOptions o;
  o.dir = p + "/node_modules";
  o.output = p + "/vrift.manifest";
  ASSERT_TRUE(ingest(m_paths, o, nullptr).ok());
  std::string before = fs::read_file(p + "/vrift.manifest").value();
  auto r = prepare_transient(m_paths, p);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->manifest_path, p + "/.vrift/run.manifest");
  EXPECT_EQ(fs::read_file(p + "/vrift.manifest").value(), before);
  // A manifest of the root itself is the one a run updates.
  o.dir = p;
  ASSERT_TRUE(ingest(m_paths, o, nullptr).ok());
  auto r2 = prepare_transient(m_paths, p);
  ASSERT_TRUE(r2.ok()) << r2.error().message();
  EXPECT_EQ(r2->manifest_path, p + "/vrift.manifest");
}

} // namespace
} // namespace vrift::project

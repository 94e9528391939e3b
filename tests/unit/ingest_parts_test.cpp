// The pieces ingest is made of: security filter, re-ingest cache, path authority, human figures,
// registry, prefix normalisation.
#include <fcntl.h>
#include <fnmatch.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <fstream>

#include "vrift/config/paths.h"
#include "vrift/ingest/cache.h"
#include "vrift/ingest/filter.h"
#include "vrift/ingest/ingest.h"
#include "vrift/registry/registry.h"
#include "vrift/util/fs.h"
#include "vrift/util/human.h"

namespace vrift {
namespace {

std::string temp_dir() {
  char tmpl[] = "/tmp/vrift-unit.XXXXXX";
  EXPECT_NE(::mkdtemp(tmpl), nullptr);
  return tmpl;
}

TEST(Filter, SecretsAreCaught) {
  for (const char* n : {".env", ".env.local", "server.pem", "tls.key", "id_rsa", "id_rsa.pub",
                        "id_ed25519", ".npmrc", "credentials.json", "cert.p12"}) {
    EXPECT_NE(security_match(n), nullptr) << n;
  }
  for (const char* n : {"index.js", "environment.ts", "keyboard.js", "package.json", "monkey",
                        "README.md", "env", "key"}) {
    EXPECT_EQ(security_match(n), nullptr) << n;
  }
  // The matcher agrees with fnmatch(FNM_PERIOD) over all its patterns, on names built from the
  // patterns' own pieces.
  size_t np = 0;
  const char* const* patterns = security_patterns(&np);
  ASSERT_EQ(np, 20u);
  const char* pieces[] = {"",           ".",         ".env",   ".env.",
                          "env",        "a",         "x.pem",  ".pem",
                          "pem",        "id_rsa",    "id_",    "service-account",
                          ".json",      "json",      ".key",   "credentials.json",
                          "*",          ".keystore", ".npmrc", "npmrc",
                          "id_ed25519", ".p12"};
  std::vector<std::string> names;
  for (const char* a : pieces)
    for (const char* b : pieces)
      names.push_back(std::string(a) + b);
  // And every pattern's own instances, near-misses around them (the quick reject looks at the
  // first character and the last two).
  for (size_t i = 0; i < np; ++i) {
    for (const char* fill : {"", "x", "a.b"}) {
      std::string inst = patterns[i];
      if (size_t star = inst.find('*'); star != std::string::npos) inst.replace(star, 1, fill);
      for (const char* before : {"", "a", ".", "x."})
        for (const char* after : {"", "x", ".bak", "s"})
          names.push_back(before + inst + after);
      names.push_back(inst.substr(1));
      names.push_back(inst.substr(0, inst.size() - 1));
    }
  }
  for (const std::string& n : names) {
    {
      bool expected = false;
      for (size_t i = 0; i < np; ++i)
        expected = expected || ::fnmatch(patterns[i], n.c_str(), FNM_PERIOD) == 0;
      const char* got = security_match(n);
      EXPECT_EQ(got != nullptr, expected) << "'" << n << "'";
      if (got) {
        EXPECT_EQ(::fnmatch(got, n.c_str(), FNM_PERIOD), 0) << got << " vs '" << n << "'";
      }
    }
  }
  EXPECT_TRUE(is_skipped_dir(".git"));
  EXPECT_TRUE(is_skipped_dir(".vrift"));
  EXPECT_FALSE(is_skipped_dir(".github"));
}

TEST(Cache, RoundTripAndStoreIdGuard) {
  std::string d = temp_dir();
  std::string f = d + "/file";
  std::ofstream(f) << "abc";
  struct stat st {};
  ASSERT_EQ(::stat(f.c_str(), &st), 0);
  std::vector<CacheRecord> recs{CacheRecord::from_stat("a/file", st, blake3("abc"))};
  std::string cp = d + "/c/x.cache";
  // The stamp of a "manifest": a file that starts with the header its entries built.
  const std::string m = d + "/m";
  std::array<uint8_t, ManifestStamp::kHeaderBytes> header{};
  for (size_t i = 0; i < header.size(); ++i)
    header[i] = static_cast<uint8_t>(i * 7);
  ASSERT_TRUE(
      fs::write_file_atomic(m, std::string(header.begin(), header.end()) + "and the body after it")
          .ok());
  const ManifestStamp stamp = ManifestStamp::of(m, blake3("tree"), header);
  ASSERT_TRUE(stamp.valid);
  ASSERT_TRUE(IngestCache::save(cp, "0123456789abcdef0123456789abcdef", recs, stamp).ok());
  auto c = IngestCache::load(cp, "0123456789abcdef0123456789abcdef");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_TRUE(c.stamp().same(stamp));
  EXPECT_TRUE(c.stamp().same(ManifestStamp::of(m, blake3("tree"), header)));
  EXPECT_FALSE(c.stamp().same(ManifestStamp::of(m, blake3("other tree"), header)));
  EXPECT_FALSE(ManifestStamp::of(d + "/missing", blake3("tree"), header).valid);
  EXPECT_FALSE(ManifestStamp::of(f, blake3("tree"), header).valid) << "a file without the header";
  auto other = header;
  other[100] ^= 1;
  EXPECT_FALSE(ManifestStamp::of(m, blake3("tree"), other).valid) << "another header";
  const CacheRecord* r = c.find("a/file");
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->matches(st));
  EXPECT_EQ(r->hash, blake3("abc"));
  EXPECT_EQ(c.find("a/other"), nullptr);
  // Another store's cache is ignored.
  EXPECT_EQ(IngestCache::load(cp, "ffffffffffffffffffffffffffffffff").size(), 0u);
  // A touched file no longer matches.
  struct timespec ts[2] = {{5, 0}, {5, 0}};
  ::utimensat(AT_FDCWD, f.c_str(), ts, 0);
  ::stat(f.c_str(), &st);
  EXPECT_FALSE(r->matches(st));
  // ... nor the stamp of a file rewritten since (here only its times changed).
  ::utimensat(AT_FDCWD, m.c_str(), ts, 0);
  EXPECT_FALSE(c.stamp().same(ManifestStamp::of(m, blake3("tree"), header)));
  // A damaged cache is an empty cache, never a crash.
  std::string bytes = fs::read_file(cp).value();
  for (size_t cut = 0; cut < bytes.size(); cut += 7) {
    ASSERT_TRUE(fs::write_file_atomic(cp, bytes.substr(0, cut)).ok());
    EXPECT_EQ(IngestCache::load(cp, "0123456789abcdef0123456789abcdef").size(), 0u) << cut;
  }
  std::system(("rm -rf " + d).c_str());
}

TEST(Cache, ManyRecordsAreAllFoundAndNothingElse) {
  std::string d = temp_dir();
  struct stat st {};
  ASSERT_EQ(::stat(d.c_str(), &st), 0);
  std::vector<CacheRecord> recs;
  for (int i = 0; i < 5000; ++i) {
    const std::string p = "dir" + std::to_string(i % 37) + "/f" + std::to_string(i);
    recs.push_back(CacheRecord::from_stat(p, st, blake3(p)));
  }
  const std::string cp = d + "/many.cache";
  ASSERT_TRUE(IngestCache::save(cp, "0123456789abcdef0123456789abcdef", recs, {}).ok());
  auto c = IngestCache::load(cp, "0123456789abcdef0123456789abcdef");
  ASSERT_EQ(c.size(), recs.size());
  EXPECT_FALSE(c.stamp().valid);
  for (const auto& r : recs) {
    const CacheRecord* got = c.find(r.path);
    ASSERT_NE(got, nullptr) << r.path;
    EXPECT_EQ(got->path, r.path);
    EXPECT_EQ(got->hash, blake3(r.path));
  }
  for (const char* miss : {"", "dir0", "dir0/f", "dir0/f5000", "f1", "dir1/f0"})
    EXPECT_EQ(c.find(miss), nullptr) << miss;
  // A cache naming one path twice is not trusted.
  recs.push_back(recs.front());
  ASSERT_TRUE(IngestCache::save(cp, "0123456789abcdef0123456789abcdef", recs, {}).ok());
  EXPECT_EQ(IngestCache::load(cp, "0123456789abcdef0123456789abcdef").size(), 0u);
  std::system(("rm -rf " + d).c_str());
}

TEST(Paths, PrecedenceFlagEnvConfigDefault) {
  std::string d = temp_dir();
  ::setenv("HOME", d.c_str(), 1);
  ::unsetenv("VRIFT_HOME");
  ::unsetenv("VR_THE_SOURCE");
  auto p = resolve_paths({});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->store_root, d + "/.vrift/the_source");
  EXPECT_EQ(p->store_origin, Origin::Default);
  EXPECT_EQ(p->registry_db(), d + "/.vrift/registry.db");
  ASSERT_TRUE(fs::mkdir_p(d + "/.vrift").ok());
  std::ofstream(d + "/.vrift/config.toml") << "the_source_root = \"/cfg/store/\"\n";
  p = resolve_paths({});
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_EQ(p->store_root, "/cfg/store");
  EXPECT_EQ(p->store_origin, Origin::Config);
  ::setenv("VR_THE_SOURCE", "/env/store", 1);
  p = resolve_paths({});
  EXPECT_EQ(p->store_root, "/env/store");
  EXPECT_EQ(p->store_origin, Origin::Env);
  PathOverrides ov;
  ov.the_source_root = "/flag/store";
  p = resolve_paths(ov);
  EXPECT_EQ(p->store_root, "/flag/store");
  EXPECT_EQ(p->store_origin, Origin::Flag);
  std::ofstream(d + "/.vrift/config.toml") << "the_source_root = [\n";
  p = resolve_paths({});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message().find("config.toml' line"), std::string::npos);
  ::unsetenv("VR_THE_SOURCE");
  std::system(("rm -rf " + d).c_str());
}

TEST(Paths, RuntimeAndVdirLocations) {
  ::setenv("HOME", "/tmp", 1);
  ::setenv("VRIFT_RUNTIME_DIR", "/run/test-vrift", 1);
  ::setenv("VRIFT_VDIR_DIR", "/dev/shm/test-vdir", 1);
  auto p = resolve_paths({});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->daemon_socket(), "/run/test-vrift/vriftd.sock");
  EXPECT_EQ(p->vdir_dir, "/dev/shm/test-vdir");
  EXPECT_EQ(Paths::staging_dir("/p/proj"), "/p/proj/.vrift/staging");
  ::unsetenv("VRIFT_RUNTIME_DIR");
  ::unsetenv("VRIFT_VDIR_DIR");
  ::unsetenv("XDG_RUNTIME_DIR");
  p = resolve_paths({});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->runtime_dir, "/tmp/vrift-" + std::to_string(::getuid()));
}

TEST(Human, Figures) {
  EXPECT_EQ(with_commas(0), "0");
  EXPECT_EQ(with_commas(115363), "115,363");
  EXPECT_EQ(with_commas(1000000), "1,000,000");
  EXPECT_EQ(human_bytes(512), "512 B");
  EXPECT_EQ(human_bytes(222000000), "222 MB");
  EXPECT_EQ(human_bytes(1480000000), "1.48 GB");
  EXPECT_EQ(parse_duration("30s"), 30);
  EXPECT_EQ(parse_duration("15m"), 900);
  EXPECT_EQ(parse_duration("2h"), 7200);
  EXPECT_EQ(parse_duration("7d"), 604800);
  EXPECT_EQ(parse_duration("45"), 45);
  EXPECT_FALSE(parse_duration(""));
  EXPECT_FALSE(parse_duration("h"));
  EXPECT_FALSE(parse_duration("-1h"));
  EXPECT_FALSE(parse_duration("2w"));
  EXPECT_FALSE(parse_duration("99999999999999999999d"));
}

TEST(Prefix, Normalisation) {
  EXPECT_EQ(normalize_prefix("").value(), "");
  EXPECT_EQ(normalize_prefix("./a/b/").value(), "a/b");
  EXPECT_FALSE(normalize_prefix("/abs").ok());
  EXPECT_FALSE(normalize_prefix("a/../b").ok());
  EXPECT_FALSE(normalize_prefix("a//b").ok());
}

TEST(Registry, UpsertKeepsOrderAndListsPerStore) {
  std::string d = temp_dir();
  auto reg = Registry::open(d + "/registry.db");
  ASSERT_TRUE(reg.ok()) << reg.error().message();
  ProjectRecord a{
      0, "/s", "/p/a", "/p/a.manifest", "/s/manifests/a", "id1", "solid", "tier2", "", 1,
      2, 10,   10};
  ProjectRecord b{
      0, "/s", "/p/b", "/p/b.manifest", "/s/manifests/b", "id2", "solid", "tier2", "", 3,
      4, 20,   20};
  ProjectRecord other{
      0, "/t", "/p/c", "/p/c.manifest", "/t/manifests/c", "id3", "solid", "tier2", "", 5,
      6, 30,   30};
  ASSERT_TRUE(reg->upsert(a).ok());
  ASSERT_TRUE(reg->upsert(b).ok());
  ASSERT_TRUE(reg->upsert(other).ok());
  a.manifest_id = "id1b";
  a.registered_ns = a.updated_ns = 99;
  ASSERT_TRUE(reg->upsert(a).ok());
  auto rows = reg->list("/s");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].root, "/p/a") << "re-registration keeps the original order";
  EXPECT_EQ((*rows)[0].manifest_id, "id1b");
  EXPECT_EQ((*rows)[0].registered_ns, 10);
  EXPECT_EQ((*rows)[1].root, "/p/b");
  auto side = parse_project_sidecar(project_sidecar_json((*rows)[1]));
  ASSERT_TRUE(side.ok());
  EXPECT_EQ(side->manifest_path, "/p/b.manifest");
  EXPECT_EQ(side->files, 3u);
  EXPECT_EQ(reg->integrity_check().value(), "ok");
  // A file that is not a database is reported, not a crash.
  std::ofstream(d + "/bad.db") << std::string(4096, 'x');
  auto bad = Registry::open(d + "/bad.db");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("corrupt"), std::string::npos);
  std::system(("rm -rf " + d).c_str());
}

// Opening and reading a registry writes nothing, and a write leaves no WAL frames behind once
// the connection closes: each reader's close would otherwise checkpoint them again (two
// fdatasyncs on every zero-config `vrift run`).
TEST(Registry, ReadersWriteNothingAndTheWalIsEmptiedAtClose) {
  std::string d = temp_dir();
  const std::string db = d + "/registry.db", wal = db + "-wal";
  auto size_of = [](const std::string& f) {
    struct stat st {};
    return ::stat(f.c_str(), &st) == 0 ? static_cast<long long>(st.st_size) : -1;
  };
  {
    auto reg = Registry::open(db);
    ASSERT_TRUE(reg.ok()) << reg.error().message();
    ProjectRecord a{0, "/s", "/p/a", "/p/a.manifest", "/s/m/a", "id1", "solid", "tier2", "", 1,
                    2, 10,   10};
    ASSERT_TRUE(reg->upsert(a).ok());
  }
  EXPECT_EQ(size_of(wal), 0) << "the last close checkpoints and truncates the WAL";
  struct stat before {};
  ASSERT_EQ(::stat(db.c_str(), &before), 0);
  for (int i = 0; i < 3; ++i) {
    auto reg = Registry::open(db);
    ASSERT_TRUE(reg.ok());
    auto rows = reg->list("/s");
    ASSERT_TRUE(rows.ok());
    EXPECT_EQ(rows->size(), 1u);
    EXPECT_EQ(size_of(wal), 0) << "open " << i << " wrote to the WAL";
  }
  struct stat after {};
  ASSERT_EQ(::stat(db.c_str(), &after), 0);
  EXPECT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec) << "the database was not rewritten";
  EXPECT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
  std::system(("rm -rf " + d).c_str());
}

} // namespace
} // namespace vrift

// `vrift run`'s command checks: execvp's PATH search, ELF PT_INTERP detection (crafted headers
// of both classes and byte orders, and a real binary), shebangs and `env` arguments, and the
// programs the shim cannot see (setuid, setgid, static, and scripts run by one of those).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "vrift/run/command.h"
#include "vrift/util/fs.h"

namespace vrift::run {
namespace {

// A minimal ELF header plus program headers of the given types.
std::string elf(bool is64, bool big, uint16_t type, const std::vector<uint32_t>& ptypes) {
  size_t ehdr = is64 ? 64 : 52, phent = is64 ? 56 : 32;
  std::string b(ehdr + ptypes.size() * phent, '\0');
  auto put = [&](size_t off, uint64_t v, size_t n) {
    for (size_t i = 0; i < n; ++i)
      b[off + (big ? n - 1 - i : i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  };
  b[0] = 0x7f;
  b[1] = 'E';
  b[2] = 'L';
  b[3] = 'F';
  b[4] = is64 ? 2 : 1;
  b[5] = big ? 2 : 1;
  b[6] = 1;
  put(16, type, 2);
  if (is64) {
    put(32, ehdr, 8);
    put(54, phent, 2);
    put(56, ptypes.size(), 2);
  } else {
    put(28, ehdr, 4);
    put(42, phent, 2);
    put(44, ptypes.size(), 2);
  }
  for (size_t i = 0; i < ptypes.size(); ++i)
    put(ehdr + i * phent, ptypes[i], 4);
  return b;
}

constexpr uint32_t kLoad = 1, kInterp = 3, kPhdr = 6;

TEST(RunElf, InterpMeansDynamic) {
  for (bool is64 : {true, false}) {
    for (bool big : {false, true}) {
      EXPECT_EQ(check_elf(elf(is64, big, 3, {kPhdr, kInterp, kLoad})).kind, ElfKind::Dynamic);
      EXPECT_EQ(check_elf(elf(is64, big, 2, {kLoad, kLoad})).kind, ElfKind::Static);
      EXPECT_EQ(check_elf(elf(is64, big, 3, {kLoad})).kind, ElfKind::Static) << "static-pie";
      EXPECT_EQ(check_elf(elf(is64, big, 2, {})).kind, ElfKind::Static);
      EXPECT_EQ(check_elf(elf(is64, big, 1, {kInterp})).kind, ElfKind::Malformed) << "ET_REL";
    }
  }
}

TEST(RunElf, ShortInputAsksForMore) {
  std::string full = elf(true, false, 3, {kLoad, kLoad, kInterp});
  ElfCheck c = check_elf(full.substr(0, 40));
  EXPECT_EQ(c.kind, ElfKind::NeedMore);
  EXPECT_EQ(c.need, 64u);
  c = check_elf(full.substr(0, 100));
  EXPECT_EQ(c.kind, ElfKind::NeedMore);
  EXPECT_EQ(c.need, full.size());
  EXPECT_EQ(check_elf(full).kind, ElfKind::Dynamic);
}

TEST(RunElf, NotElfAndNonsense) {
  EXPECT_EQ(check_elf("").kind, ElfKind::NotElf);
  EXPECT_EQ(check_elf("#!/bin/sh\n").kind, ElfKind::NotElf);
  EXPECT_EQ(check_elf("\x7f"
                      "EL")
                .kind,
            ElfKind::NotElf);
  std::string bad = elf(true, false, 2, {kLoad});
  bad[4] = 7;
  EXPECT_EQ(check_elf(bad).kind, ElfKind::Malformed);
  bad = elf(true, false, 2, {kLoad});
  bad[54] = 2; // phentsize 2
  bad[55] = 0;
  EXPECT_EQ(check_elf(bad).kind, ElfKind::Malformed);
}

TEST(RunElf, RealDynamicBinary) {
  auto sh = fs::read_file("/bin/sh");
  ASSERT_TRUE(sh.ok());
  EXPECT_EQ(check_elf(*sh).kind, ElfKind::Dynamic);
}

TEST(RunShebang, Parsing) {
  EXPECT_FALSE(parse_shebang("\x7f"
                             "ELF")
                   .has_value());
  EXPECT_FALSE(parse_shebang("# !/bin/sh").has_value());
  auto s = parse_shebang("#!/bin/sh\necho\n");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->interpreter, "/bin/sh");
  EXPECT_EQ(s->arg, "");
  s = parse_shebang("#! /usr/bin/env  node --x  \r\nrest");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->interpreter, "/usr/bin/env");
  EXPECT_EQ(s->arg, "node --x");
  s = parse_shebang("#!/usr/bin/python3");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->interpreter, "/usr/bin/python3");
}

TEST(RunShebang, EnvProgram) {
  EXPECT_EQ(env_program("node"), "node");
  EXPECT_EQ(env_program("-S node --inspect"), "node");
  EXPECT_EQ(env_program("-Snode --inspect"), "node");
  EXPECT_EQ(env_program("-i FOO=1 python3 -u"), "python3");
  EXPECT_EQ(env_program("-u HOME -C /tmp bash"), "bash");
  EXPECT_EQ(env_program("--ignore-environment -- ruby"), "ruby");
  EXPECT_EQ(env_program(""), "");
  EXPECT_EQ(env_program("-i A=B"), "");
}

class RunFiles : public ::testing::Test {
protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vrift-run-unit.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    m_dir = tmpl;
  }
  void TearDown() override { std::system(("rm -rf '" + m_dir + "'").c_str()); }
  std::string write(const std::string& name, const std::string& content, mode_t mode) {
    std::string p = m_dir + "/" + name;
    std::ofstream(p, std::ios::binary) << content;
    EXPECT_EQ(::chmod(p.c_str(), mode), 0);
    return p;
  }
  std::string copy_of(const std::string& from, const std::string& name, mode_t mode) {
    auto bytes = fs::read_file(from);
    EXPECT_TRUE(bytes.ok());
    return write(name, bytes.ok() ? *bytes : "", mode);
  }
  std::string m_dir;
};

TEST_F(RunFiles, FindCommandSearchesPathLikeExecvp) {
  ::mkdir((m_dir + "/a").c_str(), 0755);
  ::mkdir((m_dir + "/b").c_str(), 0755);
  ::mkdir((m_dir + "/a/tool").c_str(), 0755); // a directory is skipped
  write("a/plain", "x", 0644);
  std::string tool = write("b/tool", "#!/bin/sh\n", 0755);
  write("b/plain", "x", 0644);
  std::string path = m_dir + "/a:" + m_dir + "/b";
  auto r = find_command("tool", path.c_str());
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(*r, tool);
  r = find_command("plain", path.c_str());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errnum(), EACCES);
  r = find_command("nothing-here", path.c_str());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errnum(), ENOENT);
  EXPECT_NE(r.error().message().find("command not found"), std::string::npos);
  EXPECT_EQ(find_command("", path.c_str()).error().errnum(), ENOENT);
  // With a '/', the name is used as it is.
  EXPECT_EQ(*find_command(tool, nullptr), tool);
  EXPECT_EQ(find_command(m_dir + "/b/plain", nullptr).error().errnum(), EACCES);
  EXPECT_EQ(find_command(m_dir + "/b/none", nullptr).error().errnum(), ENOENT);
  EXPECT_EQ(find_command(m_dir + "/a/tool", nullptr).error().errnum(), EACCES);
  // No PATH: execvp's default.
  EXPECT_EQ(*find_command("sh", nullptr), "/bin/sh");
}

TEST_F(RunFiles, BlindSpots) {
  std::string fine = copy_of("/bin/true", "true", 0755);
  EXPECT_EQ(shim_blind_spot(fine, nullptr), "");
  std::string suid = copy_of("/bin/true", "suid", 04755);
  EXPECT_NE(shim_blind_spot(suid, nullptr).find("is setuid"), std::string::npos);
  std::string sgid = copy_of("/bin/true", "sgid", 02755);
  EXPECT_NE(shim_blind_spot(sgid, nullptr).find("is setgid"), std::string::npos);
  std::string stat_ = write("static", elf(true, false, 2, {kLoad}), 0755);
  EXPECT_NE(shim_blind_spot(stat_, nullptr).find("is statically linked"), std::string::npos);
  EXPECT_EQ(shim_blind_spot(write("text", "echo hi\n", 0755), nullptr), "");
  EXPECT_EQ(shim_blind_spot(m_dir + "/missing", nullptr), "");
  // Scripts: judged by their interpreter, one level down.
  EXPECT_EQ(shim_blind_spot(write("s1", "#!/bin/sh\n", 0755), nullptr), "");
  std::string why = shim_blind_spot(write("s2", "#!" + stat_ + " -x\n", 0755), nullptr);
  EXPECT_NE(why.find("runs under '" + stat_ + "', which is statically linked"), std::string::npos)
      << why;
  std::string path = m_dir;
  why = shim_blind_spot(write("s3", "#!/usr/bin/env -S suid --flag\n", 0755), path.c_str());
  EXPECT_NE(why.find("runs under '" + suid + "', which is setuid"), std::string::npos) << why;
  EXPECT_EQ(shim_blind_spot(write("s4", "#!/usr/bin/env true\n", 0755), path.c_str()), "");
  EXPECT_EQ(shim_blind_spot(write("s5", "#!/usr/bin/env nonexistent\n", 0755), path.c_str()), "");
}

} // namespace
} // namespace vrift::run

// Native modules whose own `syscall` instructions bypass the shim (ingest/rawcall.h): a
// synthetic ELF image with one executable segment, and the cases that must not count.
#include <elf.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

#include "vrift/ingest/rawcall.h"

namespace vrift {
namespace {

// An x86-64 ELF image whose only PT_LOAD segment holds CODE, executable when EXEC.
std::vector<uint8_t> image(const std::vector<uint8_t>& code, bool exec = true,
                           uint16_t machine = EM_X86_64) {
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_type = ET_DYN;
  eh.e_machine = machine;
  eh.e_phoff = sizeof eh;
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = 1;
  Elf64_Phdr ph{};
  ph.p_type = PT_LOAD;
  ph.p_flags = PF_R | (exec ? PF_X : 0);
  ph.p_offset = sizeof eh + sizeof ph;
  ph.p_filesz = code.size();
  std::vector<uint8_t> out(sizeof eh + sizeof ph + code.size());
  std::memcpy(out.data(), &eh, sizeof eh);
  std::memcpy(out.data() + sizeof eh, &ph, sizeof ph);
  std::copy(code.begin(), code.end(),
            out.begin() + static_cast<std::ptrdiff_t>(sizeof eh + sizeof ph));
  return out;
}

std::vector<std::string> calls(const std::vector<uint8_t>& img) {
  return raw_fs_syscalls(img.data(), img.size());
}

// What rustix's raw backend compiles to (from unrs-resolver): the number, two argument moves,
// the syscall.
const std::vector<uint8_t> kStatx = {0xb8, 0x4c, 0x01, 0x00, 0x00, 0x48, 0x89,
                                     0xd6, 0x48, 0x89, 0xca, 0x0f, 0x05, 0xc3};

TEST(RawCalls, FindsInlineFileSystemCalls) {
  EXPECT_EQ(calls(image(kStatx)), std::vector<std::string>{"statx"});
  std::vector<uint8_t> two = kStatx; // + openat right after
  const std::vector<uint8_t> openat = {0xb8, 0x01, 0x01, 0x00, 0x00, 0x0f, 0x05};
  two.insert(two.end(), openat.begin(), openat.end());
  EXPECT_EQ(calls(image(two)), (std::vector<std::string>{"openat", "statx"}));
}

TEST(RawCalls, IgnoresWhatIsNotAFileSystemCallInExecutableCode) {
  EXPECT_TRUE(calls(image({0xb8, 0x27, 0x00, 0x00, 0x00, 0x0f, 0x05})).empty()) << "getpid";
  EXPECT_TRUE(calls(image(kStatx, false)).empty()) << "the same bytes as data";
  EXPECT_TRUE(calls(image(kStatx, true, EM_AARCH64)).empty()) << "another architecture";
  std::vector<uint8_t> far = {0xb8, 0x4c, 0x01, 0x00, 0x00};
  far.resize(far.size() + 40, 0x90); // the number loaded too far before the syscall
  far.push_back(0x0f);
  far.push_back(0x05);
  EXPECT_TRUE(calls(image(far)).empty());
  const std::vector<uint8_t> img = image(kStatx);
  EXPECT_TRUE(raw_fs_syscalls(img.data(), 40).empty()) << "truncated";
  const std::vector<uint8_t> text(200, 0x0f);
  EXPECT_TRUE(raw_fs_syscalls(text.data(), text.size()).empty()) << "not ELF";
}

TEST(RawCalls, ASegmentPastTheEndIsCutNotOverread) {
  std::vector<uint8_t> img = image(kStatx);
  Elf64_Phdr ph;
  std::memcpy(&ph, img.data() + sizeof(Elf64_Ehdr), sizeof ph);
  ph.p_filesz = 1 << 20; // claims more than the file has
  std::memcpy(img.data() + sizeof(Elf64_Ehdr), &ph, sizeof ph);
  EXPECT_EQ(calls(img), std::vector<std::string>{"statx"});
}

} // namespace
} // namespace vrift

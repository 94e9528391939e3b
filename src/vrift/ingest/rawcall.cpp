#include "vrift/ingest/rawcall.h"

#include <elf.h>

#include <algorithm>
#include <cstring>

namespace vrift {

namespace {

struct Call {
  uint32_t nr;
  const char* name;
};
// The calls through which a program finds, reads or lists files (x86-64 numbers).
constexpr Call kFsCalls[] = {
    {2, "open"},         {4, "stat"},         {6, "lstat"},    {21, "access"},
    {89, "readlink"},    {217, "getdents64"}, {257, "openat"}, {262, "newfstatat"},
    {267, "readlinkat"}, {269, "faccessat"},  {332, "statx"},  {437, "openat2"},
    {439, "faccessat2"},
};

const char* fs_call(uint32_t nr) {
  for (const Call& c : kFsCalls)
    if (c.nr == nr) return c.name;
  return nullptr;
}

// The calls made in the executable bytes CODE (N of them), added to FOUND by name.
void scan(const uint8_t* code, size_t n, std::vector<std::string>* found) {
  constexpr size_t kBack = 32; // how far before the syscall the number may be loaded
  for (size_t i = 0; i + 1 < n; ++i) {
    if (code[i] != 0x0f || code[i + 1] != 0x05) continue;
    const size_t from = i > kBack ? i - kBack : 0;
    // The nearest `mov $imm32, %eax` (b8 imm32) before it, 5 bytes ending before the syscall.
    for (size_t j = i; j >= from + 5; --j) {
      if (code[j - 5] != 0xb8) continue;
      uint32_t nr;
      std::memcpy(&nr, code + j - 4, sizeof nr);
      if (const char* name = fs_call(nr)) {
        if (std::find(found->begin(), found->end(), name) == found->end()) found->push_back(name);
      }
      break;
    }
  }
}

} // namespace

std::vector<std::string> raw_fs_syscalls(const uint8_t* data, size_t n) {
  std::vector<std::string> found;
  Elf64_Ehdr eh;
  if (n < sizeof eh) return found;
  std::memcpy(&eh, data, sizeof eh);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
      eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64 ||
      eh.e_phentsize != sizeof(Elf64_Phdr))
    return found;
  for (uint32_t k = 0; k < eh.e_phnum; ++k) {
    const uint64_t at = eh.e_phoff + uint64_t{k} * sizeof(Elf64_Phdr);
    if (at > n || n - at < sizeof(Elf64_Phdr)) break;
    Elf64_Phdr ph;
    std::memcpy(&ph, data + at, sizeof ph);
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X) || ph.p_offset >= n) continue;
    scan(data + ph.p_offset, std::min<uint64_t>(ph.p_filesz, n - ph.p_offset), &found);
  }
  std::sort(found.begin(), found.end());
  return found;
}

} // namespace vrift

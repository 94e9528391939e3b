// What an ELF file's first bytes say about it as a program: whether the dynamic loader runs it
// (PT_INTERP), which decides whether an LD_PRELOAD shim can be in it. Used by `vrift run` to
// judge a command and by phantom ingest to find the programs a phantom projection cannot start.
#pragma once

#include <cstddef>
#include <string_view>

namespace vrift {

/// What the first bytes of a file say about an ELF program.
enum class ElfKind {
  NotElf,    ///< no ELF magic
  Dynamic,   ///< has PT_INTERP: the dynamic loader runs, LD_PRELOAD applies
  Static,    ///< an executable without PT_INTERP (static, or static-pie)
  NeedMore,  ///< BYTES is too short: read ElfCheck::need bytes and ask again
  Malformed, ///< not a program we can judge (exec will say what is wrong)
};
struct ElfCheck {
  ElfKind kind = ElfKind::NotElf;
  size_t need = 0; ///< NeedMore: the bytes needed from the start of the file
};
/// Classifies the ELF file whose first bytes are BYTES (32/64-bit, either byte order).
ElfCheck check_elf(std::string_view bytes);

} // namespace vrift

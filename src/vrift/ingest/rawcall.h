// Native code that bypasses the shim. A shared object that makes file-system system calls with
// its own `syscall` instruction (Rust crates on rustix's raw backend do: the module resolvers of
// Jest 30 and Vite 8) is not seen by an LD_PRELOAD shim, and in a phantom projection the files
// it looks for are not on disk (docs/shim.md, "When things go wrong"). Phantom ingest looks for
// such objects and warns, so that the user can ingest the tree solid instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vrift {

/// The file-system system calls (x86-64 numbers, by name) that the executable segments of the
/// ELF image DATA (N bytes) make with a `syscall` instruction of their own: a `mov $NR, %eax`
/// at most 32 bytes before a `syscall` (0f 05). Empty for anything else: another architecture,
/// not ELF, a truncated image. A heuristic: it finds what compilers emit for inline system
/// calls with a constant number, and may miss a number computed at run time.
std::vector<std::string> raw_fs_syscalls(const uint8_t* data, size_t n);

} // namespace vrift

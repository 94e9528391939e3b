// vfork: the shim's own, so that it knows without asking the kernel whether it runs in a vfork
// child. The child borrows its parent's memory (the fd table included) until it execs or exits,
// but has a descriptor table of its own: what it opens, closes or dups must not change the
// parent's entries (LESSONS 8). Until 2026-11-23 the shim told the child by comparing getpid()
// with the pid it had recorded, a system call at every close of a projected file (~0.2 us here;
// Python closes each module it reads) that it could not afford at every open; a child made by
// _Fork() or clone() without the atfork handlers also kept a wrong pid.
//
// The child sets vrift_in_vfork_child, a thread-local flag: it runs on its parent's thread, in
// that thread's TLS, which no other thread of the parent reads. The parent, resumed once the
// child has exec'd or exited, clears it. A child made with clone(CLONE_VM) by other means than
// vfork() is not seen (posix_spawn's never calls the shim: glibc's child uses its internal
// functions only).
//
// The call is glibc's in shape: the return address is popped into a register before the system
// call and pushed back after it, because the child runs first on the same stack and overwrites
// it. With a shadow stack in use (rdssp gives its pointer; it is a no-op without one), the child
// must not pop the shared shadow stack: it jumps back instead of returning.
#include <sys/syscall.h>

#include <cerrno>

#include "vrift/shim/core/fdtab.h"

#if defined(__x86_64__)

extern "C" __attribute__((visibility("hidden"), used)) long vrift_vfork_failed(long err) {
  errno = static_cast<int>(err);
  return -1;
}

#define VRIFT_STR2(x) #x
#define VRIFT_STR(x) VRIFT_STR2(x)

asm(R"(
  .pushsection .text
  .globl vfork
  .type vfork, @function
  .globl __vfork
  .type __vfork, @function
vfork:
__vfork:
  popq %rdi
  movl $)" VRIFT_STR(SYS_vfork) R"(, %eax
  syscall
  pushq %rdi
  cmpq $-4095, %rax
  jae 2f
  movq vrift_in_vfork_child@gottpoff(%rip), %rcx
  testl %eax, %eax
  setz %fs:(%rcx)
  jnz 1f
  xorl %esi, %esi
  rdsspq %rsi
  testq %rsi, %rsi
  jz 1f
  popq %rdi
  jmp *%rdi
1:
  ret
2:
  negq %rax
  movq %rax, %rdi
  jmp vrift_vfork_failed
  .size vfork, .-vfork
  .size __vfork, .-__vfork
  .popsection
)");

#endif

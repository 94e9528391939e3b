#!/bin/sh
# Fails when the object of `vrift run`'s fast path (run/fast_run.cpp) could not run before the
# C library starts: it may reference no symbol it does not define (no libc, not even memcpy,
# which glibc resolves through an IFUNC only once it starts; no __stack_chk_fail; no sanitizer
# hook) and carry no relocation that the static PIE's self-relocation would have to apply
# (an absolute address in data: a table of pointers), nor touch thread-local storage.
set -eu
obj=$1
# (_start: glibc's entry point, where the fast path hands over when it does not take the run.)
undefined=$(nm -u "$obj" | awk 'NF == 2 && $2 != "_start" { print $2 }' | sort -u)
if [ -n "$undefined" ]; then
  echo "check_fast_run: $obj references symbols it cannot use before libc starts:" >&2
  printf '%s\n' "$undefined" >&2
  exit 1
fi
# Debug sections (not loaded) may hold absolute addresses; loaded ones may not.
absolute=$(readelf -rW "$obj" | awk '
  /^Relocation section/ { loaded = ($3 !~ /debug/) }
  loaded && $3 ~ /^R_X86_64_(64|32|32S|GLOB_DAT|JUMP_SLOT|RELATIVE|GOTPCREL|GOTPCRELX|REX_GOTPCRELX|TPOFF32|TPOFF64|GOTTPOFF|TLSGD|TLSLD|DTPMOD64|DTPOFF32|DTPOFF64)$/')
if [ -n "$absolute" ]; then
  echo "check_fast_run: $obj has relocations that need the loader or the GOT:" >&2
  printf '%s\n' "$absolute" >&2
  exit 1
fi
# Thread-local storage (and the stack protector's canary) is reached through %fs, which glibc
# has not set up yet.
tls=$(objdump -d "$obj" | grep -F '%fs:' || true)
if [ -n "$tls" ]; then
  echo "check_fast_run: $obj reads thread-local storage (%fs), not set up before libc starts:" >&2
  printf '%s\n' "$tls" >&2
  exit 1
fi

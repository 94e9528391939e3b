#!/bin/sh
# Fails when the freestanding protocol core (the static library given) references anything but
# a few libc string functions (clang turns memcmp into bcmp) and its own symbols: no operator
# new/delete, no __cxa_* (exceptions, guards), no std::__throw_*, no malloc. Sanitizer hooks
# are allowed (ASan builds).
set -eu
lib=$1
allowed='^(bcmp|memchr|memcmp|memcpy|memmove|memset|strlen|__stack_chk_fail)$|^_ZN5vrift5proto|^__(asan|ubsan|sanitizer|tsan)_'
undefined=$(nm -u "$lib" | awk 'NF == 2 { print $2 }' | sort -u)
bad=$(printf '%s\n' "$undefined" | grep -Ev "$allowed" | grep -v '^$' || true)
if [ -n "$bad" ]; then
  echo "vrift_proto references symbols a freestanding library may not use:"
  printf '%s\n' "$bad" | c++filt
  exit 1
fi
echo "vrift_proto is freestanding; it references only:"
printf '%s\n' "$undefined" | grep -v '^_ZN5vrift5proto' | tr '\n' ' '
echo

#!/usr/bin/env bash
# The shim's ABI surface (issue: "CI checks the exported symbol set (nm -D) against the list and
# that the library needs only libc"):
#   1. the dynamic symbols it defines are exactly the global list of src/vrift/shim/exports.map;
#   2. every symbol it needs comes from glibc (no libstdc++, libgcc_s or sanitizer runtime);
#   3. its only DT_NEEDED entry is libc.so.6.
# usage: check_exports.sh LIBVRIFT_SHIM.so EXPORTS.map
set -euo pipefail
lib=$1
map=$2
fail() { echo "check_exports: $*" >&2; exit 1; }
[ -f "$lib" ] || fail "no such library: $lib"

want=$(sed -n '/global:/,/local:/p' "$map" | grep -v 'global:\|local:' | tr ';' '\n' |
  tr -d ' ' | grep -v '^$' | sort)
have=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TWiV]$/ {print $3}' | sed 's/@.*//' | sort)
if [ "$want" != "$have" ]; then
  diff <(echo "$want") <(echo "$have") >&2 || true
  fail "exported symbols differ from $map (< expected, > found)"
fi
[ "$(echo "$have" | wc -l)" -ge 60 ] || fail "suspiciously few exports"

bad=$(nm -D --undefined-only "$lib" | awk '{print $NF}' | grep -v '@GLIBC_' |
  grep -v '^_ITM_\|^__gmon_start__$\|^__cxa_finalize' || true)
[ -z "$bad" ] || fail "symbols from outside glibc: $bad"

needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
[ "$needed" = "libc.so.6" ] || fail "needs more than libc: $needed"
echo "check_exports: $(echo "$have" | wc -l) exports, libc only"

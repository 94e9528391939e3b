#!/usr/bin/env bash
# Bad input gets one clear line and a non-zero exit; nothing half-written, no wrong blob.
source "$(dirname "$0")/lib.sh"

mkdir -p "$T/p/sub"
for i in $(seq 1 20); do printf 'file %s\n' "$i" > "$T/p/sub/f$i"; done

expect_fail "missing directory" 1 "cannot ingest '$T/nope': No such file or directory" \
  "$VRIFT" ingest "$T/nope" -o "$T/x.manifest"
expect_fail "a file is not a directory" 1 "not a directory" "$VRIFT" ingest "$T/p/sub/f1" -o "$T/x.manifest"
expect_fail "output in a missing directory" 1 "output directory '$T/missing' does not exist" \
  "$VRIFT" ingest "$T/p" -o "$T/missing/x.manifest"
check "no manifest written on errors" test ! -e "$T/x.manifest"
mkdir -p "$T/outdir.manifest"
expect_fail "output is a directory" 1 "is a directory" "$VRIFT" ingest "$T/p" -o "$T/outdir.manifest"

# Usage errors exit 2.
for args in "ingest" "ingest $T/p --mode liquid" "ingest $T/p --tier tier3" "ingest $T/p -j 0" \
            "ingest $T/p --bogus" "frobnicate"; do
  # shellcheck disable=SC2086
  "$VRIFT" $args >/dev/null 2>&1
  check_eq "usage error exits 2: vrift $args" 2 "$?"
done

# An existing manifest survives a failed ingest untouched.
"$VRIFT" ingest "$T/p" -o "$T/good.manifest" >/dev/null 2>&1
cp "$T/good.manifest" "$T/good.copy"
mkdir -p "$T/q" && printf 'secret\n' > "$T/q/unreadable" && printf 'ok\n' > "$T/q/fine"
chmod 0777 "$T" "$T/q" && chmod 0000 "$T/q/unreadable"
mkdir -p "$T/nobody-home" "$T/nobody-store" && chmod 0777 "$T/nobody-home" "$T/nobody-store" "$T/good.manifest"
chmod 0666 "$T/good.manifest"
if command -v setpriv >/dev/null; then
  err=$(setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$T/nobody-home" \
        VR_THE_SOURCE="$T/nobody-store/s" "$VRIFT" ingest "$T/q" -o "$T/good.manifest" 2>&1 >/dev/null); rc=$?
  check_eq "unreadable file: exit 1" 1 "$rc"
  check_contains "unreadable file: names it" "opening '$T/q/unreadable': Permission denied" "$err"
  check_eq "unreadable file: one line" 1 "$(printf '%s\n' "$err" | wc -l)"
  check "unreadable file: old manifest untouched" cmp -s "$T/good.manifest" "$T/good.copy"
  chmod 0000 "$T/q"
  err=$(setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$T/nobody-home" \
        VR_THE_SOURCE="$T/nobody-store/s" "$VRIFT" ingest "$T/q" -o "$T/y.manifest" 2>&1 >/dev/null); rc=$?
  check_eq "unreadable directory: exit 1" 1 "$rc"
  check_contains "unreadable directory: says so" "Permission denied" "$err"
  chmod 0755 "$T/q"
else
  not_ok "setpriv missing: cannot test permission errors as root"
fi

# A file that keeps changing while it is read: refused, no manifest, no wrong blob.
mkdir -p "$T/busy"
head -c 40000000 /dev/zero > "$T/busy/growing.bin"
( while :; do echo x >> "$T/busy/growing.bin"; done ) &
writer=$!
err=$("$VRIFT" ingest "$T/busy" -j 1 -o "$T/busy.manifest" 2>&1 >/dev/null); rc=$?
kill $writer; wait $writer 2>/dev/null
check_eq "changing file: exit 1" 1 "$rc"
check_contains "changing file: says so" "changed while being read" "$err"
check "changing file: no manifest" test ! -e "$T/busy.manifest"
check "changing file: store sound" store_is_sound

# A full disk: a 1 MiB tmpfs store, a 3 MB tree (other filesystem: blobs are copies).
if [ "$(id -u)" -eq 0 ]; then
  mkdir -p "$T/small" "$T/big"
  if mount -t tmpfs -o size=1m tmpfs "$T/small"; then
    for i in 1 2 3; do head -c 1000000 /dev/urandom > "$T/big/r$i"; done
    err=$(VR_THE_SOURCE="$T/small/store" "$VRIFT" ingest "$T/big" -o "$T/big.manifest" 2>&1 >/dev/null); rc=$?
    check_eq "full disk: exit 1" 1 "$rc"
    check_contains "full disk: says so" "No space left on device" "$err"
    check "full disk: no manifest" test ! -e "$T/big.manifest"
    check "full disk: no wrong blob" store_is_sound "$T/small/store"
    check_eq "full disk: no temp files left" "" "$(ls -A "$T/small/store/tmp")"
    umount "$T/small"
  else
    not_ok "full disk: could not mount a tmpfs as root"
  fi
else
  echo "skip - full disk test needs root to mount a small tmpfs"
fi

# Corrupt manifests: one line, exit 1, never a crash.
head -c 300 /dev/urandom | tr -dc 'a-z' > "$T/garbage.manifest"; printf '%0300d' 0 >> "$T/garbage.manifest"
expect_fail "garbage manifest" 1 "bad magic" "$VRIFT" manifest show "$T/garbage.manifest"
head -c 100 "$T/good.copy" > "$T/trunc.manifest"
expect_fail "truncated manifest" 1 "truncated" "$VRIFT" manifest show "$T/trunc.manifest"
cp "$T/good.copy" "$T/flip.manifest"
printf '\xff' | dd of="$T/flip.manifest" bs=1 seek=200 conv=notrunc status=none
expect_fail "flipped byte" 1 "corrupt" "$VRIFT" manifest id "$T/flip.manifest"
expect_fail "missing manifest" 1 "No such file" "$VRIFT" manifest show "$T/none.manifest"
finish

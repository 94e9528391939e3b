#!/usr/bin/env bash
# `vrift manifest show|id|diff`: output shapes, exit codes (diff: 0 identical, 1 different,
# 2 trouble) and one-line errors for files that are not manifests.
source "$(dirname "$0")/lib.sh"

mkdir -p "$T/p/sub/empty"
printf 'hello\n' > "$T/p/a.txt"
printf '#!/bin/sh\n' > "$T/p/run.sh" && chmod 0755 "$T/p/run.sh"
printf 'x' > "$T/p/sub/with space"
ln -s ../a.txt "$T/p/sub/link"
"$VRIFT" ingest "$T/p" -o "$T/a.manifest" >/dev/null 2>&1
check "ingest wrote a manifest" test -s "$T/a.manifest"

# id: 64 hex digits, stable, the same as show --json reports.
id=$("$VRIFT" manifest id "$T/a.manifest")
check "id is 64 hex digits" bash -c "[[ '$id' =~ ^[0-9a-f]{64}$ ]]"
json_id=$("$VRIFT" manifest show --json "$T/a.manifest" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
check_eq "show --json reports the same id" "$id" "$json_id"

# show: header block, then one aligned line per entry.
out=$("$VRIFT" manifest show "$T/a.manifest")
check_contains "show prints the id" "id       $id" "$out"
check_contains "show prints the origin" "origin   $T/p" "$out"
check_contains "show counts entry types" "(3 files, 2 dirs, 1 symlink)" "$out"
check_contains "show marks directories with /" " sub/empty/" "$out"
check_contains "show prints symlink targets" "sub/link -> ../a.txt" "$out"
check_contains "show prints modes in octal" "file  0755" "$out"
check "show prints nanosecond UTC mtimes" \
  bash -c "grep -qE '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z' <<< \"\$1\"" _ "$out"
check_eq "mtime alignment: one width for every entry line" 1 \
  "$(tail -n +6 <<< "$out" | awk '{ print index($0, "Z ") }' | sort -u | wc -l)"

# The id ignores timestamps: touching every file changes bytes, not the id.
cp "$T/a.manifest" "$T/a.copy"
find "$T/p" -exec touch -h -d '2001-01-01 00:00:00' {} +
"$VRIFT" ingest "$T/p" -o "$T/b.manifest" >/dev/null 2>&1
check_eq "id ignores mtimes" "$id" "$("$VRIFT" manifest id "$T/b.manifest")"
check "but the bytes differ" bash -c "! cmp -s '$T/a.copy' '$T/b.manifest'"
out=$("$VRIFT" manifest diff "$T/a.copy" "$T/b.manifest"); rc=$?
check_eq "diff of same tree exits 0" 0 "$rc"
check_eq "diff says identical" "manifests are identical" "$out"

# A change of content, mode, an addition and a removal.
printf 'changed\n' > "$T/p/a.txt"
chmod 0700 "$T/p/run.sh"
rm "$T/p/sub/with space"
printf 'new\n' > "$T/p/new.txt"
"$VRIFT" ingest "$T/p" -o "$T/c.manifest" >/dev/null 2>&1
out=$("$VRIFT" manifest diff "$T/a.copy" "$T/c.manifest"); rc=$?
check_eq "diff of different trees exits 1" 1 "$rc"
check_eq "diff lines" "M a.txt (content)
+ new.txt
M run.sh (mode 755->700)
- sub/with space" "$out"
kinds=$("$VRIFT" manifest diff --json "$T/a.copy" "$T/c.manifest" |
  python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["identical"], " ".join(c["change"] for c in d["changes"]))')
check_eq "diff --json" "False modified added modified removed" "$kinds"

# Errors: one line, exit 1.
head -c 100 "$T/a.copy" > "$T/short"
expect_fail "truncated" 1 "loading manifest '$T/short': truncated manifest" "$VRIFT" manifest show "$T/short"
expect_fail "not a manifest" 1 "bad magic" "$VRIFT" manifest id "$SRC_DIR/CMakeLists.txt"
expect_fail "diff with a missing side: trouble, as diff(1)" 2 "loading manifest '$T/none'" \
  "$VRIFT" manifest diff "$T/a.copy" "$T/none"
mkfifo "$T/fifo"
expect_fail "a FIFO is refused, not waited on" 1 "not a regular file" \
  timeout 10 "$VRIFT" manifest show "$T/fifo"
"$VRIFT" manifest >/dev/null 2>&1
check_eq "manifest without a subcommand is a usage error" 2 "$?"
"$VRIFT" manifest diff "$T/a.copy" >/dev/null 2>&1
check_eq "diff with one file is a usage error" 2 "$?"

finish

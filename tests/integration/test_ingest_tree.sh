#!/usr/bin/env bash
# Ingest of a generated tree with every entry kind and awkward names; the manifest is checked
# entry by entry against an independent model (os.lstat + b3sum), the store blob by blob.
source "$(dirname "$0")/lib.sh"

P="$T/proj"
mkdir -p "$P"
cd "$P" || exit 1
# Every entry kind, awkward names.
printf 'hello\n' > plain.txt
: > empty-file
printf '#!/bin/sh\necho hi\n' > run.sh && chmod 0755 run.sh
printf 'x' > 'with space.txt'
printf 'utf8 \xc3\xa9\n' > 'caf'$'\xc3\xa9''-ünïcødé.txt'
printf 'dash\n' > ./-leading-dash
printf 'setgid-ish\n' > odd-mode && chmod 0640 odd-mode
long=$(printf 'n%.0s' $(seq 1 251)).txt   # 255 bytes
printf 'long name\n' > "$long"
deep=.; for i in $(seq 1 20); do deep="$deep/level$i"; done
mkdir -p "$deep" && printf 'deep\n' > "$deep/bottom.txt"
mkdir -p empty-dir/nested-empty
mkdir -p sub && printf 'hello\n' > sub/dup-of-plain.txt     # same content as plain.txt
ln -s plain.txt link-to-plain
ln -s ../plain.txt sub/rel-link
ln -s /nonexistent/dangling dangling-link
ln -s "$long" link-to-long
head -c 3000000 /dev/urandom > big.bin                       # multi-chunk hashing
touch -d '2001-02-03 04:05:06.123456789' plain.txt           # nanosecond mtime
touch -h -d '2002-03-04 05:06:07.987654321' link-to-plain
mkdir -p .git/objects && printf 'git internals\n' > .git/objects/x # skipped
mkdir -p .vrift && printf 'own state\n' > .vrift/y                # skipped
printf 'SECRET=1\n' > .env && printf 'k\n' > server.key && printf 'r\n' > id_rsa  # security filter
cd "$T" || exit 1

out=$("$VRIFT" ingest "$P" -o "$T/m1.manifest" 2>&1); rc=$?
check_eq "ingest exits 0" 0 "$rc"
check_contains "summary names the manifest" "$T/m1.manifest" "$out"
check_contains "summary counts excluded entries" "Excluded:   3 entries" "$out"
"$VRIFT" manifest show --json "$T/m1.manifest" > "$T/m1.json"
check "manifest equals the independent model, entry by entry" \
  python3 "$SRC_DIR/tests/integration/manifest_oracle.py" compare "$P" "$T/m1.json"
check "every blob's bytes match its name (b3sum)" store_is_sound
files=$(python3 -c 'import json,sys; print(sum(1 for e in json.load(open(sys.argv[1]))["entries"] if e["type"]=="file"))' "$T/m1.json")
distinct=$(python3 -c 'import json,sys; print(len({e["hash"] for e in json.load(open(sys.argv[1]))["entries"] if e["type"]=="file"}))' "$T/m1.json")
check_eq "one blob per distinct content" "$distinct" "$(blob_count)"
check "duplicate content stored once" test "$files" -gt "$distinct"
check "secrets are not in the manifest" bash -c "! mhas '$T/m1.manifest' .env && ! mhas '$T/m1.manifest' server.key && ! mhas '$T/m1.manifest' id_rsa"
ex=$("$VRIFT" ingest "$P" -o "$T/m1.manifest" --show-excluded 2>&1)
check_contains "--show-excluded names the pattern" "server.key  (security filter: *.key)" "$ex"
check "git and vrift internals skipped" bash -c "! grep -q -e 'objects' -e '\\.vrift' '$T/m1.json'"
check_eq "empty directories are recorded" dir "$(mfield "$T/m1.manifest" empty-dir/nested-empty type)"
check_eq "the symlink target is recorded" /nonexistent/dangling "$(mfield "$T/m1.manifest" dangling-link target)"
check_eq "nanosecond mtime recorded" "$(stat -c %.9Y "$P/plain.txt" | tr -d .)" "$(mfield "$T/m1.manifest" plain.txt mtime_ns)"
check_eq "symlink's own mtime recorded" "$(stat -c %.9Y "$P/link-to-plain" | tr -d .)" "$(mfield "$T/m1.manifest" link-to-plain mtime_ns)"

# Deterministic: same tree, same bytes; the id ignores timestamps.
"$VRIFT" ingest "$P" -o "$T/m2.manifest" >/dev/null 2>&1
check "same tree gives identical manifest bytes" cmp -s "$T/m1.manifest" "$T/m2.manifest"
id1=$("$VRIFT" manifest id "$T/m1.manifest")
touch "$P/plain.txt" "$P/sub"
"$VRIFT" ingest "$P" -o "$T/m3.manifest" >/dev/null 2>&1
check_eq "touch changes no manifest id" "$id1" "$("$VRIFT" manifest id "$T/m3.manifest")"
check "but it is a different file (mtime)" bash -c "! cmp -s '$T/m1.manifest' '$T/m3.manifest'"
chmod 0700 "$P/run.sh"
"$VRIFT" ingest "$P" -o "$T/m4.manifest" >/dev/null 2>&1
check "a mode change changes the id" test "$id1" != "$("$VRIFT" manifest id "$T/m4.manifest")"
diffout=$("$VRIFT" manifest diff "$T/m1.manifest" "$T/m4.manifest"); rc=$?
check_eq "manifest diff exits 1 on a difference" 1 "$rc"
check_contains "manifest diff names the mode change" "run.sh" "$diffout"

# --prefix places entries under P.
"$VRIFT" ingest "$P" --prefix vendor/lib -o "$T/p.manifest" >/dev/null 2>&1
"$VRIFT" manifest show --json "$T/p.manifest" > "$T/p.json"
check_eq "prefix directories exist" dir "$(mfield "$T/p.manifest" vendor/lib type)"
check_eq "entries are under the prefix" file "$(mfield "$T/p.manifest" vendor/lib/plain.txt type)"
expect_fail "--prefix with .. is refused" 1 "--prefix '../x'" "$VRIFT" ingest "$P" --prefix ../x -o "$T/bad.manifest"

# --no-security-filter ingests them; --json is machine readable.
js=$("$VRIFT" ingest "$P" --no-security-filter --json -o "$T/ns.manifest" 2>/dev/null)
check "json summary parses" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["files"] > 0 and "dedup_file_ratio" in d' "$js"
check "--no-security-filter keeps .env" mhas "$T/ns.manifest" .env

# Output inside the tree is not ingested into itself.
"$VRIFT" ingest "$P" -o "$P/vrift.manifest" >/dev/null 2>&1
"$VRIFT" ingest "$P" -o "$P/vrift.manifest" >/dev/null 2>&1
check "the manifest does not contain itself" bash -c "! mhas '$P/vrift.manifest' vrift.manifest"

# Single-threaded and parallel ingests agree.
"$VRIFT" ingest "$P" -j 1 --force-hash -o "$T/j1.manifest" >/dev/null 2>&1
"$VRIFT" ingest "$P" -j 4 --force-hash -o "$T/j4.manifest" >/dev/null 2>&1
check "-j 1 and -j 4 give the same bytes" cmp -s "$T/j1.manifest" "$T/j4.manifest"
finish

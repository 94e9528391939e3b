#!/usr/bin/env bash
# `vrift status`: the store's totals, each registered project's files, unique and shared blobs
# (checked against an independent count with b3sum and stat), orphans, stale and unreadable
# projects, the table (ASCII when piped, box drawing on a UTF-8 terminal) and a corrupt registry.
source "$(dirname "$0")/lib.sh"

# js JSON EXPR: evaluates a Python expression over the parsed JSON `j` and prints the result.
js() { python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }

# oracle DIR...: per project (in order) "files unique shared unique_bytes", computed from the
# trees with b3sum and stat: a blob is (hash, size), owned by the first project that has it.
oracle() {
  python3 - "$@" <<'EOF'
import os, subprocess, sys
seen = set()
for d in sys.argv[1:]:
    paths = []
    for base, _, names in os.walk(d):
        paths += [os.path.join(base, n) for n in names
                  if os.path.isfile(os.path.join(base, n)) and not os.path.islink(os.path.join(base, n))]
    out = subprocess.run(["b3sum", "--no-names"] + paths, capture_output=True, text=True,
                         check=True).stdout.split()
    mine = {(h, os.path.getsize(p)) for h, p in zip(out, paths)}
    new = mine - seen
    print(len(paths), len(new), len(mine) - len(new), sum(s for _, s in new))
    seen |= mine
EOF
}
# got JSON: the same four figures per project, from `vrift status --json`.
got() {
  js "$1" '"\n".join("%s %s %s %s" % (p["files"], p["unique_blobs"], p["shared_blobs"], p["unique_bytes"]) for p in j["projects"])'
}
status_json() { "$VRIFT" status --json 2>/dev/null; }

# --- No store, no registry yet: zeros, exit 0, nothing created.
out=$("$VRIFT" status 2>&1); rc=$?
check_eq "status without a store exits 0" 0 "$rc"
check_contains "status says there is no store yet" "no store yet" "$out"
check_contains "status names the store's location" "CAS Location: $VR_THE_SOURCE" "$out"
check_contains "status without projects says so" "Registered Projects: none" "$out"
check "status creates no store" test ! -e "$VR_THE_SOURCE"
check "status creates no registry" test ! -e "$HOME/.vrift/registry.db"
j=$(status_json)
check_eq "json without a store: zero blobs, no projects" "0 0 0 False" \
  "$(js "$j" 'j["total_blobs"], j["total_bytes"], len(j["projects"]), j["store_exists"]' | tr -d '(),')"

# --- Three projects with known overlap, ingested in order p1, p2, p3.
mkdir -p "$T/p1/lib" "$T/p2/sub/deep" "$T/p3"
for i in $(seq 1 10); do printf 'content %s %0*d\n' "$i" "$i" 0 > "$T/p1/lib/u$i.js"; done
cp "$T/p1/lib/u1.js" "$T/p1/dup-of-u1.js"            # same content twice in one project
: > "$T/p1/empty"                                    # an empty file is a blob too
ln -s lib/u2.js "$T/p1/link"                         # symlinks are not files
for i in 1 2 3 4; do cp "$T/p1/lib/u$i.js" "$T/p2/sub/shared$i.js"; done
for i in $(seq 1 6); do printf 'p2 only %s\n' "$i" > "$T/p2/sub/deep/n$i.txt"; done
cp "$T/p1/lib/u5.js" "$T/p3/a"; cp "$T/p1/lib/u6.js" "$T/p3/b"
cp "$T/p2/sub/deep/n1.txt" "$T/p3/c"; cp "$T/p2/sub/deep/n2.txt" "$T/p3/d"
printf 'p3 own\n' > "$T/p3/e"; cp "$T/p3/e" "$T/p3/f"; printf 'p3 other\n' > "$T/p3/g"
for p in p1 p2 p3; do
  "$VRIFT" ingest "$T/$p" -o "$T/$p.manifest" >/dev/null 2>&1 || not_ok "ingest $p"
done
expected=$(oracle "$T/p1" "$T/p2" "$T/p3")
j=$(status_json)
check_eq "files, unique, shared and unique bytes per project match b3sum" "$expected" "$(got "$j")"
check_eq "the figures are the designed ones" "12 11 0;10 6 4;7 2 4" \
  "$(got "$j" | cut -d' ' -f1-3 | paste -sd';')"
check_eq "projects in registration order, named by their root" "p1 p2 p3" \
  "$(js "$j" '" ".join(p["name"] for p in j["projects"])')"
check_eq "json carries root and manifest" "$T/p2 $T/p2.manifest" \
  "$(js "$j" 'j["projects"][1]["root"] + " " + j["projects"][1]["manifest"]')"
check_eq "total blobs = files in the store" "$(blob_count)" "$(js "$j" 'j["total_blobs"]')"
check_eq "total bytes = sum of blob sizes" \
  "$(find "$VR_THE_SOURCE/blake3" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')" \
  "$(js "$j" 'j["total_bytes"]')"
check_eq "no orphans, nothing stale" "0 0 False" \
  "$(js "$j" 'j["orphaned_blobs"], j["orphaned_bytes"], any(p["stale"] for p in j["projects"])' | tr -d '(),')"

# --- Text output: piped => ASCII table, "+" on every Size after the first, the guide's wording.
out=$("$VRIFT" status)
p1b=$(js "$j" 'j["projects"][0]["unique_bytes"]'); p2b=$(js "$j" 'j["projects"][1]["unique_bytes"]')
check_contains "text starts with the title" "VRift CAS Status:" "$(head -1 <<<"$out")"
check_contains "text shows the blob count" "Total Blobs:  $(blob_count)" "$out"
check_contains "table header" "| Project | Files | Unique Blobs | Shared | Size" "$out"
check "first project's Size has no +" grep -Eq "^  \| p1 +\| 12 +\| 11 +\| 0 +\| $p1b B +\|$" <<<"$out"
check "second project's Size has a +" grep -Eq "^  \| p2 +\| 10 +\| 6 +\| 4 +\| \+$p2b B +\|$" <<<"$out"
check "piped output has no box drawing" bash -c '! grep -qF -e "─" -e "│" -e "┌" <<<"$1"' _ "$out"
check_contains "orphan line as in the guide" 'Orphaned Blobs: 0 (run `vrift gc` to check)' "$out"
if command -v script >/dev/null; then
  tty_out=$(LANG=C.UTF-8 LC_ALL=C.UTF-8 script -qec "$VRIFT status" /dev/null)
  check_contains "UTF-8 terminal: box drawing" "┌" "$tty_out"
  check "UTF-8 terminal: rows drawn with │" grep -q "│ p2 *│ 10 *│ 6 *│ 4 *│ +$p2b B *│" <<<"$tty_out"
  tty_out=$(LANG=C LC_ALL=C script -qec "$VRIFT status" /dev/null)
  check "non-UTF-8 terminal: ASCII" bash -c '! grep -qF "┌" <<<"$1" && grep -q "^  +-" <<<"$1"' _ "$tty_out"
else
  echo "skip - box drawing checks (no \`script\`)"
fi

# --- Thousands separators: a project of 1,234 files.
mkdir -p "$T/big"
for i in $(seq 1 1234); do echo "big $i"; done | split -l 1 -a 4 - "$T/big/f"
"$VRIFT" ingest "$T/big" -o "$T/big.manifest" >/dev/null 2>&1 || not_ok "ingest big"
out=$("$VRIFT" status)
check "1,234 files shown with a separator" grep -Eq "^  \| big +\| 1,234 +\| 1,234 +\| 0 +\| \+" <<<"$out"
check_contains "total blobs with a separator" "Total Blobs:  $(blob_count | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta')" "$out"

# --- Same basename, different parents: told apart by the parent directory.
mkdir -p "$T/x/node_modules" "$T/y/node_modules"
echo x-only > "$T/x/node_modules/x"; echo y-only > "$T/y/node_modules/y"
"$VRIFT" ingest "$T/x/node_modules" -o "$T/x.manifest" >/dev/null 2>&1
"$VRIFT" ingest "$T/y/node_modules" -o "$T/y.manifest" >/dev/null 2>&1
check_eq "same basenames get their parent" "x/node_modules y/node_modules" \
  "$(js "$(status_json)" '" ".join(p["name"] for p in j["projects"][-2:])')"

# --- Orphans: a re-ingest after a file was replaced leaves the old content unreferenced.
mkdir -p "$T/o"
printf 'orphan-to-be: 25 bytes..\n' > "$T/o/will-change"; printf 'stays\n' > "$T/o/stays"
"$VRIFT" ingest "$T/o" -o "$T/o.manifest" >/dev/null 2>&1
check_eq "no orphan before the change" 0 "$(js "$(status_json)" 'j["orphaned_blobs"]')"
rm "$T/o/will-change"; printf 'new content\n' > "$T/o/will-change"
"$VRIFT" ingest "$T/o" -o "$T/o.manifest" >/dev/null 2>&1
j=$(status_json)
check_eq "one orphaned blob of 25 bytes" "1 25" "$(js "$j" 'j["orphaned_blobs"], j["orphaned_bytes"]' | tr -d '(),')"
out=$("$VRIFT" status)
check_contains "text shows the orphan and how to remove it" "Orphaned Blobs: 1 (25 B; run \`vrift gc --delete\` to remove)" "$out"

# --- Stale: the project's directory is gone.
rm -rf "$T/p3"
j=$(status_json)
check_eq "p3 is stale, p1 is not" "True False" "$(js "$j" 'j["projects"][2]["stale"], j["projects"][0]["stale"]' | tr -d '(),')"
check_eq "a stale project's figures are still counted" "7 2 4" "$(js "$j" '"%s %s %s" % (j["projects"][2]["files"], j["projects"][2]["unique_blobs"], j["projects"][2]["shared_blobs"])')"
out=$("$VRIFT" status)
check_contains "text marks the stale project" "p3 (stale)" "$out"
check_contains "text says how to prune it" "gc --prune-stale" "$out"

# --- Unreadable manifest (vrift's copy and the user's file both damaged): "?" cells, a warning.
copy=$VR_THE_SOURCE/manifests/$(printf '%s' "$T/p2.manifest" | b3sum --no-names | cut -c1-32).manifest
if [ -f "$copy" ]; then
  chmod u+w "$copy"; echo garbage > "$copy"; echo garbage > "$T/p2.manifest"
  j=$(status_json); rc=$?
  check_eq "status with an unreadable manifest still exits 0" 0 "$rc"
  check_eq "json: error set, figures null" "True None" \
    "$(js "$j" 'bool(j["projects"][1]["error"]), j["projects"][1]["files"]' | tr -d '(),')"
  check_eq "json: orphan count is not exact" False "$(js "$j" 'j["orphans_exact"]')"
  out=$("$VRIFT" status)
  check "text: ? cells" grep -Eq '^  \| p2 +\| \? +\| \? +\| \? +\| \? +\|$' <<<"$out"
  check_contains "text: a warning below the table" "Warning: cannot read the manifest of p2" "$out"
  "$VRIFT" ingest "$T/p2" -o "$T/p2.manifest" >/dev/null 2>&1
  check_eq "re-ingest repairs it" 10 "$(js "$(status_json)" 'j["projects"][1]["files"]')"
else
  not_ok "manifest copy not found at $copy"
fi

# --- Corrupt registry: one line, exit 1, how to rebuild.
printf 'this is not a database, not at all; %0200d\n' 0 > "$HOME/.vrift/registry.db"
rm -f "$HOME/.vrift/registry.db-wal" "$HOME/.vrift/registry.db-shm"
expect_fail "corrupt registry: exit 1 with the rebuild hint" 1 "registry --rebuild" "$VRIFT" status
check_eq "corrupt registry: the error is one line" 1 "$("$VRIFT" status 2>&1 >/dev/null | wc -l)"
expect_fail "corrupt registry (--json): exit 1" 1 "registry --rebuild" "$VRIFT" status --json

finish

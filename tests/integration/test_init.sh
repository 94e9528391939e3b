#!/usr/bin/env bash
# `vrift init`: what it detects and says, the vrift.toml it writes (and keeps on a re-run), the
# filters the ingest applies (ignored paths absent from the manifest, tier1 subtrees read-only and
# linked, tier2 files untouched), and its one-line errors.
source "$(dirname "$0")/lib.sh"

# paths_of MANIFEST: every entry path, one per line (from `vrift manifest show --json`).
paths_of() {
  "$VRIFT" manifest show --json "$1" | python3 -c '
import json, sys
for e in json.load(sys.stdin)["entries"]:
    print(e["path"])'
}
# (grep without -q: reading to the end spares python a SIGPIPE, which pipefail would count.)
in_manifest() { paths_of "$1" | grep -xF -- "$2" >/dev/null; }
not_in_manifest() { ! in_manifest "$1" "$2"; }
jget() { python3 -c 'import json,sys; d=json.loads(sys.argv[1])
for k in sys.argv[2].split("."): d=d[k]
print(json.dumps(d) if isinstance(d,(list,dict,bool)) else d)' "$1" "$2"; }
links() { stat -c %h "$1"; }

# --- npm: node_modules/ is tier1, its .cache/ is ignored, the sources stay untouched.
P="$T/npm"
mkdir -p "$P/src" "$P/node_modules/left-pad/lib" "$P/node_modules/.cache/babel"
echo '{"name": "web"}' > "$P/package.json"
for i in $(seq 1 20); do echo "export const a$i = $i;" > "$P/src/a$i.js"; done
echo 'module.exports = 1;' > "$P/node_modules/left-pad/index.js"
echo '{"name": "left-pad"}' > "$P/node_modules/left-pad/package.json"
echo 'exports.u = 1;' > "$P/node_modules/left-pad/lib/util.js"
echo 'cache' > "$P/node_modules/.cache/babel/c.json"
ino_before=$(stat -c %i "$P/src/a1.js")
out=$("$VRIFT" init "$P" 2>&1); rc=$?
check_eq "init of an npm project succeeds" 0 "$rc"
check_contains "says what it detected" \
  "npm project (package.json): node_modules/ will be tier1; node_modules/.cache/ ignored" "$out"
check_contains "says it wrote vrift.toml" "Wrote $P/vrift.toml" "$out"
check_contains "prints the ingest summary" "Ingested $P -> $P/vrift.manifest" "$out"
check_contains "and how many files are tier1" "Tier1:      3 files" "$out"
toml=$(cat "$P/vrift.toml" 2>/dev/null)
check_contains "vrift.toml: kinds" 'kinds = ["npm"]' "$toml"
check_contains "vrift.toml: ignore" 'ignore = ["node_modules/.cache/"]' "$toml"
check_contains "vrift.toml: tier1" 'tier1 = ["node_modules/"]' "$toml"
check_contains "vrift.toml: mode" 'mode = "solid"' "$toml"
check_contains "vrift.toml: security filter" 'security_filter = true' "$toml"
check_contains "vrift.toml: manifest" 'manifest = "vrift.manifest"' "$toml"
M="$P/vrift.manifest"
check "the manifest exists" test -f "$M"
check "sources are in the manifest" in_manifest "$M" src/a7.js
check "node_modules is in the manifest" in_manifest "$M" node_modules/left-pad/lib/util.js
check "the ignored cache is not" not_in_manifest "$M" node_modules/.cache
check "nor anything below it" not_in_manifest "$M" node_modules/.cache/babel/c.json
check "vrift.toml itself is part of the project" in_manifest "$M" vrift.toml
check_eq "tier1 files are read-only" 444 "$(stat -c %a "$P/node_modules/left-pad/index.js")"
check_eq "tier1 files share their inode with the store" 2 "$(links "$P/node_modules/left-pad/index.js")"
check_eq "tier2 files keep their mode" 644 "$(stat -c %a "$P/src/a1.js")"
check_eq "tier2 files keep their inode" "$ino_before" "$(stat -c %i "$P/src/a1.js")"
check_eq "ignored files are untouched" "644 1" "$(stat -c '%a %h' "$P/node_modules/.cache/babel/c.json")"
check "store is sound" store_is_sound
gc=$("$VRIFT" gc 2>&1)
check "gc keeps the project's blobs (registered)" grep -Eq 'Orphaned: +0 ' <<<"$gc"

# --- A re-run keeps a hand-edited vrift.toml and applies it; the re-ingest cache makes it cheap.
cat > "$P/vrift.toml" <<'EOF'
# mine
[ingest]
ignore = ["node_modules/.cache/", "src/a1.js"]
tier1 = ["node_modules/"]
EOF
sum=$(b3sum --no-names "$P/vrift.toml")
out=$("$VRIFT" init "$P" 2>&1); rc=$?
check_eq "a second init succeeds" 0 "$rc"
check_contains "says it kept the file" "Kept $P/vrift.toml" "$out"
check_eq "and did not touch it" "$sum" "$(b3sum --no-names "$P/vrift.toml")"
check "the user's ignore applies" not_in_manifest "$M" src/a1.js
js=$("$VRIFT" init --json "$P" 2>/dev/null)
check_eq "json: config kept" false "$(jget "$js" config.written)"
check_eq "json: kinds" '["npm"]' "$(jget "$js" detected.kinds)"
check_eq "an unchanged re-run reads no file again" "$(jget "$js" ingest.files)" "$(jget "$js" ingest.cached)"
check_eq "and stores nothing new" 0 "$(jget "$js" ingest.new_blobs)"
out=$(cd "$P" && "$VRIFT" init --force 2>&1)
check_contains "--force rewrites it (DIR defaults to .)" "Wrote $P/vrift.toml" "$out"
check_contains "from detection" 'ignore = ["node_modules/.cache/"]' "$(cat "$P/vrift.toml")"
check "src/a1.js is back" in_manifest "$M" src/a1.js

# --- A bad vrift.toml: one line naming the file, line and key; exit 1; nothing rewritten.
printf '[ingest]\nmode = "fast"\n' > "$P/vrift.toml"
expect_fail "a bad value" 1 "vrift.toml' line 2: ingest.mode: expected \"solid\" or \"phantom\", got \"fast\"" \
  "$VRIFT" init "$P"
err=$("$VRIFT" init "$P" 2>&1 >/dev/null)
check_eq "one error line (and a hint)" 1 "$(grep -c '^vrift: error:' <<<"$err")"
check_eq "no more than a hint besides" 2 "$(wc -l <<<"$err")"
check_eq "the bad file is kept" 'mode = "fast"' "$(tail -1 "$P/vrift.toml")"
printf '[ingest]\nignroe = []\n' > "$P/vrift.toml"
expect_fail "an unknown key" 1 "ingest.ignroe: unknown key" "$VRIFT" init "$P"
printf '[ingest\n' > "$P/vrift.toml"
expect_fail "a syntax error" 1 "vrift.toml' line 1" "$VRIFT" init "$P"
printf '[ingest]\nignore = ["!keep"]\n' > "$P/vrift.toml"
expect_fail "an unsupported pattern" 1 "ingest.ignore[0]: '!keep': negation" "$VRIFT" init "$P"
check "--force repairs it" "$VRIFT" init --force "$P" -v

# --- cargo: target/ at the root is ignored, a source directory called target is not.
C="$T/cargo"
mkdir -p "$C/src/target" "$C/target/debug/deps"
printf '[package]\nname = "c"\n' > "$C/Cargo.toml"
echo 'fn main() {}' > "$C/src/main.rs"
echo 'pub fn t() {}' > "$C/src/target/mod.rs"
head -c 4096 /dev/urandom > "$C/target/debug/c"
echo x > "$C/target/debug/deps/c.d"
out=$("$VRIFT" init "$C" 2>&1)
check_contains "cargo detection" "cargo project (Cargo.toml): /target/ ignored" "$out"
check "target/ is not in the manifest" not_in_manifest "$C/vrift.manifest" target
check "src/target/ is" in_manifest "$C/vrift.manifest" src/target/mod.rs
check_eq "cargo sources stay tier2" 644 "$(stat -c %a "$C/src/main.rs")"

# --- pip: .venv/ is tier1 (it exists), __pycache__/ and *.pyc are ignored everywhere.
Y="$T/pip"
mkdir -p "$Y/app/__pycache__" "$Y/.venv/lib/python3/site-packages/pkg/__pycache__" "$Y/.venv/bin"
printf '[project]\nname = "y"\n' > "$Y/pyproject.toml"
echo 'requests' > "$Y/requirements.txt"
echo 'print(1)' > "$Y/app/main.py"
echo 'x' > "$Y/app/__pycache__/main.cpython-311.pyc"
echo 'x' > "$Y/app/old.pyc"
echo 'VALUE = 1' > "$Y/.venv/lib/python3/site-packages/pkg/__init__.py"
echo 'x' > "$Y/.venv/lib/python3/site-packages/pkg/__pycache__/__init__.cpython-311.pyc"
echo 'home = /usr/bin' > "$Y/.venv/pyvenv.cfg"
ln -s /usr/bin/python3 "$Y/.venv/bin/python"
ino_before=$(stat -c %i "$Y/app/main.py")
out=$("$VRIFT" init "$Y" 2>&1)
check_contains "pip detection names every marker" \
  "pip project (pyproject.toml, requirements.txt): /.venv/ will be tier1; __pycache__/, *.pyc" "$out"
check_contains "vrift.toml: .venv tier1" 'tier1 = ["/.venv/"]' "$(cat "$Y/vrift.toml")"
YM="$Y/vrift.manifest"
check "__pycache__ is not in the manifest" not_in_manifest "$YM" app/__pycache__
check "*.pyc is not" not_in_manifest "$YM" app/old.pyc
check "nor the venv's __pycache__" not_in_manifest "$YM" .venv/lib/python3/site-packages/pkg/__pycache__
check "the venv is" in_manifest "$YM" .venv/lib/python3/site-packages/pkg/__init__.py
check "with its links" in_manifest "$YM" .venv/bin/python
check_eq "venv files are tier1" 444 "$(stat -c %a "$Y/.venv/lib/python3/site-packages/pkg/__init__.py")"
check_eq "sources stay tier2" "644 $ino_before" "$(stat -c '%a %i' "$Y/app/main.py")"

# --- No marker: a generic project, said so; still works.
G="$T/plain"
mkdir -p "$G/notes"
echo hello > "$G/notes/a.txt"
out=$("$VRIFT" init "$G" 2>&1); rc=$?
check_eq "a generic project succeeds" 0 "$rc"
check_contains "says it is generic" "No project marker in $G" "$out"
check_contains "with no kinds" 'kinds = []' "$(cat "$G/vrift.toml")"
check "and ingests it" in_manifest "$G/vrift.manifest" notes/a.txt
js=$("$VRIFT" init --json "$G" 2>/dev/null)
check_eq "json: generic" true "$(jget "$js" generic)"
check_eq "json: nothing but JSON on stdout" 1 "$(python3 -c 'import json,sys; json.loads(sys.argv[1]); print(1)' "$js")"

# --- Errors on DIR: one line, exit 1.
expect_fail "a missing directory" 1 "No such file or directory" "$VRIFT" init "$T/missing"
expect_fail "a file" 1 "not a directory" "$VRIFT" init "$G/notes/a.txt"
if [ "$(id -u)" -ne 0 ]; then
  mkdir -p "$T/closed" && chmod 000 "$T/closed"
  expect_fail "an unreadable directory" 1 "Permission denied" "$VRIFT" init "$T/closed"
  chmod 755 "$T/closed"
fi
expect_fail "an unknown option is a usage error" 2 "--frobnicate" "$VRIFT" init --frobnicate "$G"
finish

#!/usr/bin/env bash
# `vrift doctor`: every check finds the damage it exists for (and exits 1 only for errors), the
# recommendations it prints actually repair the store, and --json agrees with the text report.
source "$(dirname "$0")/lib.sh"

W="$T/w"       # projects of the current case
MNT="$T/mnt"   # tmpfs for the "other filesystem" case
trap 'mountpoint -q "$MNT" && umount "$MNT"; cleanup' EXIT

fresh() {  # a new, empty store and registry; no projects
  rm -rf "$VR_THE_SOURCE" "$HOME/.vrift" "$W"
  mkdir -p "$W"
}
mk_proj() {  # mk_proj DIR SEED COUNT: COUNT small files with distinct contents
  mkdir -p "$1/src"
  local i
  for i in $(seq 1 "$3"); do printf 'file %s of %s\n' "$i" "$2" > "$1/src/f$i.txt"; done
}
ingest() { "$VRIFT" ingest "$@" >/dev/null 2>&1; }
# doctor ARGS...: runs doctor, leaves its stdout+stderr in $out and its exit code in $rc.
doctor() { out=$("$VRIFT" doctor "$@" 2>&1); rc=$?; }
# jstatus JSON NAME: the status of check NAME ("absent" when there is no such check).
jstatus() {
  python3 -c 'import json, sys
print(next((c["status"] for c in json.loads(sys.argv[1])["checks"] if c["name"] == sys.argv[2]), "absent"))' "$1" "$2"
}
# jstatuses JSON: the distinct statuses of all checks, sorted.
jstatuses() {
  python3 -c 'import json, sys; print(" ".join(sorted({c["status"] for c in json.loads(sys.argv[1])["checks"]})))' "$1"
}
lacks() { [[ "$2" != *"$1"* ]]; }  # lacks NEEDLE HAYSTACK
blob_of_hash() { find "$VR_THE_SOURCE/blake3" -name "${1}_*"; }
blob_of_file() { blob_of_hash "$(b3sum --no-names "$1")"; }
corrupt() {  # corrupt BLOB: change its first byte, keeping size and mode
  chmod u+w "$1"
  printf 'X' | dd of="$1" bs=1 seek=0 conv=notrunc status=none
  chmod 0444 "$1"
}

# --- No store yet: a warning, not an error.
fresh
doctor
check_eq "no store yet: exit 0" 0 "$rc"
check_contains "no store yet: said so" "does not exist yet" "$out"
check_contains "no store yet: a warning" "[warn]  Store:" "$out"

# --- Healthy store: two small projects, every check ok.
mk_proj "$W/a" a 5; mk_proj "$W/b" b 5
ingest "$W/a" -o "$W/a.manifest"; ingest "$W/b" -o "$W/b.manifest"
doctor
check_eq "healthy: exit 0" 0 "$rc"
check_contains "healthy: registry counts both manifests" "[ok]    Registry: valid (2 manifests)" "$out"
check_contains "healthy: lock" "[ok]    Lock: not held" "$out"
check_contains "healthy: sample covers a small store" "verified all 10 blobs" "$out"
check_contains "healthy: nothing to recommend" "No problems found." "$out"
js=$("$VRIFT" doctor --json 2>/dev/null)
check_eq "healthy: every JSON status is ok" "ok" "$(jstatuses "$js")"
check_eq "healthy: JSON counts" "0 0" "$(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(j["errors"], j["warnings"])' "$js")"
if script -qc true /dev/null >/dev/null 2>&1; then
  tty_out=$(LC_ALL=C.UTF-8 script -qc "'$VRIFT' doctor" /dev/null)
  check_contains "on a UTF-8 terminal the marks are emoji" "✅ Registry:" "$tty_out"
fi
no_emoji() { [[ "$out" != *'✅'* && "$out" == *"[ok]    Lock:"* ]]; }
check "without a terminal the marks are ASCII" no_emoji

# --- A corrupt owned blob is named, with the projects using it; the advice repairs the store.
fresh
mk_proj "$W/s" s 5; mk_proj "$W/p" s 5          # same contents: a solid and a phantom project
h=$(b3sum --no-names "$W/s/src/f3.txt")
ingest "$W/s" -o "$W/s.manifest"
ingest "$W/p" --mode phantom -o "$W/p.manifest"  # makes every blob owned (0444, one link)
blob=$(blob_of_hash "$h")
check_eq "phantom blob is owned" "444 1" "$(stat -c '%a %h' "$blob")"
corrupt "$blob"
doctor
check_eq "corrupt blob: exit 1" 1 "$rc"
check_contains "corrupt blob: named by hash prefix" "${h:0:16}" "$out"
check_contains "corrupt blob: the projects using it are named" "referenced by $W/s, $W/p" "$out"
check_contains "corrupt blob: recommends removing it" "rm -f $blob" "$out"
check_contains "corrupt blob: recommends re-ingesting the solid project" "vrift ingest $W/s -o $W/s.manifest --force-hash" "$out"
rm -f "$blob"
ingest "$W/s" -o "$W/s.manifest" --force-hash
doctor
check_eq "following the advice repairs the store" 0 "$rc"
check "and the store is sound" store_is_sound

# --- --verify re-hashes everything: a store of 400 blobs, where the default samples 256.
fresh
mk_proj "$W/big" big 400
h=$(b3sum --no-names "$W/big/src/f217.txt")
ingest "$W/big" --mode phantom -o "$W/big.manifest"
check_eq "400 blobs stored" 400 "$(blob_count)"
corrupt "$(blob_of_hash "$h")"
doctor
check_contains "default run samples 256 of 400" "verified 256 of 400 blobs" "$out"
doctor --verify
check_eq "--verify: exit 1" 1 "$rc"
check_contains "--verify: re-hashed all" "verified all 400 blobs" "$out"
check_contains "--verify: finds the corrupt blob" "${h:0:16}" "$out"

# --- A referenced blob deleted from the store: error, and re-ingest restores it.
fresh
mk_proj "$W/a" a 5
ingest "$W/a" -o "$W/a.manifest"
rm -f "$(blob_of_file "$W/a/src/f2.txt")"
doctor
check_eq "missing blob: exit 1" 1 "$rc"
check_contains "missing blob: reported" "1 blob referenced by $W/a is missing" "$out"
js=$("$VRIFT" doctor --json 2>/dev/null)
check_eq "missing blob: JSON error" "error" "$(jstatus "$js" "Missing blobs")"
ingest "$W/a" -o "$W/a.manifest" --force-hash
doctor
check_eq "missing blob: the recommended re-ingest restores it" 0 "$rc"

# --- The store deleted while manifests are still registered for it: an error.
mv "$VR_THE_SOURCE" "$T/store.moved"
doctor
check_eq "store gone: exit 1" 1 "$rc"
check_contains "store gone: error" "does not exist, but 1 manifest is registered for it" "$out"
mv "$T/store.moved" "$VR_THE_SOURCE"

# --- A garbage registry: an error line and exit 1, never a crash.
head -c 8192 /dev/urandom > "$HOME/.vrift/registry.db"
rm -f "$HOME/.vrift/registry.db-wal" "$HOME/.vrift/registry.db-shm"
doctor
check_eq "corrupt registry: exit 1 (no crash)" 1 "$rc"
check_contains "corrupt registry: error line" "[error] Registry: corrupt" "$out"
check_contains "corrupt registry: recommends a rebuild" "vrift registry --rebuild" "$out"
js=$("$VRIFT" doctor --json 2>/dev/null)
check_eq "corrupt registry: JSON error" "error" "$(jstatus "$js" "Registry")"

# --- A deleted project: a stale manifest is a warning.
fresh
mk_proj "$W/a" a 5; mk_proj "$W/b" b 5
ingest "$W/a" -o "$W/a.manifest"; ingest "$W/b" -o "$W/b.manifest"
rm -rf "$W/b"
doctor
check_eq "stale project: exit 0" 0 "$rc"
check_contains "stale project: warning" "[warn]  Stale manifests: 1" "$out"
check_contains "stale project: names it" "$W/b: directory gone" "$out"
check_contains "stale project: recommends pruning" "vrift gc --prune-stale" "$out"

# --- A registered manifest that cannot be loaded (vrift's copy and the user's file damaged).
fresh
mk_proj "$W/a" a 3
ingest "$W/a" -o "$W/a.manifest"
for m in "$W/a.manifest" "$VR_THE_SOURCE"/manifests/*.manifest; do
  chmod u+w "$m"; echo garbage > "$m"
done
doctor
check_eq "unloadable manifest: exit 1" 1 "$rc"
check_contains "unloadable manifest: error" "[error] Manifests: 1 registered manifest cannot be loaded" "$out"
check_contains "unloadable manifest: names the project" "$W/a: loading manifest" "$out"

# --- An owned blob made writable: permissions error.
fresh
mk_proj "$W/p" p 5
h=$(b3sum --no-names "$W/p/src/f1.txt")
ingest "$W/p" --mode phantom -o "$W/p.manifest"
chmod 644 "$(blob_of_hash "$h")"
doctor
check_eq "writable owned blob: exit 1" 1 "$rc"
check_contains "writable owned blob: permissions error" "[error] CAS permissions: 1 owned blob is writable" "$out"
check_contains "writable owned blob: named" "writable: $(blob_of_hash "$h")" "$out"

# --- A store directory that is not the user's own: named, with the chown that repairs it, by
# user name (vrift is linked statically: the name comes from /etc/passwd, not from NSS).
if [ "$(id -u)" -eq 0 ]; then
  fresh
  mk_proj "$W/p" p 3
  ingest "$W/p" -o "$W/p.manifest"
  h=$(b3sum --no-names "$W/p/src/f1.txt")
  shard=$(dirname "$(blob_of_hash "$h")")
  chown 4242 "$shard"
  doctor
  check_eq "foreign store directory: exit 1" 1 "$rc"
  check_contains "foreign store directory: named" "directory: $shard" "$out"
  me=$(id -un)
  check_contains "foreign store directory: chown to the user by name" "chown -h $me $shard" "$out"
  chown "$(id -u)" "$shard"
else
  echo "skip - foreign store directory (needs root to chown)"
fi

# --- Lock held by another process: a warning.
fresh
mk_proj "$W/a" a 3
ingest "$W/a" -o "$W/a.manifest"
flock "$VR_THE_SOURCE/lock" sleep 3 &
holder=$!
for _ in $(seq 1 50); do flock -n "$VR_THE_SOURCE/lock" true || break; sleep 0.05; done
doctor
check_eq "lock held: exit 0" 0 "$rc"
check_contains "lock held: warning" "[warn]  Lock: held (an ingest or gc is running)" "$out"
wait "$holder"
doctor
check_contains "lock released: not held" "[ok]    Lock: not held" "$out"

# --- A project on another filesystem than the store: a warning.
if [ "$(id -u)" -eq 0 ]; then
  fresh
  mkdir -p "$MNT"
  if mount -t tmpfs -o size=8m tmpfs "$MNT"; then
    mk_proj "$MNT/proj" t 3
    ingest "$MNT/proj" -o "$MNT/proj.manifest"
    doctor
    check_eq "other filesystem: exit 0" 0 "$rc"
    check_contains "other filesystem: warning" "[warn]  Filesystem: store and project $MNT/proj are on different filesystems" "$out"
    check_contains "other filesystem: recommends moving the store" "VR_THE_SOURCE=$MNT/.vrift-store" "$out"
    umount "$MNT"
  else
    not_ok "mounting a tmpfs as root"
  fi
else
  echo "skip - other filesystem (needs root to mount a tmpfs)"
fi

# --- An in-place edit of a linked file: found by the default run, then quarantined by ingest.
fresh
mk_proj "$W/a" q 8; mk_proj "$W/b" q 8
ingest "$W/a" -o "$W/a.manifest"
edited=""
for f in "$W"/a/src/*.txt; do  # a file whose inode the store shares (a linked blob)
  [ "$(stat -c %i "$f")" == "$(stat -c %i "$(blob_of_file "$f")")" ] && { edited=$f; break; }
done
check "a linked blob exists" test -n "$edited"
if [ -n "$edited" ]; then
  h=$(b3sum --no-names "$edited")
  echo x >> "$edited"
  doctor
  check_eq "edited linked file: exit 1" 1 "$rc"
  check_contains "edited linked file: its blob is named" "${h:0:16}" "$out"
  ingest "$W/b" -o "$W/b.manifest"     # same original content: quarantines the edited blob
  doctor
  check_eq "quarantine: exit 0" 0 "$rc"
  check_contains "quarantine: warning" "[warn]  Quarantine: 1 blob quarantined (edited after ingest)" "$out"
  check_contains "quarantine: names the edited file" "edited in place as $edited" "$out"
  check_contains "quarantine: recommends re-ingesting the edited project" "vrift ingest $W/a -o $W/a.manifest" "$out"
  check "quarantine: not the untouched one" lacks "vrift ingest $W/b " "$out"
fi

# --- A blob close to ext4's limit of 65,000 links per inode: a warning.
fresh
mk_proj "$W/a" a 2
ingest "$W/a" -o "$W/a.manifest"
mkdir -p "$W/links"
python3 -c 'import os, sys
for i in range(60001): os.link(sys.argv[1], "%s/%d" % (sys.argv[2], i))' "$(blob_of_file "$W/a/src/f1.txt")" "$W/links"
doctor
check_eq "many links: exit 0" 0 "$rc"
check_contains "many links: warning" "[warn]  Hard links: 1 blob has more than 60,000 links" "$out"
rm -rf "$W/links"

# --- Leftover temp files and stray entries in blake3/: warnings.
fresh
mk_proj "$W/a" a 3
ingest "$W/a" -o "$W/a.manifest"
touch -d '2 hours ago' "$VR_THE_SOURCE/tmp/123.abcd.0.tmp"
touch "$VR_THE_SOURCE/tmp/456.abcd.0.tmp"
shard=$(dirname "$(blob_of_file "$W/a/src/f1.txt")")
touch "$shard/stray.tmp"
doctor
check_eq "leftovers: exit 0" 0 "$rc"
check_contains "old temp file: warning" "[warn]  Temp files: 1 file older than an hour" "$out"
check_contains "stray entry: warning" "stray: $shard/stray.tmp" "$out"

# --- --json: parses, and its counts match the checks and the text report.
rm -rf "$W/a"            # stale: a warning
chmod 0555 "$shard"      # a shard directory without owner write: an error
js=$("$VRIFT" doctor --json 2>/dev/null); jrc=$?
counts=$(python3 -c 'import json, sys
j = json.loads(sys.argv[1])
for c in j["checks"]:
    assert set(c) >= {"name", "status", "message", "recommendation"}, c
    assert c["status"] in ("ok", "warning", "error"), c
e = sum(c["status"] == "error" for c in j["checks"])
w = sum(c["status"] == "warning" for c in j["checks"])
assert (e, w) == (j["errors"], j["warnings"]), (e, w, j["errors"], j["warnings"])
print(e, w)' "$js")
check "--json parses and its counts match its checks" test -n "$counts"
doctor
read -r e w <<< "$counts"
check_contains "--json counts match the text report" "$e error$([ "$e" = 1 ] || echo s), $w warning$([ "$w" = 1 ] || echo s)" "$out"
check_eq "--json exit code follows errors" "$([ "${e:-0}" -gt 0 ] && echo 1 || echo 0)" "$jrc"

finish

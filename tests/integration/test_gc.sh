#!/usr/bin/env bash
# gc: dry run by default, --delete, --older-than, --prune-stale, and never deleting what a
# registered manifest or an in-flight ingest references (an ingest and a gc racing in a loop).
source "$(dirname "$0")/lib.sh"

mk() { mkdir -p "$1"; for i in $(seq 1 "$3"); do printf '%s file %s\n' "$2" "$i" > "$1/f$i"; done; }
jget() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

mk "$T/a" a 10
mk "$T/b" b 5
"$VRIFT" ingest "$T/a" -o "$T/a.manifest" >/dev/null 2>&1
"$VRIFT" ingest "$T/b" -o "$T/b.manifest" >/dev/null 2>&1
j=$("$VRIFT" gc --json)
check_eq "nothing orphaned after ingest" 0 "$(jget "$j" orphans)"
check_eq "15 blobs referenced" 15 "$(jget "$j" referenced)"

# Replace 3 files of a (new inodes, as editors and package managers do) and re-ingest: their
# old contents are then only in the store, as orphans. (An in-place write would have changed
# the shared inode itself; that case is test_ingest_modes.sh's.)
for i in 1 2 3; do printf 'changed %s\n' "$i" > "$T/a/f$i.new" && mv "$T/a/f$i.new" "$T/a/f$i"; done
"$VRIFT" ingest "$T/a" -o "$T/a.manifest" >/dev/null 2>&1
out=$("$VRIFT" gc)
check_contains "dry run reports 3 orphans" "Orphaned:      3" "$out"
check_contains "dry run says how to delete" "vrift gc --delete" "$out"
check_eq "dry run deletes nothing" 18 "$(blob_count)"
old=$(printf 'a file 1\n' | b3sum --no-names)
check "the orphan is still there after a dry run" bash -c "find '$VR_THE_SOURCE/blake3' -name '${old}_*' | grep -q ."

# --older-than: the orphans are seconds old, so 1h protects them; 0s does not.
"$VRIFT" gc --delete --older-than 1h >/dev/null
check_eq "--older-than 1h keeps young orphans" 18 "$(blob_count)"
expect_fail "a bad duration is a usage error" 2 "not a duration" "$VRIFT" gc --older-than 2weeks
j=$("$VRIFT" gc --delete --json)
check_eq "--delete deletes the 3 orphans" 3 "$(jget "$j" deleted)"
check_eq "15 blobs left" 15 "$(blob_count)"
check "the orphan is gone" bash -c "! find '$VR_THE_SOURCE/blake3' -name '${old}_*' | grep -q ."
check "store is sound" store_is_sound
# Every blob a registered manifest references is still there.
for m in a b; do
  missing=$("$VRIFT" manifest show --json "$T/$m.manifest" | python3 -c '
import json, os, sys
root = sys.argv[1]
n = 0
for e in json.load(sys.stdin)["entries"]:
    if e["type"] == "file":
        h = e["hash"]
        p = f"{root}/blake3/{h[:2]}/{h[2:4]}/{h}_{e['"'"'size'"'"']}.bin"
        n += not os.path.exists(p)
print(n)' "$VR_THE_SOURCE")
  check_eq "manifest $m: no referenced blob deleted" 0 "$missing"
done
check_eq "freed bytes are the three old contents (9 bytes each)" 27 "$(jget "$j" freed_bytes)"
check "empty shard directories are removed" bash -c "[ -z \"\$(find '$VR_THE_SOURCE/blake3' -mindepth 1 -type d -empty)\" ]"

# --prune-stale: a project directory that is gone.
mk "$T/c" c 4
"$VRIFT" ingest "$T/c" -o "$T/c.manifest" >/dev/null 2>&1
rm -rf "$T/c"
out=$("$VRIFT" gc)
check_contains "stale registration is reported" "1 stale" "$out"
check_eq "a dry run does not delete a stale project's blobs" 19 "$(blob_count)"
out=$("$VRIFT" gc --prune-stale --delete)
check_contains "--prune-stale says which" "Pruned stale:  $T/c" "$out"
check_eq "the pruned project's blobs are then orphans and deleted" 15 "$(blob_count)"

# A registered manifest that cannot be read stops --delete (its references are unknown).
chmod 0644 "$VR_THE_SOURCE"/manifests/*.manifest
for f in "$VR_THE_SOURCE"/manifests/*.manifest "$T/b.manifest"; do printf 'garbage' > "$f"; done
expect_fail "gc refuses to delete with an unreadable manifest" 1 "cannot be read" "$VRIFT" gc --delete
check_eq "and deleted nothing" 15 "$(blob_count)"
"$VRIFT" ingest "$T/b" -o "$T/b.manifest" >/dev/null 2>&1

# The race: an ingest that keeps changing one project and a gc --delete, each in a loop. After
# every ingest, every blob its manifest references must exist, whatever gc did meanwhile.
mk "$T/r" r 40
(
  for i in $(seq 1 25); do
    printf 'round %s\n' "$i" > "$T/r/f1.new" && mv "$T/r/f1.new" "$T/r/f1"
    head -c 2000 /dev/urandom > "$T/r/rand$((i % 3))"   # in place: quarantines the old blob
    "$VRIFT" ingest "$T/r" -o "$T/r.manifest" >/dev/null 2>>"$T/race.err" || echo "ingest failed" >> "$T/race.err"
    "$VRIFT" manifest show --json "$T/r.manifest" | python3 -c '
import json, os, sys
root = sys.argv[1]
for e in json.load(sys.stdin)["entries"]:
    if e["type"] == "file":
        h = e["hash"]
        if not os.path.exists(f"{root}/blake3/{h[:2]}/{h[2:4]}/{h}_{e['"'"'size'"'"']}.bin"):
            print("MISSING", e["path"])' "$VR_THE_SOURCE" >> "$T/race.missing"
  done
) &
ing=$!
gcs=0
while kill -0 $ing 2>/dev/null; do
  "$VRIFT" gc --delete >/dev/null 2>>"$T/race.err" && gcs=$((gcs + 1))
done
wait $ing
check "gc ran many times during the race ($gcs)" test "$gcs" -ge 5
check_eq "no ingest failed in the race" "" "$(grep -v -e '^$' -e 'warning: blob' "$T/race.err" 2>/dev/null)"
check_eq "no referenced blob went missing in the race" "" "$(cat "$T/race.missing" 2>/dev/null)"
check "store is sound after the race" store_is_sound
finish

#!/usr/bin/env bash
# Tiers and modes: what happens to the user's files and to the store, including the classic
# hard-link hazard (`echo x >> file` on an ingested file) and phantom's crash-safe removal.
source "$(dirname "$0")/lib.sh"

mk_tree() {  # mk_tree DIR SEED: a small tree; files common to every seed plus seed-specific ones
  mkdir -p "$1/lib/sub" "$1/bin"
  for i in $(seq 1 30); do printf 'shared module %s\n' "$i" > "$1/lib/shared$i.js"; done
  for i in $(seq 1 10); do printf 'own %s of %s\n' "$i" "$2" > "$1/lib/sub/own$i.js"; done
  printf '#!/bin/sh\necho %s\n' "$2" > "$1/bin/tool" && chmod 0755 "$1/bin/tool"
  ln -sf ../lib/shared1.js "$1/bin/link"
}

# --- tier2 solid (default): the user's files stay theirs; edits never corrupt what is served.
mk_tree "$T/a" a
"$VRIFT" ingest "$T/a" -o "$T/a.manifest" >/dev/null 2>&1
check_eq "tier2 keeps the user's mode" 644 "$(stat -c %a "$T/a/lib/shared1.js")"
check_eq "tier2 keeps exec bits" 755 "$(stat -c %a "$T/a/bin/tool")"
check "store is sound after ingest" store_is_sound
before=$(b3sum --no-names "$T/a/lib/shared2.js")
echo x >> "$T/a/lib/shared2.js"
check_eq "the user's edit is kept" "$(printf 'shared module 2\nx\n')" "$(cat "$T/a/lib/shared2.js")"
# A second project with the original bytes must get the original bytes from the store: the
# ingest notices the edited linked blob, quarantines it and stores the right content again.
mk_tree "$T/b" b
"$VRIFT" ingest "$T/b" -o "$T/b.manifest" >/dev/null 2>&1
check "store is sound after a linked file was edited" store_is_sound
check "the edited blob went to quarantine" bash -c "ls '$VR_THE_SOURCE/quarantine' | grep -q '$before'"
blob=$(find "$VR_THE_SOURCE/blake3" -name "${before}_*")
check_eq "the original content is in the store again" "$(printf 'shared module 2\n')" "$(cat "$blob" 2>/dev/null)"
# Re-ingest of the edited project records the new content and leaves no wrong blob.
"$VRIFT" ingest "$T/a" -o "$T/a.manifest" >/dev/null 2>&1
new=$(b3sum --no-names "$T/a/lib/shared2.js")
check "re-ingest stores the edited content" bash -c "find '$VR_THE_SOURCE/blake3' -name '${new}_*' | grep -q ."
check "store is sound after re-ingest" store_is_sound
check "manifest names the new content" bash -c "'$VRIFT' manifest show --json '$T/a.manifest' | grep -q '$new'"

# A blob quarantined because one project edited its linked file must come back from another
# project that still has the bytes, even though that project's re-ingest cache says "unchanged".
mk_tree "$T/x" x; mk_tree "$T/y" y
printf 'only x and y have this\n' > "$T/x/lib/xy.js"; cp "$T/x/lib/xy.js" "$T/y/lib/xy.js"
"$VRIFT" ingest "$T/x" -o "$T/x.manifest" >/dev/null 2>&1        # x's xy.js becomes the blob
"$VRIFT" ingest "$T/y" -o "$T/y.manifest" >/dev/null 2>&1
want=$(b3sum --no-names "$T/y/lib/xy.js")
check_eq "x's file is the blob's inode" "$(stat -c %i "$T/x/lib/xy.js")" "$(stat -c %i "$(find "$VR_THE_SOURCE/blake3" -name "${want}_*")")"
echo edit >> "$T/x/lib/xy.js"                                   # in place: edits the blob too
"$VRIFT" ingest "$T/x" -o "$T/x.manifest" >/dev/null 2>&1        # quarantines the edited blob
"$VRIFT" ingest "$T/y" -o "$T/y.manifest" >/dev/null 2>&1        # y unchanged: must re-store it
blob=$(find "$VR_THE_SOURCE/blake3" -name "${want}_*")
check "the quarantined content is stored again from the project that has it" test -n "$blob"
check_eq "with the right bytes" "$want" "$(b3sum --no-names "$blob" 2>/dev/null)"
check "store is sound" store_is_sound

# --- Re-ingest cache: unchanged files are not read again; --force-hash re-reads them all.
# (The quarantine above invalidated every cache once: one full re-read first.)
"$VRIFT" ingest "$T/a" -o "$T/a.manifest" >/dev/null 2>&1
out=$("$VRIFT" ingest "$T/a" -o "$T/a.manifest" --json 2>/dev/null)
check_eq "unchanged re-ingest reads nothing" 41 "$(json_field cached "$out")"
printf 'different bytes!\n' > "$T/a/lib/shared3.js"
out=$("$VRIFT" ingest "$T/a" -o "$T/a.manifest" --json 2>/dev/null)
check_eq "one changed file is re-read" 40 "$(json_field cached "$out")"
# Content changed behind the cache's back (same size, mtime restored): --force-hash reports it.
m=$(stat -c %y "$T/a/lib/shared4.js")
printf 'shared module X\n' | dd of="$T/a/lib/shared4.js" conv=notrunc status=none
touch -d "$m" "$T/a/lib/shared4.js"
out=$("$VRIFT" ingest "$T/a" -o "$T/a.manifest" --force-hash 2>&1)
check_contains "--force-hash reports the mismatch" "changed behind the cache: lib/shared4.js" "$out"
check "store is sound after --force-hash" store_is_sound

# --- Dedup across projects: B after A stores only B's new content.
rm -rf "$VR_THE_SOURCE" "$HOME/.vrift"
mk_tree "$T/c" c; mk_tree "$T/d" d
"$VRIFT" ingest "$T/c" -o "$T/c.manifest" >/dev/null 2>&1
n1=$(blob_count)
js=$("$VRIFT" ingest "$T/d" -o "$T/d.manifest" --json 2>/dev/null)
n2=$(blob_count)
check_eq "only d's 11 new contents are stored" 11 "$((n2 - n1))"
check_eq "new_blobs agrees" 11 "$(json_field new_blobs "$js")"

# --- tier1: immutable trees become read-only and share inodes with the store.
mk_tree "$T/e" e
"$VRIFT" ingest "$T/e" --tier tier1 -o "$T/e.manifest" >/dev/null 2>&1
check_eq "tier1 files are read-only" 444 "$(stat -c %a "$T/e/lib/sub/own1.js")"
check_eq "tier1 keeps exec as r-x" 555 "$(stat -c %a "$T/e/bin/tool")"
check "store is sound after tier1" store_is_sound
if command -v setpriv >/dev/null; then
  chmod 0777 "$T" "$T/e" "$T/e/lib" "$T/e/lib/sub"
  check "an unprivileged user cannot write a tier1 file" bash -c \
    "! setpriv --reuid=65534 --regid=65534 --clear-groups sh -c 'echo x >> \"$T/e/lib/sub/own1.js\"' 2>/dev/null"
fi
blob_of() { find "$VR_THE_SOURCE/blake3" -name "$(b3sum --no-names "$1")_*"; }
check_eq "tier1 file shares the blob's inode" "$(stat -c %i "$T/e/lib/sub/own2.js")" "$(stat -c %i "$(blob_of "$T/e/lib/sub/own2.js")")"
check "tier1 never shares an inode with another project's writable (tier2) file" \
  test "$(stat -c %i "$T/e/lib/shared5.js")" != "$(stat -c %i "$(blob_of "$T/e/lib/shared5.js")")"

# --- phantom: the project's files move into the store only after the manifest is durable.
mk_tree "$T/f" f
b3sum "$T/f/lib/sub/own3.js" > "$T/f.sum"
"$VRIFT" ingest "$T/f" --mode phantom -o "$T/f.manifest" >/dev/null 2>&1
check_eq "phantom removes the files" 0 "$(find "$T/f" -type f -o -type l | wc -l)"
check "phantom keeps the directory skeleton" test -d "$T/f/lib/sub"
check "phantom manifest has all files" bash -c "'$VRIFT' manifest show --json '$T/f.manifest' | grep -q 'lib/sub/own3.js'"
h=$(cut -d' ' -f1 < "$T/f.sum")
pb=$(find "$VR_THE_SOURCE/blake3" -name "${h}_*")
check_eq "phantom blobs are owned and read-only" "444 1" "$(stat -c '%a %h' "$pb")"
check "store is sound after phantom" store_is_sound
# Re-ingest of a phantom project keeps what only exists in the store and adds new files.
printf 'new after phantom\n' > "$T/f/lib/added.js"
"$VRIFT" ingest "$T/f" --mode phantom -o "$T/f.manifest" >/dev/null 2>&1
show=$("$VRIFT" manifest show --json "$T/f.manifest")
check_contains "phantom re-ingest keeps old entries" "lib/sub/own3.js" "$show"
check_contains "phantom re-ingest adds new files" "lib/added.js" "$show"

# A directory's recorded size survives a phantom re-ingest even where moving the files out
# shrank it (tmpfs here; btrfs and xfs too): the projection still lists them all.
dir_size() { # MANIFEST PATH
  "$VRIFT" manifest show --json "$1" | python3 -c '
import json, sys
print(next(e["size"] for e in json.load(sys.stdin)["entries"] if e["path"] == sys.argv[1]))' "$2"
}
if shm=$(mktemp -d /dev/shm/vrift-test.XXXXXX 2>/dev/null); then
  mkdir -p "$shm/p/d"
  for i in $(seq 50); do echo "$i" >"$shm/p/d/a-file-with-a-longish-name-$i"; done
  full=$(stat -c %s "$shm/p/d")
  "$VRIFT" ingest "$shm/p" --mode phantom -o "$shm/p.manifest" >/dev/null 2>&1
  check_eq "phantom ingest records the directory's size" "$full" "$(dir_size "$shm/p.manifest" d)"
  check "moving the files out shrank the directory (tmpfs)" test "$(stat -c %s "$shm/p/d")" -lt "$full"
  "$VRIFT" ingest "$shm/p" --mode phantom -o "$shm/p.manifest" >/dev/null 2>&1
  check_eq "phantom re-ingest keeps the directory's size" "$full" "$(dir_size "$shm/p.manifest" d)"
  chmod -R u+w "$shm"
  rm -rf "$shm"
fi

# Phantom with a failure before the manifest is durable loses nothing: an output directory that
# vanishes makes the ingest fail, and every file must still be there.
mk_tree "$T/g" g
before=$(find "$T/g" -type f | sort | xargs b3sum)
expect_fail "phantom into a missing output directory fails" 1 "does not exist" \
  "$VRIFT" ingest "$T/g" --mode phantom -o "$T/missing/g.manifest"
check_eq "and leaves every file in place" "$before" "$(find "$T/g" -type f | sort | xargs b3sum)"

# Phantom dedup against a tier2 linked blob: the store takes its own copy, so a later edit of
# the tier2 file cannot reach the phantom project's only copy.
rm -rf "$VR_THE_SOURCE" "$HOME/.vrift"
mk_tree "$T/h" h; mk_tree "$T/i" i
"$VRIFT" ingest "$T/h" -o "$T/h.manifest" >/dev/null 2>&1                  # tier2 links
"$VRIFT" ingest "$T/i" --mode phantom -o "$T/i.manifest" >/dev/null 2>&1   # shares 30 contents
echo y >> "$T/h/lib/shared7.js"
blob=$(find "$VR_THE_SOURCE/blake3" -name "$(printf 'shared module 7\n' | b3sum --no-names)_*")
check_eq "phantom's content survives an edit of the other project's file" "shared module 7" "$(cat "$blob")"
check "store is sound" store_is_sound

# --- native modules that make file-system calls of their own (docs/shim.md) ---------------------
# The shim cannot see them, and a phantom projection's files are not on disk: phantom ingest
# names them. An addon built the way rustix's raw backend builds one (an inline `syscall`), and
# an ordinary shared object that goes through libc, which must not be named.
mkdir -p "$T/n/addon" "$T/n/plain"
cat >"$T/raw.c" <<'EOF'
long vr_probe(const char* p, void* buf) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "0"(332L), "D"(-100L), "S"(p), "d"(0L), "r"(buf) : "rcx", "r11", "memory");
  return r;
}
EOF
printf '#include <sys/stat.h>\nint vr_plain(const char* p) { struct stat st; return stat(p, &st); }\n' >"$T/plain.c"
{ gcc -shared -fPIC -O2 -o "$T/n/addon/binding.linux-x64-gnu.node" "$T/raw.c" &&
  gcc -shared -fPIC -O2 -o "$T/n/plain/libplain.so" "$T/plain.c"; } || not_ok "building the modules"
cp -a "$T/n" "$T/n2"
err=$("$VRIFT" ingest "$T/n" --mode phantom -o "$T/n.manifest" 2>&1 >/dev/null)
check_contains "phantom ingest names a module with its own file-system calls" \
  "addon/binding.linux-x64-gnu.node (statx)" "$err"
check_contains "and says what to do" "--mode solid" "$err"
if [[ "$err" == *libplain* ]]; then not_ok "the one that goes through libc is named too"; else
  ok "and not the one that goes through libc"; fi
out=$("$VRIFT" ingest "$T/n2" -o "$T/n2.manifest" --json 2>&1)
check_eq "a solid ingest, where the files stay on disk, does not warn" "[]" \
  "$(json_field raw_syscall_modules "$out")"

# --- programs: the kernel starts them from files on disk, which phantom files are not ----------
# Named by a phantom ingest with their linkage: a dynamic and a static ELF program. Not named:
# a script, the same ELF bytes without an execute bit, a shared object with one.
mkdir -p "$T/e/bin" "$T/e/lib"
printf 'int main(void) { return 0; }\n' >"$T/e.c"
{ gcc -O2 -o "$T/e/bin/dyn" "$T/e.c" && gcc -static -O2 -o "$T/e/bin/static" "$T/e.c" &&
  gcc -shared -fPIC -O2 -o "$T/e/lib/libx.so.1" "$T/plain.c"; } || not_ok "building the programs"
cp "$T/e/bin/dyn" "$T/e/lib/dyn.copy" && chmod 0644 "$T/e/lib/dyn.copy"
chmod 0755 "$T/e/lib/libx.so.1"
printf '#!/bin/sh\necho script ran\n' >"$T/e/bin/tool.sh" && chmod 0755 "$T/e/bin/tool.sh"
cp -a "$T/e" "$T/e2" && cp -a "$T/e" "$T/e3"
err=$("$VRIFT" ingest "$T/e" --mode phantom -o "$T/e.manifest" 2>&1 >/dev/null)
check_contains "phantom ingest names a dynamic program" "bin/dyn (dynamic)" "$err"
check_contains "and a static one" "bin/static (static)" "$err"
check_contains "and says what to do" "--mode solid" "$err"
out=$("$VRIFT" ingest "$T/e2" --mode phantom -o "$T/e2.manifest" --json 2>/dev/null)
check_eq "--json lists exactly the two programs" \
  '[{"linkage": "dynamic", "path": "bin/dyn"}, {"linkage": "static", "path": "bin/static"}]' \
  "$(json_field phantom_programs "$out")"
out=$("$VRIFT" ingest "$T/e3" -o "$T/e3.manifest" --json 2>&1)
check_eq "a solid ingest names none" "[]" \
  "$(json_field phantom_programs "$out")"
# What the warning says is what happens: under vrift run the script runs, the program cannot.
# (A daemon of this suite's own: other suites run theirs at the same time.)
export VRIFT_RUNTIME_DIR="$T/run" VRIFT_VDIR_DIR="$T/vdir"
ran=$(cd "$T/e" && "$VRIFT" run --manifest "$T/e.manifest" -- sh -c './bin/tool.sh; ./bin/dyn; echo "dyn $?"' 2>/dev/null)
check_eq "under vrift run, the phantom script runs and the program cannot (126)" \
  "$(printf 'script ran\ndyn 126')" "$ran"
"$VRIFT" daemon stop >/dev/null 2>&1

# --- how the new blobs become durable: an fsync each when they are few (the run after an edit),
# one syncfs for many, nothing when nothing is new.
mkdir -p "$T/dur/src"
for i in $(seq 1 80); do echo "file $i" > "$T/dur/src/f$i.txt"; done
err=$("$VRIFT" -vv ingest "$T/dur" -o "$T/dur.manifest" 2>&1 >/dev/null)
check_contains "80 new blobs: one syncfs" "ingest: syncfs done" "$err"
echo "edited" >> "$T/dur/src/f3.txt"
err=$("$VRIFT" -vv ingest "$T/dur" -o "$T/dur.manifest" 2>&1 >/dev/null)
check_contains "one edited file: its blob and directories synced by themselves, the blob while the walk went on" \
  "ingest: fsync of 1 new blob (1 while the walk went on) and their directories" "$err"
check "and no syncfs" bash -c "! grep -q 'syncfs done' <<< '$err'"
check_eq "the blob it synced is the edited content" "$(printf 'file 3\nedited')" \
  "$(cat "$VR_THE_SOURCE"/blake3/*/*/"$(b3sum --no-names "$T/dur/src/f3.txt")"_14.bin 2>/dev/null)"
err=$("$VRIFT" -vv ingest "$T/dur" -o "$T/dur.manifest" 2>&1 >/dev/null)
check "unchanged: no sync at all" bash -c "! grep -qE 'syncfs done|fsync of' <<< '$err'"

# --- one ingest of a tree at a time, nested trees too: an ingest holds an flock of the store's
# lock file for its root (exclusive) and of those for the directories above it (shared),
# treelocks/<the first 32 hex digits of BLAKE3 of the canonical path>; flock(1) takes the same.
lockfile() { echo "$VR_THE_SOURCE/treelocks/$(printf %s "$(realpath "$1")" | b3sum --no-names | cut -c1-32)"; }
# held FILE: waits (up to 5 s) until some process holds an flock of FILE.
held() { for _ in $(seq 1 100); do flock -n -x "$1" true || return 0; sleep 0.05; done; }
# held_ingest MODE DIR: a `vrift -v ingest` of $T/dur while flock(1) holds DIR's lock file in MODE
# (-x, -s) for a second; prints the ms it took, then what it said.
held_ingest() {
  flock "$1" "$(lockfile "$2")" sleep 1 &
  local holder=$! t0 err
  held "$(lockfile "$2")"
  t0=$(date +%s%N)
  err=$("$VRIFT" -v ingest "$T/dur" -o "$T/dur.manifest" 2>&1 >/dev/null) || echo "FAILED"
  echo "$((($(date +%s%N) - t0) / 1000000))"
  wait "$holder"
  echo "$err"
}
out=$(held_ingest -x "$T/dur")
check_contains "a second ingest of the root says it waits" "waiting for another ingest of '$(realpath "$T/dur")'" "$out"
check "and waits for the first ($(head -1 <<<"$out") ms)" test "$(head -1 <<<"$out")" -ge 500
out=$(held_ingest -x "$T")
check_contains "an ingest waits for one of a directory above its root" \
  "waiting for an ingest of '$(realpath "$T")' (it holds '$(realpath "$T/dur")')" "$out"
check "and waits for it ($(head -1 <<<"$out") ms)" test "$(head -1 <<<"$out")" -ge 500
out=$(held_ingest -s "$T/dur")
check_contains "an ingest waits for those below its root (they hold it shared)" \
  "waiting for another ingest of '$(realpath "$T/dur")'" "$out"
check "for them too ($(head -1 <<<"$out") ms)" test "$(head -1 <<<"$out")" -ge 500
out=$(held_ingest -s "$T")
check "but not for one beside it (both hold the directory above shared)" \
  bash -c "! grep -qE 'waiting|FAILED' <<< '$out'"
flock -x "$(lockfile "$T/dur")" sleep 2 &
holder=$!
held "$(lockfile "$T/dur")"
err=$("$VRIFT" ingest "$T/dur" -o "$T/dur.manifest" 2>&1 >/dev/null)
wait "$holder"
check_contains "without -v, a wait past a second is said" \
  "warning: waiting for another ingest of '$(realpath "$T/dur")' (a second so far)" "$err"
# A script's own flock(1) of the project directory (until session 16 the lock itself): an ingest
# of it inside no longer waits for its own caller.
check "an flock of the root directory by the caller does not hold the ingest up" \
  timeout 20 flock "$T/dur" "$VRIFT" ingest "$T/dur" -o "$T/dur.manifest"

# --- a tier1 placement's temporary name (f.vrift-link.PID: the blob linked beside the file, then
# renamed over it) is never a project file; one left by an ingest that was killed is removed. It
# is known by more than its name: a second link of a read-only inode (the blob's), beside <file>.
dead=$(sh -c 'echo $$')
cp "$T/dur/src/f1.txt" "$T/blob1" && cp "$T/dur/src/f2.txt" "$T/blob2" && chmod 444 "$T/blob1" "$T/blob2"
ln "$T/blob1" "$T/dur/src/f1.txt.vrift-link.$dead"
ln "$T/blob2" "$T/dur/src/f2.txt.vrift-link.$$" # a live pid's: another ingest's
printf 'mine\n' >"$T/dur/src/notes.vrift-link.txt"                    # not one of them
printf 'mine too\n' >"$T/dur/src/f3.txt.vrift-link.$dead"             # a user's file named alike
"$VRIFT" ingest "$T/dur" -o "$T/dur.manifest" >/dev/null 2>&1 || not_ok "ingest beside link temporaries"
listed=$("$VRIFT" manifest show "$T/dur.manifest" | grep -c 'vrift-link')
check_eq "temporary links are not ingested; files merely named alike are" 2 "$listed"
check "the one whose ingest is gone is removed" test ! -e "$T/dur/src/f1.txt.vrift-link.$dead"
check "a live one is left to its ingest" test -e "$T/dur/src/f2.txt.vrift-link.$$"
check_eq "a user's file named like one is never removed" "mine too" "$(cat "$T/dur/src/f3.txt.vrift-link.$dead")"
finish

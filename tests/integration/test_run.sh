#!/usr/bin/env bash
# `vrift run` without the shim's interception: the daemon started on demand, exit statuses
# (CMD's, 125, 126, 127), programs the shim cannot see (static, setuid, their scripts), commands
# that exist only inside a projection, signal forwarding (once: not for terminal-generated
# signals), death by CMD's signal, the environment contract (VRIFT_PROJECTIONS, LD_PRELOAD,
# VRIFT_STORE, UV_USE_IO_URING, VRIFT_LOG), the shim lookup, --at pairing, --prefix roots, and
# the skeleton created and removed around CMD.
# A stand-in library plays the shim: what it intercepts is the shim suites' business.
source "$(dirname "$0")/lib.sh"
export VRIFT_RUNTIME_DIR="$T/run" VRIFT_VDIR_DIR="$T/vdir"
stop_daemon() { "$VRIFT" daemon stop >/dev/null 2>&1; }
trap 'stop_daemon; cleanup' EXIT
jget() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
# run_rc ARGS...: vrift run's exit status, output discarded.
run_rc() { "$VRIFT" run "$@" >/dev/null 2>&1; echo $?; }

printf 'void vrift_stand_in_shim(void) {}\n' > "$T/stub.c"
gcc -shared -fPIC -o "$T/stub.so" "$T/stub.c" || not_ok "building the stand-in shim"
export VRIFT_SHIM="$T/stub.so"
STUB=$(realpath "$T/stub.so")

# A child that records the signals it gets: helper LOG READY STOP (exits 7 on SIGTERM).
cat > "$T/helper.c" <<'EOF'
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
static const char* logp;
static volatile sig_atomic_t term;
static void on(int sig) {
  const char* n = sig == SIGINT ? "INT\n" : sig == SIGTERM ? "TERM\n" : sig == SIGUSR1 ? "USR1\n" : "HUP\n";
  int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (write(fd, n, strlen(n)) < 0) _exit(99);
  close(fd);
  if (sig == SIGTERM) term = 1;
}
int main(int argc, char** argv) {
  if (argc < 4) return 2;
  logp = argv[1];
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on;
  int sigs[] = {SIGINT, SIGTERM, SIGUSR1, SIGHUP};
  for (unsigned i = 0; i < sizeof sigs / sizeof *sigs; ++i) sigaction(sigs[i], &sa, 0);
  close(open(argv[2], O_WRONLY | O_CREAT, 0644));
  struct timespec ts = {0, 10000000};
  while (!term && access(argv[3], F_OK) != 0) nanosleep(&ts, 0);
  return term ? 7 : 0;
}
EOF
gcc -O1 -o "$T/helper" "$T/helper.c" || not_ok "building the signal helper"
# wait_for FILE: up to 10 s.
wait_for() { for _ in $(seq 1 200); do [ -e "$1" ] && return 0; sleep 0.05; done; return 1; }

# A project: directories, a symlink, files; ingested solid.
P="$T/proj"
mkdir -p "$P/src/sub/deep" "$P/docs"
printf 'int main;\n' > "$P/src/main.c"
printf 'doc\n' > "$P/docs/README"
ln -s ../docs "$P/src/docs-link"
chmod 0750 "$P/src/sub"
M="$T/p.manifest"
"$VRIFT" ingest "$P" -o "$M" >/dev/null 2>&1 || not_ok "ingest"
PR=$(realpath "$P"); MR=$(realpath "$M")

# --- errors found before anything starts (the daemon is not even started)
expect_fail "missing manifest: 125" 125 "manifest '$T/nope.manifest'" "$VRIFT" run --manifest "$T/nope.manifest" -- true
head -c 300 /dev/urandom > "$T/bad.manifest"
expect_fail "corrupt manifest: 125" 125 "loading manifest" "$VRIFT" run --manifest "$T/bad.manifest" -- true
expect_fail "no command: 127" 127 "no command" "$VRIFT" run --manifest "$M"
expect_fail "nothing after --: 127" 127 "no command" "$VRIFT" run --manifest "$M" --
expect_fail "zero-config outside any project: 125" 125 "no project found" \
  sh -c 'cd / && exec "$0" run -- true' "$VRIFT"
expect_fail "--at once for two manifests: usage error" 2 "--at" "$VRIFT" run -m "$M" --at "$T" -m "$M" -- true
expect_fail "--at without --manifest: usage error" 2 "--at" "$VRIFT" run --at "$T" -- true
mkdir -p "$T/same"
expect_fail "two projections at one root: 125" 125 "two manifests are projected at" "$VRIFT" run -m "$M" --at "$T/same" -m "$M" --at "$T/same" -- true
expect_fail "--at a missing directory: 125" 125 "--at '$T/missing'" "$VRIFT" run -m "$M" --at "$T/missing" -- true
"$VRIFT" daemon status >/dev/null 2>&1
check_eq "none of these started the daemon" 1 "$?"

# --- the daemon on demand, exit statuses
check_eq "true: 0 (and the daemon is started on demand)" 0 "$(run_rc -m "$M" -- true)"
j=$("$VRIFT" daemon status --json)
check_eq "the daemon runs afterwards" True "$(jget "$j" running)"
check_eq "it serves our store" "$VR_THE_SOURCE" "$(jget "$j" store)"
check_eq "CMD's status: sh -c 'exit 3'" 3 "$(run_rc -m "$M" -- sh -c 'exit 3')"
check_eq "no -- needed when CMD has no options of vrift's" 4 "$(run_rc -m "$M" sh -c 'exit 4')"
expect_fail "not found: 127" 127 "no-such-command-here: command not found" "$VRIFT" run -m "$M" -- no-such-command-here
printf 'echo hi\n' > "$T/not-exec.sh"
expect_fail "not executable: 126" 126 "Permission denied" "$VRIFT" run -m "$M" -- "$T/not-exec.sh"
printf '#!/nonexistent/interpreter\n' > "$T/bad-interp.sh"; chmod +x "$T/bad-interp.sh"
expect_fail "missing interpreter: 127 (as the shells say)" 127 "bad-interp.sh" "$VRIFT" run -m "$M" -- "$T/bad-interp.sh"
printf 'exit 5\n' > "$T/no-shebang"; chmod +x "$T/no-shebang"
check_eq "a script without #! runs under /bin/sh (execvp)" 5 "$(run_rc -m "$M" -- "$T/no-shebang")"
printf '#!/usr/bin/env sh\nexit 6\n' > "$T/env-script"; chmod +x "$T/env-script"
check_eq "#!/usr/bin/env sh runs" 6 "$(run_rc -m "$M" -- "$T/env-script")"

# --- programs the shim cannot see: refused with a reason and a hint
# (but not vrift itself, a static PIE: it needs no shim). A sanitizer build links vrift
# dynamically, and its runtime refuses to start behind a preloaded library: nothing to check.
if readelf -lW "$VRIFT" | grep -q 'INTERP'; then
  echo "skip - vrift itself under vrift run (this vrift is dynamically linked)"
else
  out=$("$VRIFT" run -m "$M" -- "$VRIFT" --version 2>&1); rc=$?
  check_eq "vrift itself (a static PIE) runs under vrift run" "0 $("$VRIFT" --version)" "$rc $out"
fi
if gcc -static -O1 -o "$T/static-helper" "$T/helper.c" 2>/dev/null; then
  expect_fail "a static binary: 126" 126 "is statically linked" "$VRIFT" run -m "$M" -- "$T/static-helper" "$T/st.log" "$T/st.ready" "$T"
  err=$("$VRIFT" run -m "$M" -- "$T/static-helper" "$T/st.log" "$T/st.ready" "$T" 2>&1)
  check_contains "with a hint" "hint: " "$err"
  check "and it did not run" test ! -e "$T/st.ready"
  printf '#!%s\n' "$T/static-helper" > "$T/static-script"; chmod +x "$T/static-script"
  expect_fail "a script run by a static interpreter: 126" 126 "runs under '$T/static-helper', which is statically linked" "$VRIFT" run -m "$M" -- "$T/static-script"
else
  echo "skip - static binary (no libc.a for gcc -static)"
fi
check_eq "the same program linked dynamically runs" 0 "$(run_rc -m "$M" -- "$T/helper" "$T/dyn.log" "$T/dyn.ready" "$T")"
cp /bin/true "$T/suid-true"; chmod 4755 "$T/suid-true"
expect_fail "a setuid program: 126" 126 "is setuid" "$VRIFT" run -m "$M" -- "$T/suid-true"
cp /bin/true "$T/sgid-true"; chmod 2755 "$T/sgid-true"
expect_fail "a setgid program: 126" 126 "is setgid" "$VRIFT" run -m "$M" -- "$T/sgid-true"
mkdir -p "$T/bin"; cp "$T/suid-true" "$T/bin/suidtool"; chmod 4755 "$T/bin/suidtool"
printf '#!/usr/bin/env suidtool\n' > "$T/suid-env-script"; chmod +x "$T/suid-env-script"
expect_fail "#!/usr/bin/env PROG is judged by the PROG that PATH finds" 126 "which is setuid" env PATH="$T/bin:$PATH" "$VRIFT" run -m "$M" -- "$T/suid-env-script"

# --- the environment contract
cat > "$T/show-env.sh" <<'EOF'
#!/bin/sh
# Writes the contract's variables, and whether each projection's VDir file exists right now.
out=$1
{
  printf 'P=%s\n' "$VRIFT_PROJECTIONS" | head -1
  printf 'N=%s\n' "$(printf '%s\n' "$VRIFT_PROJECTIONS" | wc -l)"
  printf 'LD_PRELOAD=%s\n' "$LD_PRELOAD"
  printf 'VRIFT_STORE=%s\n' "$VRIFT_STORE"
  printf 'UV_USE_IO_URING=%s\n' "$UV_USE_IO_URING"
  printf 'VRIFT_LOG=%s\n' "${VRIFT_LOG-unset}"
  printf 'KEEP=%s\n' "${KEEP_ME-unset}"
  printf '%s\n' "$VRIFT_PROJECTIONS" | while IFS="$(printf '\t')" read -r root vdir manifest session; do
    if [ -f "$vdir" ]; then echo "VDIR_OK=$root"; fi
    printf 'FIELDS=%s|%s|%s\n' "$root" "$manifest" "$session"
  done
} > "$out"
EOF
chmod +x "$T/show-env.sh"
field() { grep "^$2=" "$1" | head -1 | cut -d= -f2-; }
KEEP_ME=yes "$VRIFT" run -m "$M" -- "$T/show-env.sh" "$T/env1" 2>/dev/null
check_eq "one projection" 1 "$(field "$T/env1" N)"
IFS='|' read -r root manifest session <<< "$(field "$T/env1" FIELDS)"
check_eq "root: the manifest's origin, canonical" "$PR" "$root"
check_eq "manifest: canonical" "$MR" "$manifest"
check "session id is a number > 0 ($session)" test "$session" -gt 0
check_eq "the VDir file exists while CMD runs" "$PR" "$(field "$T/env1" VDIR_OK)"
check_eq "four tab-separated fields" 4 "$(field "$T/env1" P | awk -F'\t' '{print NF}')"
check_eq "LD_PRELOAD is the shim" "$STUB" "$(field "$T/env1" LD_PRELOAD)"
check_eq "VRIFT_STORE is the canonical store" "$(realpath "$VR_THE_SOURCE")" "$(field "$T/env1" VRIFT_STORE)"
check_eq "UV_USE_IO_URING=0" 0 "$(field "$T/env1" UV_USE_IO_URING)"
check_eq "no VRIFT_LOG without -v" unset "$(field "$T/env1" VRIFT_LOG)"
check_eq "the rest is inherited" yes "$(field "$T/env1" KEEP)"
LD_PRELOAD=/lib/other.so VRIFT_LOG=7 "$VRIFT" run -m "$M" -- "$T/show-env.sh" "$T/env2" 2>/dev/null
check_eq "an inherited LD_PRELOAD follows the shim" "$STUB:/lib/other.so" "$(field "$T/env2" LD_PRELOAD)"
check_eq "an inherited VRIFT_LOG is left alone" 7 "$(field "$T/env2" VRIFT_LOG)"
# (vrift itself then preloads the stand-in: an ASan build must be told that this is fine.)
LD_PRELOAD="/lib/other.so:$STUB" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
  "$VRIFT" run -m "$M" -- "$T/show-env.sh" "$T/env3" 2>/dev/null
check_eq "the shim is not preloaded twice" "/lib/other.so:$STUB" "$(field "$T/env3" LD_PRELOAD)"
err=$("$VRIFT" -v run -m "$M" -- "$T/show-env.sh" "$T/env4" 2>&1 >/dev/null)
check_eq "vrift -v run sets VRIFT_LOG=1" 1 "$(field "$T/env4" VRIFT_LOG)"
check_contains "and says which session it opened" "session $session for $MR at $PR" "$err"
check "the usual case creates no skeleton" bash -c "! grep -q created <<< '$err'"
for _ in $(seq 1 100); do [ "$(jget "$("$VRIFT" daemon status --json)" sessions)" = 0 ] && break; sleep 0.1; done
check_eq "the session ends after the run" 0 "$(jget "$("$VRIFT" daemon status --json)" sessions)"
check_eq "vrift's own descriptors do not reach CMD" "$(ls /proc/self/fd | tr '\n' ' ')" \
  "$("$VRIFT" run -m "$M" -- ls /proc/self/fd 2>/dev/null | tr '\n' ' ')"
check_eq "CMD gets vrift's signal mask and ignored signals" "$(grep -E '^Sig(Blk|Ign)' /proc/self/status)" \
  "$("$VRIFT" run -m "$M" -- grep -E '^Sig(Blk|Ign)' /proc/self/status 2>/dev/null)"

# Two manifests, each at its own root.
Q="$T/other"; mkdir -p "$Q/lib"; printf 'x\n' > "$Q/lib/x.js"
"$VRIFT" ingest "$Q" -o "$T/q.manifest" >/dev/null 2>&1
"$VRIFT" run -m "$M" -m "$T/q.manifest" -- "$T/show-env.sh" "$T/env5" 2>/dev/null
check_eq "two manifests: two records" 2 "$(field "$T/env5" N)"
check_eq "each with its VDir" 2 "$(grep -c '^VDIR_OK=' "$T/env5")"
check_contains "the second at its own origin" "$(realpath "$Q")|$(realpath "$T/q.manifest")|" "$(grep '^FIELDS=' "$T/env5" | tail -1)"

# --prefix: entries are "node_modules/...", so the root is the origin's parent.
mkdir -p "$T/web/node_modules/pkg"; printf 'module.exports=1\n' > "$T/web/node_modules/pkg/index.js"
"$VRIFT" ingest "$T/web/node_modules" --prefix node_modules -o "$T/web.manifest" >/dev/null 2>&1
"$VRIFT" run -m "$T/web.manifest" -- "$T/show-env.sh" "$T/env6" 2>/dev/null
check_contains "--prefix P: the root is the origin without /P" "FIELDS=$(realpath "$T/web")|" "$(grep '^FIELDS=' "$T/env6")"

# --- the shim lookup without VRIFT_SHIM: beside the binary, then ../lib/vrift/
mkdir -p "$T/inst/bin" "$T/inst/lib/vrift"; cp "$VRIFT" "$T/inst/bin/vrift"
expect_fail "no shim anywhere: 125" 125 "libvrift_shim.so) was not found" env -u VRIFT_SHIM "$T/inst/bin/vrift" run -m "$M" -- true
err=$(env -u VRIFT_SHIM "$T/inst/bin/vrift" run -m "$M" -- true 2>&1)
check_contains "with a hint" "hint: " "$err"
cp "$T/stub.so" "$T/inst/lib/vrift/libvrift_shim.so"
env -u VRIFT_SHIM "$T/inst/bin/vrift" run -m "$M" -- "$T/show-env.sh" "$T/env7" 2>/dev/null
check_eq "found in ../lib/vrift/" "$(realpath "$T/inst/lib/vrift/libvrift_shim.so")" "$(field "$T/env7" LD_PRELOAD)"
cp "$T/stub.so" "$T/inst/bin/libvrift_shim.so"
env -u VRIFT_SHIM "$T/inst/bin/vrift" run -m "$M" -- "$T/show-env.sh" "$T/env8" 2>/dev/null
check_eq "beside the binary wins" "$(realpath "$T/inst/bin/libvrift_shim.so")" "$(field "$T/env8" LD_PRELOAD)"
expect_fail "VRIFT_SHIM must be absolute" 125 "not an absolute path" env VRIFT_SHIM=stub.so "$VRIFT" run -m "$M" -- true
expect_fail "VRIFT_SHIM must exist" 125 "was not found" env VRIFT_SHIM="$T/none.so" "$VRIFT" run -m "$M" -- true

# --- the skeleton: --at an empty directory (through a symlink: the root is canonical)
mkdir -p "$T/at"; ln -s at "$T/at-link"
"$VRIFT" run -m "$M" --at "$T/at-link" -- sh -c 'cd "$3" && find . | sort > "$1"; printf "%s" "$VRIFT_PROJECTIONS" | cut -f1 > "$2"' sh "$T/skel" "$T/skel-root" "$T/at" 2>/dev/null
check_eq "--at: the root is canonical" "$(realpath "$T/at")" "$(cat "$T/skel-root")"
check_eq "directories exist while CMD runs (files and symlinks are the shim's)" \
  "$(printf '.\n./docs\n./src\n./src/sub\n./src/sub/deep')" "$(cat "$T/skel")"
check_eq "and are removed afterwards" "" "$(ls -A "$T/at")"
check_eq "with the manifest's modes" 750 \
  "$("$VRIFT" run -m "$M" --at "$T/at" -- stat -c %a "$T/at/src/sub" 2>/dev/null)"
"$VRIFT" run -m "$M" --at "$T/at" -- sh -c 'echo kept > "$1/src/sub/new"' sh "$T/at" 2>/dev/null
check_eq "a directory that is no longer empty stays, with what was written" kept "$(cat "$T/at/src/sub/new" 2>/dev/null)"
check "the rest is removed" test ! -e "$T/at/docs" -a ! -e "$T/at/src/sub/deep"
rm -rf "${T:?}/at"; mkdir -p "$T/at"; printf 'in the way\n' > "$T/at/src"
expect_fail "a file where the manifest has a directory: 125" 125 "is a file, the manifest has a directory" "$VRIFT" run -m "$M" --at "$T/at" -- true
check_eq "nothing was created or touched" "src|in the way" "$(ls -A "$T/at")|$(cat "$T/at/src")"
# Phantom ingest leaves the directories (its symlinks go to the manifest): projecting at the
# origin creates nothing, and leaves the tree as it found it.
cp -a "$P" "$T/ph"; "$VRIFT" ingest "$T/ph" --mode phantom -o "$T/ph.manifest" >/dev/null 2>&1
before=$(cd "$T/ph" && find . | sort)
"$VRIFT" run -m "$T/ph.manifest" -- sh -c 'test ! -e "$1/src/docs-link"' sh "$T/ph" 2>/dev/null
check_eq "phantom origin: no symlink is created on disk" 0 "$?"
err=$("$VRIFT" -v run -m "$T/ph.manifest" -- true 2>&1)
check "phantom origin: no directory to create" bash -c "! grep -q 'created [1-9][0-9]* director' <<< '$err'"
check_eq "and the tree is left as it was" "$before" "$(cd "$T/ph" && find . | sort)"

# --- a skeleton the daemon has watched since it was complete is not checked again (SkeletonWatch)
# A project two levels down, so that a directory above its root can be renamed; a background run
# holds the session open throughout (no linger expiry between the steps).
mkdir -p "$T/nest/a"; cp -a "$P" "$T/nest/a/w"; W="$T/nest/a/w"
"$VRIFT" ingest "$W" --mode phantom -o "$T/w.manifest" >/dev/null 2>&1 || not_ok "phantom ingest of w"
"$VRIFT" run -m "$T/w.manifest" -- sh -c 'touch "$1"; while [ ! -e "$2" ]; do sleep 0.05; done' \
  sh "$T/hold.ready" "$T/hold.stop" >/dev/null 2>&1 &
holder=$!
wait_for "$T/hold.ready" || not_ok "the holding run did not start"
# vskel CMD...: CMD's status, then how many times -vv said the skeleton check was skipped.
vskel() {
  local out rc
  out=$("$VRIFT" -vv run -m "$T/w.manifest" -- "$@" 2>&1 >/dev/null); rc=$?
  echo "$rc $(grep -c 'watched by the daemon' <<< "$out")"
}
check_eq "a warm session's complete skeleton is vouched for: no check" "0 1" "$(vskel true)"
check_eq "again" "0 1" "$(vskel test -d "$W/src/sub/deep")"
rmdir "$W/src/sub/deep"
check_eq "a directory removed since: checked, and there while CMD runs" "0 0" \
  "$(vskel test -d "$W/src/sub/deep")"
check "and removed again afterwards (vrift run made it)" test ! -e "$W/src/sub/deep"
check_eq "still missing: still checked" "0 0" "$(vskel test -d "$W/src/sub/deep")"
mkdir "$W/src/sub/deep"
vskel true >/dev/null # complete again: this run checks, the daemon watches again after it
check_eq "complete again: vouched for again" "0 1" "$(vskel test -d "$W/src/sub/deep")"
# A rename above the root fires no watch: the daemon compares the root's identity.
mv "$T/nest/a" "$T/nest/b"; mkdir -p "$W"
check_eq "a new directory at the root's path (a rename above it): checked" "0 0" \
  "$(vskel test -d "$W/src/sub/deep")"
rm -rf "$T/nest/a"; mv "$T/nest/b" "$T/nest/a"
vskel true >/dev/null
check_eq "the original back: vouched for again" "0 1" "$(vskel true)"
"${VRIFT_TESTCLIENT:?}" mutate "$T/run/vriftd.sock" "$(realpath "$W")" "$(realpath "$T/w.manifest")" mkdir made >/dev/null 2>&1 \
  || not_ok "testclient mkdir"
check_eq "a change to the session's tree (mkdir): checked again" "0 0" "$(vskel true)"
touch "$T/hold.stop"; wait "$holder"

# --- nothing to undo: vrift becomes CMD (exec, no fork) and the daemon holds the sessions for as
# long as that process lives (SESSION_LEASE: a pidfd), though vrift's connection is gone.
# sessions_now: the daemon's session count (from a connection of its own).
sessions_now() { jget "$("$VRIFT" daemon status --json 2>/dev/null)" sessions; }
for _ in $(seq 1 100); do [ "$(sessions_now)" = 0 ] && break; sleep 0.05; done # lingering ones
"$VRIFT" run -m "$T/ph.manifest" -- sh -c 'echo $$ > "$1"; touch "$2"; while [ ! -e "$3" ]; do sleep 0.05; done' \
  sh "$T/cmd.pid" "$T/lease.ready" "$T/lease.stop" >/dev/null 2>&1 &
runpid=$!
wait_for "$T/lease.ready" || not_ok "the leased run did not start"
check_eq "CMD is vrift's own process" "$runpid" "$(cat "$T/cmd.pid")"
sleep 2.5 # past the 2 s linger of a session nobody holds
st=$("$VRIFT" daemon status --json 2>/dev/null)
check_eq "its session is held past the linger, with vrift's connection closed (only ours is open)" "1 1" \
  "$(jget "$st" sessions) $(jget "$st" connections)"
touch "$T/lease.stop"; wait "$runpid"
check_eq "CMD's status is vrift's" 0 "$?"
for _ in $(seq 1 100); do [ "$(sessions_now)" = 0 ] && break; sleep 0.05; done
check_eq "the session ends once CMD has exited (after the linger)" 0 "$(sessions_now)"
# The greeting names the daemon's store: a run for another store is refused before any session.
out=$(VR_THE_SOURCE="$T/other-store" "$VRIFT" run -m "$T/ph.manifest" -- true 2>&1); rc=$?
check_eq "a daemon serving another store: vrift run refuses" 125 "$rc"
check_contains "a daemon serving another store: says which" "serves the store '$VR_THE_SOURCE'" "$out"
# The default linger (a minute; the suites set 2 s): a session outlives its run, so the next run
# finds it filled and its skeleton watched; a new session for the same root (another manifest)
# ends the lingering one at once.
stop_daemon
(unset VRIFT_DAEMON_LINGER_MS; "$VRIFT" daemon start >/dev/null 2>&1) || not_ok "starting a daemon with the default linger"
"$VRIFT" run -m "$T/ph.manifest" -- true >/dev/null 2>&1
sleep 2.5
check_eq "default linger: the session outlives its run by more than 2 s" 1 "$(sessions_now)"
out=$("$VRIFT" -vv run -m "$T/ph.manifest" -- true 2>&1)
check_contains "default linger: the next run finds the skeleton watched" "watched by the daemon" "$out"
cp "$T/ph.manifest" "$T/ph2.manifest"
"$VRIFT" run -m "$T/ph2.manifest" -- true >/dev/null 2>&1
check_eq "a new session for the same root ends the lingering one at once" 1 "$(sessions_now)"
# A daemon of an older vrift offers neither SESSION_REPLY flags nor leases: vrift run checks the
# skeleton itself and waits for CMD, as before (VRIFT_DAEMON_CAPABILITIES: the daemon's test hook).
stop_daemon
VRIFT_DAEMON_CAPABILITIES=0 "$VRIFT" daemon start >/dev/null 2>&1 || not_ok "starting a capability-less daemon"
"$VRIFT" run -m "$T/ph.manifest" -- true >/dev/null 2>&1 # a session, watched if it could be
out=$("$VRIFT" -vv run -m "$T/ph.manifest" -- sh -c 'echo $$ > "$1"' sh "$T/old.pid" 2>&1 &
      echo "pid $!"; wait $!; echo "rc $?")
check_eq "older daemon: CMD still runs" "rc 0" "$(grep '^rc' <<< "$out")"
check "older daemon: the skeleton is checked by vrift run" bash -c "! grep -q 'watched by the daemon' <<< '$out'"
check "older daemon: no lease, so CMD is a child and vrift waits" \
  test "$(cat "$T/old.pid")" != "$(sed -n 's/^pid //p' <<< "$out")"
# Its greeting does not name its store either: vrift run asks with STATUS, and still refuses a
# daemon that serves another store.
out=$(VR_THE_SOURCE="$T/other-store" "$VRIFT" run -m "$T/ph.manifest" -- true 2>&1); rc=$?
check_eq "older daemon, another store: vrift run refuses" 125 "$rc"
check_contains "older daemon, another store: says which" "serves the store '$VR_THE_SOURCE'" "$out"
stop_daemon
mkdir -p "$T/at3"
"$VRIFT" run -m "$M" --at "$T/at3" -- sh -c 'echo $$ > "$1"' sh "$T/cmd3.pid" >/dev/null 2>&1 &
runpid=$!; wait "$runpid"
check "directories to remove afterwards: CMD is a child, vrift waits for it" \
  test "$(cat "$T/cmd3.pid")" != "$runpid"
check_eq "and removes them" "" "$(ls -A "$T/at3")"

# --- a command inside a projection: after a phantom ingest it exists only in the store
X="$T/xproj"; mkdir -p "$X/bin" "$X/node_modules/pkg" "$X/node_modules/.bin"
printf '#!/bin/echo hello\n' > "$X/bin/tool"; printf '#!/bin/echo cli\n' > "$X/node_modules/pkg/cli.js"
chmod 755 "$X/bin/tool" "$X/node_modules/pkg/cli.js"
ln -s ../pkg/cli.js "$X/node_modules/.bin/cli"
printf 'data\n' > "$X/bin/data"; cp /bin/true "$X/bin/binary"
# A virtualenv's shape: bin/python a link to an interpreter outside the project, found next to
# its pyvenv.cfg from argv[0]; and a relative link climbing out of the project.
mkdir -p "$X/venv/bin" "$T/outside"
printf '#!/bin/sh\necho "outside $0 $*"\n' > "$T/outside/tool"; chmod 755 "$T/outside/tool"
ln -s /usr/bin/python3 "$X/venv/bin/python"; ln -s python "$X/venv/bin/python3" # not pyenv's shim
printf 'home = /usr/bin\ninclude-system-site-packages = false\n' > "$X/venv/pyvenv.cfg"
ln -s ../../outside/tool "$X/bin/up"; ln -s /nonexistent-vrift/x "$X/venv/bin/gone"
want=$(cd "$X" && ./bin/tool a b)
"$VRIFT" ingest "$X" --mode phantom -o "$T/x.manifest" >/dev/null 2>&1
check "phantom ingest took the files away" test ! -e "$X/bin/tool" -a ! -e "$X/node_modules/.bin/cli"
check_eq "a projected script runs through its interpreter, as the kernel would run it" "$want" \
  "$(cd "$X" && "$VRIFT" run -m "$T/x.manifest" -- ./bin/tool a b 2>&1)"
check_eq "also through a symlink of the manifest" "cli node_modules/.bin/cli x" \
  "$(cd "$X" && "$VRIFT" run -m "$T/x.manifest" -- node_modules/.bin/cli x 2>&1)"
check_eq "and found through PATH in a projected directory" "cli $X/node_modules/.bin/cli y" \
  "$(cd / && PATH="$X/node_modules/.bin:$PATH" "$VRIFT" run -m "$T/x.manifest" -- cli y 2>&1)"
# (with the real shim, found beside vrift: python reads pyvenv.cfg, sh its script through it)
check_eq "a projected link to a program outside the projections runs that program" \
  "$X/venv True" \
  "$(cd "$X" && env -u VRIFT_SHIM "$VRIFT" run -m "$T/x.manifest" -- venv/bin/python3 -c 'import sys; print(sys.prefix, sys.prefix != sys.base_prefix)' 2>&1)"
check_eq "a script there gets the name it was run by, as from the kernel" "outside bin/up a" \
  "$(cd "$X" && env -u VRIFT_SHIM "$VRIFT" run -m "$T/x.manifest" -- bin/up a 2>&1)"
expect_fail "a projected link to a missing program outside: 127" 127 "No such file" \
  "$VRIFT" run -m "$T/x.manifest" -- "$X/venv/bin/gone"
expect_fail "a projected binary cannot run from the store: 126" 126 "exists only in the store" \
  "$VRIFT" run -m "$T/x.manifest" -- "$X/bin/binary"
expect_fail "a projected file without x permission: 126" 126 "Permission denied" \
  "$VRIFT" run -m "$T/x.manifest" -- "$X/bin/data"
expect_fail "a path the manifest does not have: 127" 127 "No such file" \
  "$VRIFT" run -m "$T/x.manifest" -- "$X/bin/none"

# --- signals (job control: a background vrift gets SIGINT like a foreground one)
set -m
rm -f "$T/s.log" "$T/s.ready"
"$VRIFT" run -m "$M" -- "$T/helper" "$T/s.log" "$T/s.ready" "$T/s.stop" & pid=$!
wait_for "$T/s.ready"
kill -INT "$pid"; sleep 0.3; kill -USR1 "$pid"; sleep 0.3; kill -TERM "$pid"
wait "$pid"; rc=$?
check_eq "SIGINT, SIGUSR1 and SIGTERM sent to vrift reach CMD, once each" "INT USR1 TERM" "$(tr '\n' ' ' < "$T/s.log" | sed 's/ $//')"
check_eq "vrift exits with CMD's status after it handled SIGTERM" 7 "$rc"
"$VRIFT" run -m "$M" -- sh -c 'kill -KILL $$' 2>/dev/null; rc=$?
check_eq "CMD killed by SIGKILL: vrift dies by SIGKILL (137)" 137 "$rc"
"$VRIFT" run -m "$M" -- sh -c 'kill -TERM $$' 2>/dev/null; rc=$?
check_eq "CMD killed by SIGTERM: 143" 143 "$rc"
rm -f "$T/s.ready"
"$VRIFT" run -m "$M" -- sh -c 'echo > "$1"; exec sleep 30' sh "$T/s.ready" & pid=$!
wait_for "$T/s.ready"; sleep 0.1
kill -TERM "$pid"; wait "$pid"; rc=$?
check_eq "SIGTERM to vrift with a CMD that does not handle it: both die by it" 143 "$rc"
set +m
# ^C on a terminal goes to the whole foreground group: CMD must get it once, not twice.
rm -f "$T/t.log" "$T/t.ready" "$T/t.stop"
out=$(python3 - "$VRIFT" "$M" "$T/helper" "$T/t.log" "$T/t.ready" "$T/t.stop" <<'PY' 2>&1
import os, pty, select, sys, time
vrift, manifest, helper, log, ready, stop = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(vrift, [vrift, "run", "-m", manifest, "--", helper, log, ready, stop])
def drain(t):
    end = time.time() + t
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                os.read(fd, 4096)
            except OSError:
                return
deadline = time.time() + 10
while not os.path.exists(ready) and time.time() < deadline:
    drain(0.05)
os.write(fd, b"\x03")
drain(0.5)
open(stop, "w").close()
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
PY
)
check_eq "a terminal's ^C reaches CMD once" "INT" "$(cat "$T/t.log" 2>/dev/null)"
check_eq "and vrift exits with CMD's status" 0 "$out"

# --- the fast path (run/fast_run.cpp, docs/run.md): `vrift run --manifest ... -- CMD` done from
# the entry point when the daemon has the session and vouches for its skeleton. With
# VRIFT_FAST_RUN=require (a test hook) a run it does not take fails with its reason, so a
# success below means the fast path ran it; VRIFT_FAST_RUN=0 turns it off.
if [ "$(uname -m)" != x86_64 ]; then
  echo "skip - the fast path (x86-64 only)"
else
  fast() { VRIFT_FAST_RUN=require "$VRIFT" run "$@"; }
  # The session is the phantom tree's; the daemon vouches for its skeleton from its second open.
  for _ in $(seq 1 50); do fast -m "$T/ph.manifest" -- true 2>/dev/null && break; sleep 0.1; done
  fast -m "$T/ph.manifest" -- true 2>"$T/fast.err"
  check_eq "a run of an open, vouched session takes the fast path" "0|" "$?|$(cat "$T/fast.err")"
  check_eq "CMD's status" 3 "$(fast -m "$T/ph.manifest" -- sh -c 'exit 3' 2>/dev/null; echo $?)"
  VRIFT_FAST_RUN=require "$VRIFT" run -m "$T/ph.manifest" -- sh -c 'echo $$ > "$1"' sh "$T/fast.pid" 2>/dev/null &
  pid=$!
  wait "$pid"
  check_eq "CMD is vrift's process (exec in place)" "$pid" "$(cat "$T/fast.pid")"
  # The environment is the full path's, byte for byte. The full path for sure: `vrift -v run`,
  # which the fast path never takes, less the VRIFT_LOG=1 that -v adds.
  full() { VRIFT_FAST_RUN=require "$VRIFT" -v run "$@" 2>/dev/null | grep -v '^VRIFT_LOG=1$'; }
  quick() { VRIFT_FAST_RUN=require "$VRIFT" run "$@" 2>/dev/null; }
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" # (LD_PRELOAD below)
  for pre in unset "" "/lib/other.so" "$STUB" " $STUB:/lib/x.so" ":"; do
    if [ "$pre" = unset ]; then
      a=$(env -u LD_PRELOAD bash -c "$(declare -f quick); quick -m '$T/ph.manifest' -- env")
      b=$(env -u LD_PRELOAD bash -c "$(declare -f full); full -m '$T/ph.manifest' -- env")
    else
      a=$(LD_PRELOAD="$pre" quick -m "$T/ph.manifest" -- env)
      b=$(LD_PRELOAD="$pre" full -m "$T/ph.manifest" -- env)
    fi
    check_eq "the environment with LD_PRELOAD '$pre': the full path's" "$b" "$a"
  done
  check_contains "(it carries the session)" "VRIFT_PROJECTIONS=$(realpath "$T/ph")" "$a"
  a=$(VRIFT_PROJECTIONS=old VRIFT_STORE=old UV_USE_IO_URING=1 quick -m "$T/ph.manifest" -- env)
  b=$(VRIFT_PROJECTIONS=old VRIFT_STORE=old UV_USE_IO_URING=1 full -m "$T/ph.manifest" -- env)
  check_eq "inherited VRIFT_PROJECTIONS, VRIFT_STORE, UV_USE_IO_URING replaced as the full path does" "$b" "$a"
  check_eq "(and replaced)" "" "$(grep -E '=old$|^UV_USE_IO_URING=1$' <<< "$a")"
  args=(printf '[%s]' '' 'a b' -- -x '--manifest' "$T/ph.manifest")
  check_eq "CMD's arguments as given" "$(full --manifest "$T/ph.manifest" -- "${args[@]}")" \
    "$(quick --manifest "$T/ph.manifest" -- "${args[@]}")"
  check_eq "CMD without -- (its first plain argument)" "$(full -m "$T/ph.manifest" printf '[%s]' x -m y)" \
    "$(quick -m "$T/ph.manifest" printf '[%s]' x -m y)"
  check_eq "(and taken by the fast path)" "0|" "$(fast -m "$T/ph.manifest" true 2>&1; echo "$?|")"
  # Two manifests at once, and a script through #!/usr/bin/env.
  "$VRIFT" run -m "$T/ph.manifest" -m "$T/q.manifest" -- true 2>/dev/null
  for _ in $(seq 1 50); do fast -m "$T/ph.manifest" -m "$T/q.manifest" -- true 2>/dev/null && break; sleep 0.1; done
  a=$(quick -m "$T/ph.manifest" --manifest="$T/q.manifest" -- env)
  b=$(full -m "$T/ph.manifest" --manifest="$T/q.manifest" -- env)
  check_eq "two manifests: the full path's environment" "$b" "$a"
  check_eq "a #!/usr/bin/env script" 6 "$(fast -m "$T/ph.manifest" -- "$T/env-script" 2>/dev/null; echo $?)"
  # Paths as given, resolved as realpath(3) does: a lexically canonical one opened with no
  # symlink on the way is its own, any other is resolved through /proc (fast_run.cpp,
  # open_canonical). The manifest, the store and the shim, through symlinks and . / .. / //:
  ln -sfn "$T" "$T/tlink"
  ln -sfn "$VR_THE_SOURCE" "$T/storelink"
  ln -sfn "$T/stub.so" "$T/stublink.so"
  for m in "$T/tlink/ph.manifest" "$T/./ph.manifest" "$T//ph.manifest" "$T/ph/../ph.manifest" ph.manifest; do
    a=$(cd "$T" && quick -m "$m" -- env)
    b=$(cd "$T" && full -m "$m" -- env)
    check_eq "the manifest as '$m': the full path's environment" "$b" "$a"
  done
  check_contains "(the manifest's canonical path)" "$(realpath "$T/ph.manifest")	" "$a"
  for v in "VR_THE_SOURCE=$T/storelink" "VR_THE_SOURCE=$VR_THE_SOURCE/" "VRIFT_SHIM=$T/stublink.so" \
    "VRIFT_SHIM=$T/ph/../stub.so"; do
    a=$(env "$v" bash -c "$(declare -f quick); quick -m '$T/ph.manifest' -- env")
    b=$(env "$v" bash -c "$(declare -f full); full -m '$T/ph.manifest' -- env")
    check_eq "$v: the full path's environment" "$b" "$a"
  done
  # The shim in ../lib/vrift/ of the binary's directory (as the installed layout has it), found
  # lexically; beside the binary (set up above, where it wins).
  rm -f "$T/inst/bin/libvrift_shim.so"
  a=$(env -u VRIFT_SHIM VRIFT_FAST_RUN=require "$T/inst/bin/vrift" run -m "$T/ph.manifest" -- env 2>&1)
  b=$(env -u VRIFT_SHIM VRIFT_FAST_RUN=require "$T/inst/bin/vrift" -v run -m "$T/ph.manifest" -- env 2>/dev/null | grep -v '^VRIFT_LOG=1$')
  check_eq "the shim in ../lib/vrift/: the full path's environment" "$b" "$a"
  check_contains "(that shim)" "LD_PRELOAD=$(realpath "$T/inst/lib/vrift/libvrift_shim.so")" "$a"
  ln -sfn inst "$T/inst-link"
  a=$(env -u VRIFT_SHIM VRIFT_FAST_RUN=require "$T/inst-link/bin/vrift" run -m "$T/ph.manifest" -- env 2>&1)
  check_contains "(a binary run through a symlink: the shim's canonical path)" \
    "LD_PRELOAD=$(realpath "$T/inst/lib/vrift/libvrift_shim.so")" "$a"
  # What it leaves to the full path, and why (each then gets the full path's answer, above).
  why() { fast "$@" 2>&1 >/dev/null | sed -n 's/^vrift: the fast path was not taken: //p'; }
  check_eq "zero-config outside a project" "no project found (the full path says so)" "$(cd "$T/ph" && why -- true)"
  check_eq "--at" "an option it does not take" "$(why -m "$M" --at "$T/same" -- true)"
  check_eq "a command not on disk" "a command not found on disk" "$(why -m "$T/ph.manifest" -- no-such-command-here)"
  check_eq "VRIFT_LOG" "VRIFT_LOG" "$(VRIFT_LOG=1 why -m "$T/ph.manifest" -- true)"
  check_eq "a missing manifest" "a manifest that cannot be opened" "$(why -m "$T/nope.manifest" -- true)"
  check_eq "a corrupt manifest" "a manifest whose header this path does not take" "$(why -m "$T/bad.manifest" -- true)"
  mkfifo "$T/fifo.manifest"
  check_eq "a FIFO as manifest (not waited on)" "a manifest that is not a regular file" \
    "$(timeout 10 bash -c "$(declare -f fast why); why -m '$T/fifo.manifest' -- true")"
  check_eq "two manifests at one root" "two manifests at one root" "$(why -m "$T/ph.manifest" -m "$T/ph.manifest" -- true)"
  check_eq "a relative PATH entry" "a relative PATH entry" "$(PATH=".:$PATH" why -m "$T/ph.manifest" -- true)"
  check_eq "a PATH entry with .." "a PATH entry with . or .." \
    "$(PATH="$T/ph/src/../src:$PATH" why -m "$T/ph.manifest" -- true)"
  check_eq "a command that may be inside a projection" "a command that may be inside a projection" \
    "$(PATH="$T/ph/src:$PATH" why -m "$T/ph.manifest" -- true)"
  check_eq "a PATH directory that does not exist is a miss, as for the full path" "0|" \
    "$(PATH="$T/no/such/dir:$PATH" fast -m "$T/ph.manifest" -- true 2>&1; echo "$?|")"
  check_eq "a file the kernel will not execute (the full path runs it with /bin/sh)" "the exec failed" \
    "$(why -m "$T/ph.manifest" -- "$T/no-shebang")"
  check_eq "a stack limit under 1 MiB" "a stack limit under 1 MiB" \
    "$(bash -c "ulimit -s 512; $(declare -f fast why); why -m '$T/ph.manifest' -- true")"
  check_eq "(where the full path still runs it)" 0 "$(bash -c "ulimit -s 512; '$VRIFT' run -m '$T/ph.manifest' -- true 2>/dev/null; echo \$?")"
  if ! readelf -lW "$VRIFT" | grep -q 'INTERP'; then
    cp "$VRIFT" "$T/vrift-copy"
    check_eq "a static program (a copy of vrift)" "a program the shim may not see" \
      "$(why -m "$T/ph.manifest" -- "$T/vrift-copy" --version)"
    check_eq "vrift itself is let through" "0 $("$VRIFT" --version)" \
      "$(out=$(fast -m "$T/ph.manifest" -- "$VRIFT" --version 2>&1); echo "$? $out")"
    # A script `#!/usr/bin/env tool` whose tool is static, behind PATH entries long enough to
    # fill the fast path's memory (a second reviewer's case): it must leave, never run the tool.
    mkdir -p "$T/envt/bin1" "$T/envt/bin2"; cp "$VRIFT" "$T/envt/bin2/tool"
    printf '#!/usr/bin/env tool\n' > "$T/envt/bin1/s"; chmod +x "$T/envt/bin1/s"
    seg=$(head -c 200 /dev/zero | tr '\0' x); long=""
    for i in $(seq 1 20); do long="$long:$T/envt/$i$(printf "/$seg%.0s" $(seq 1 16))"; done
    reason=$(PATH="$T/envt/bin1$long:$T/envt/bin2:$PATH" why -m "$T/ph.manifest" -- s)
    check "long PATH, script under a static tool: left to the full path ($reason)" test -n "$reason"
    check_eq "which refuses it" 126 "$(PATH="$T/envt/bin1$long:$T/envt/bin2:$PATH" run_rc -m "$T/ph.manifest" -- s)"
  fi
  check_eq "a --prefix manifest" "a manifest that may have been ingested with --prefix" "$(why -m "$T/web.manifest" -- true)"
  check_eq "a setuid program" "a program the shim may not see" "$(why -m "$T/ph.manifest" -- "$T/suid-true")"
  check_eq "a script under a setuid program" "a program the shim may not see" \
    "$(PATH="$T/bin:$PATH" why -m "$T/ph.manifest" -- "$T/suid-env-script")"
  if [ -x "$T/static-helper" ]; then
    check_eq "a static program" "a program the shim may not see" "$(why -m "$T/ph.manifest" -- "$T/static-helper")"
  fi
  mkdir -p "$T/cfghome/.vrift"; : > "$T/cfghome/.vrift/config.toml"
  check_eq "a config file (it may name the store)" "a config file" "$(HOME="$T/cfghome" why -m "$T/ph.manifest" -- true)"
  check_eq "a daemon of another store" "a daemon of another version or store" \
    "$(VR_THE_SOURCE="$T" why -m "$T/ph.manifest" -- true)"
  # Zero-config: the project around the current directory, when the daemon vouches for its tree.
  mkdir -p "$T/zc/src/deep"; echo '{}' > "$T/zc/package.json"; echo 'x' > "$T/zc/src/a.js"
  check_eq "zero-config before its first walk" "no writable .vrift directory yet" \
    "$(cd "$T/zc/src" && why -- true)"
  # One walk (0.2 s after the tree's last change: a ctime closer to the walk proves nothing), and
  # the daemon vouches for the tree: the root that walk changed (.vrift/) is listed.
  sleep 0.2
  (cd "$T/zc/src/deep" && "$VRIFT" run -- true 2>/dev/null)
  for _ in $(seq 1 50); do (cd "$T/zc/src/deep" && fast -- true 2>/dev/null) && break; sleep 0.1; done
  (cd "$T/zc/src/deep" && fast -- true 2>"$T/fast.err")
  check_eq "zero-config, unchanged, takes the fast path (from a directory below the root)" \
    "0|" "$?|$(cat "$T/fast.err")"
  a=$(cd "$T/zc/src" && fast -- env 2>&1 | grep -v '^VRIFT_FAST_RUN=')
  b=$(cd "$T/zc/src" && VRIFT_FAST_RUN=0 "$VRIFT" run -- env 2>&1 | grep -v '^VRIFT_FAST_RUN=')
  check_eq "zero-config: the full path's environment" "$b" "$a"
  check_contains "(the project's transient manifest, at its root)" \
    "$(realpath "$T/zc")/.vrift/run.manifest" "$a"
  echo 'y' >> "$T/zc/src/a.js"
  check_eq "zero-config after an edit: the full path walks" \
    "a tree the daemon has not vouched for (the full path walks it)" "$(cd "$T/zc/src" && why -- true)"
  check_eq "which it does" 1 "$(cd "$T/zc/src" && "$VRIFT" run -- grep -c y "$T/zc/src/a.js" 2>/dev/null)"
  # The re-ingest cache a walk leaves to a thread (written while the sessions open) is complete
  # before CMD starts, which an exec would cut short: with its write held up (a test hook), the
  # run after another edit still finds every file it did not change in the cache.
  mkdir -p "$T/zcc/src"; echo '{}' > "$T/zcc/package.json"; echo 'x' > "$T/zcc/src/a.js"
  echo 'x' > "$T/zcc/src/b.js"
  (cd "$T/zcc" && VRIFT_TEST_CACHE_DELAY_MS=500 "$VRIFT" run -- true 2>/dev/null)
  echo 'z' >> "$T/zcc/src/a.js"
  check_contains "a walk's cache is written before CMD starts (the next walk reads one file)" \
    "3 files, 2 unchanged" "$(cd "$T/zcc" && "$VRIFT" -v run -- true 2>&1 >/dev/null)"
  : > "$T/zc/vrift.toml"
  check_eq "zero-config with a vrift.toml (a config to parse)" "a vrift.toml (a project config)" \
    "$(cd "$T/zc/src" && why -- true)"
  rm "$T/zc/vrift.toml"
  : > "$T/zc/vrift.manifest"
  check_eq "zero-config with a vrift.manifest of the project's own" \
    "a vrift.manifest of the project's own" "$(cd "$T/zc/src" && why -- true)"
  rm "$T/zc/vrift.manifest"
  check_eq "the search for the root stops below HOME when it starts inside it" \
    "no project found (the full path says so)" "$(cd "$T/zc/src/deep" && HOME="$T/zc/src" why -- true)"
  check_eq "(as the full path's)" 125 "$(cd "$T/zc/src/deep" && HOME="$T/zc/src" run_rc -- true)"
  stop_daemon
  check_eq "no daemon (the full path starts one)" "no daemon listening (the full path starts one)" \
    "$(why -m "$T/ph.manifest" -- true)"
  "$VRIFT" daemon start >/dev/null 2>&1
  check_eq "a new session (its skeleton not yet watched)" \
    "a skeleton the daemon has not vouched for" "$(why -m "$T/ph.manifest" -- true)"
  check_eq "without require, the full path then runs it" 0 "$(run_rc -m "$T/ph.manifest" -- true)"
fi

stop_daemon
finish

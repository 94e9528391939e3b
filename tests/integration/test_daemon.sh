#!/usr/bin/env bash
# The daemon through its real socket: start/status/stop, one daemon per user even when started
# concurrently, sessions and their VDir, commits and mutations from several clients, another
# uid refused, a failing request answered while the daemon keeps serving, kill -9 during
# commits with nothing acknowledged lost, and stale staging files cleaned up.
source "$(dirname "$0")/lib.sh"
TC=${VRIFT_TESTCLIENT:?VRIFT_TESTCLIENT must point at vrift_testclient}
export VRIFT_RUNTIME_DIR="$T/run" VRIFT_VDIR_DIR="$T/vdir"
SOCK="$T/run/vriftd.sock"
jget() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
stop_daemon() { "$VRIFT" daemon stop >/dev/null 2>&1; }
trap 'stop_daemon; cleanup' EXIT

P="$T/proj"
mkdir -p "$P/src" "$P/.vrift/staging"
printf 'int main;\n' > "$P/src/main.c"
"$VRIFT" ingest "$P" -o "$T/p.manifest" >/dev/null 2>&1
M="$T/p.manifest"

# --- lifecycle
"$VRIFT" daemon status >/dev/null 2>&1
check_eq "status says not running before start (exit 1)" 1 "$?"
out=$("$VRIFT" daemon start); check_contains "start" "running (pid" "$out"
j=$("$VRIFT" daemon status --json)
check_eq "status: running" True "$(jget "$j" running)"
pid=$(jget "$j" pid)
check "status: pid is a live process" kill -0 "$pid"
check_eq "status: serves the store of the path authority" "$VR_THE_SOURCE" "$(jget "$j" store)"
check_eq "socket directory is 0700" 700 "$(stat -c %a "$T/run")"
check_eq "socket is a socket file on disk" socket "$(stat -c %F "$SOCK" | cut -d' ' -f1)"
for _ in 1 2 3 4 5; do "$VRIFT" daemon start >/dev/null & done; wait
check_eq "concurrent starts leave one daemon" "$pid" "$(jget "$("$VRIFT" daemon status --json)" pid)"
check_eq "one vriftd process" 1 "$(pgrep -f -x "$VRIFT daemon run --the-source-root $VR_THE_SOURCE" | wc -l)"

# --- sessions, VDir, commits, mutations
out=$("$TC" open "$SOCK" "$P" "$M"); check_contains "session opens" "session=" "$out"
vdir=$(ls "$T/vdir"/*.vdir 2>/dev/null | head -1)
check "the session has a VDir file on tmpfs" test -n "$vdir"
check_contains "VDir is filled from the manifest before the first reply" "hit" "$("$TC" lookup "$vdir" src/main.c)"
check_contains "VDir miss for an unknown path" "miss" "$("$TC" lookup "$vdir" src/nope.c)"
# Keep one session open in the background so the VDir stays while we probe it.
"$TC" commit-loop "$SOCK" "$P" "$M" 3 >/dev/null
out=$("$TC" commit "$SOCK" "$P" "$M" src/new.c 'hello world'); check_contains "commit acked with size" "size=11" "$out"
vdir=$(ls "$T/vdir"/*.vdir 2>/dev/null | head -1)
check_contains "the VDir shows the committed file" "size=11" "$("$TC" lookup "$vdir" src/new.c)"
check_contains "mkdir" ok "$("$TC" mutate "$SOCK" "$P" "$M" mkdir build)"
check_contains "rename" ok "$("$TC" mutate "$SOCK" "$P" "$M" rename src/new.c build/new.c)"
check_contains "chmod" ok "$("$TC" mutate "$SOCK" "$P" "$M" chmod build/new.c 600)"
check_contains "symlink" ok "$("$TC" mutate "$SOCK" "$P" "$M" symlink ../src/main.c build/link)"
check_contains "renamed path is deleted in the VDir" "deleted" "$("$TC" lookup "$vdir" src/new.c)"
check_contains "new path is there" "hit mode=100600 size=11" "$("$TC" lookup "$vdir" build/new.c)"
err=$("$TC" mutate "$SOCK" "$P" "$M" rmdir build 2>&1); rc=$?
check_eq "rmdir of a non-empty directory fails" 1 "$rc"
check_contains "with the right error" "Directory not empty" "$err"
err=$("$TC" commit "$SOCK" "$P" "$M" ../escape x 2>&1); rc=$?
check_eq "a path escaping the projection is refused" 1 "$rc"
check_contains "the daemon keeps serving after failed requests" "size=2" "$("$TC" commit "$SOCK" "$P" "$M" src/ok.c ok)"

# --- several clients at once
for k in 1 2 3; do ( "$TC" commit-loop "$SOCK" "$P" "$M" 200 > "$T/loop$k.out" 2>&1 ) & done; wait
check_eq "three clients, 200 acked commits each" "200 200 200" "$(wc -l < "$T/loop1.out") $(wc -l < "$T/loop2.out") $(wc -l < "$T/loop3.out")"
stop_daemon
check "stop removes the socket" test ! -e "$SOCK"
show=$("$VRIFT" manifest show --json "$M")
check_contains "the manifest was checkpointed with the commits" '"path":"loop/f199"' "$show"
check_contains "and the mutations" '"path":"build/link"' "$show"
check "every blob is sound" store_is_sound
check_eq "nothing is orphaned: the new manifest is registered" 0 "$(jget "$("$VRIFT" gc --json)" orphans)"

# --- another uid gets nothing
"$VRIFT" daemon start >/dev/null
if command -v setpriv >/dev/null; then
  err=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$TC" open "$SOCK" "$P" "$M" 2>&1); rc=$?
  check_eq "another uid cannot use the daemon (0700 directory)" 1 "$rc"
  chmod 0711 "$T/run"; chmod 0666 "$SOCK"
  err=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$TC" open "$SOCK" "$P" "$M" 2>&1); rc=$?
  check_eq "even with open permissions the peer uid check refuses" 1 "$rc"
  check "and sends no greeting" bash -c "! grep -q 'session=' <<< '$err'"
  chmod 0700 "$T/run"; chmod 0600 "$SOCK"
  check_contains "the owner is still served" "session=" "$("$TC" open "$SOCK" "$P" "$M")"
else
  not_ok "setpriv missing: cannot test the uid check as root"
fi

# --- the daemon's own checkpoint rewrites the manifest: a second client still gets the same
# session (it used to get a second tree sharing the first one's journal; changes were lost)
mkfifo "$T/hold.fifo"
( "$TC" hold "$SOCK" "$P" "$M" < "$T/hold.fifo" > "$T/hold.out" ) &
holder=$!
exec 9> "$T/hold.fifo"
for _ in $(seq 1 100); do grep -q session= "$T/hold.out" 2>/dev/null && break; sleep 0.05; done
held=$(cat "$T/hold.out")
before=$(stat -c '%i %Y %s' "$M")
check_contains "mkdir acknowledged" ok "$("$TC" mutate "$SOCK" "$P" "$M" mkdir ckpt_a)"
for _ in $(seq 1 100); do [ "$(stat -c '%i %Y %s' "$M")" != "$before" ] && break; sleep 0.05; done
check "the idle checkpoint rewrote the manifest" test "$(stat -c '%i %Y %s' "$M")" != "$before"
check_eq "a client after the checkpoint joins the live session" "$held" "$("$TC" open "$SOCK" "$P" "$M")"
check_contains "and sees the change made before it" ok "$("$TC" mutate "$SOCK" "$P" "$M" rmdir ckpt_a)"
sid=${held#session=}
check_contains "a connection that did not open the session may use it (the shim's way)" ok \
  "$("$TC" mkdir-in "$SOCK" "$sid" from_other_conn 2>&1)"
check_contains "an unknown session is error kind unknown_session" unknown_session \
  "$("$TC" mkdir-in "$SOCK" 987654 x 2>&1)"
exec 9>&-
wait "$holder"

# --- a manifest rewritten in place to the same size and mtime is another tree, not the same file:
# a session is not reused for it (its key has the header's id besides dev, inode, size, mtime)
mkdir -p "$T/same/d"
echo hi >"$T/same/d/f"
"$VRIFT" ingest "$T/same" -o "$T/same.a.manifest" >/dev/null 2>&1 || not_ok "ingest same (a)"
chmod 755 "$T/same/d/f"
"$VRIFT" ingest "$T/same" -o "$T/same.b.manifest" >/dev/null 2>&1 || not_ok "ingest same (b)"
check_eq "two trees of one size (a chmod apart)" "$(stat -c %s "$T/same.a.manifest")" "$(stat -c %s "$T/same.b.manifest")"
cp "$T/same.a.manifest" "$T/same.manifest"
first=$("$TC" open "$SOCK" "$T/same" "$T/same.manifest")
ident=$(stat -c '%i %s %.9Y' "$T/same.manifest")
touch -r "$T/same.manifest" "$T/same.ref"
cat "$T/same.b.manifest" >"$T/same.manifest"
touch -r "$T/same.ref" "$T/same.manifest"
check_eq "the file keeps its inode, size and mtime" "$ident" "$(stat -c '%i %s %.9Y' "$T/same.manifest")"
second=$("$TC" open "$SOCK" "$T/same" "$T/same.manifest")
check "and gets a session of its own ($first, then $second)" test "$first" != "$second"
check_eq "the same file again: the same session" "$second" "$("$TC" open "$SOCK" "$T/same" "$T/same.manifest")"

# --- a client that stalls (connects and says nothing, or stops in the middle of a frame) keeps
# nobody else waiting: the daemon reads what has arrived and serves others meanwhile
stall=$(python3 - "$SOCK" "$TC" "$P" "$M" <<'PY'
import socket, subprocess, sys, time
sock, tc, p, m = sys.argv[1:5]
idle = [socket.socket(socket.AF_UNIX) for _ in range(3)]
for s in idle: s.connect(sock)                    # never greets
half = socket.socket(socket.AF_UNIX); half.connect(sock)
half.sendall(b"VRP1\x01\x00")                     # the first bytes of a HELLO, then nothing
time.sleep(0.1)
t = time.monotonic()
out = subprocess.run([tc, "open", sock, p, m], capture_output=True, text=True, timeout=30)
took = time.monotonic() - t
print("served" if out.returncode == 0 and took < 0.5 else
      "waited %.2f s: %s" % (took, out.stderr.strip()))
PY
)
check_eq "another client is served while four connections stall" served "$stall"
# --- kill -9 during commits: nothing acknowledged is lost
( "$TC" commit-loop "$SOCK" "$P" "$M" 100000 > "$T/acked" 2>/dev/null ) &
loop=$!
for _ in $(seq 1 100); do [ "$(wc -l < "$T/acked")" -ge 300 ] && break; sleep 0.05; done
dpid=$(jget "$("$VRIFT" daemon status --json)" pid)
kill -9 "$dpid"; wait $loop 2>/dev/null
acked=$(wc -l < "$T/acked")
check "commits were acknowledged before the kill ($acked)" test "$acked" -ge 300
"$VRIFT" daemon start >/dev/null
"$TC" open "$SOCK" "$P" "$M" >/dev/null   # reopening the session replays the journal
stop_daemon
"$VRIFT" manifest show --json "$M" > "$T/after.json"
lost=$(python3 - "$T/acked" "$T/after.json" <<'PY'
import json, subprocess, sys
acked = [int(l) for l in open(sys.argv[1]) if l.strip()]
entries = {e["path"]: e for e in json.load(open(sys.argv[2]))["entries"]}
lost = 0
for i in acked:
    e = entries.get(f"loop/f{i}")
    want = subprocess.run(["b3sum", "--no-names"], input=f"content {i}".encode(), capture_output=True).stdout.decode().strip()
    if not e or e["hash"] != want:
        lost += 1
print(lost)
PY
)
check_eq "no acknowledged commit lost after kill -9 ($acked acked)" 0 "$lost"
check "store sound after the kill" store_is_sound

# --- staging files that were never acknowledged
printf 'orphan write\n' > "$P/.vrift/staging/old.tmp"; touch -d '2 hours ago' "$P/.vrift/staging/old.tmp"
printf 'in flight\n' > "$P/.vrift/staging/fresh.tmp"
"$VRIFT" daemon start >/dev/null
"$TC" open "$SOCK" "$P" "$M" >/dev/null
check "an old unacknowledged staging file is cleaned up" test ! -e "$P/.vrift/staging/old.tmp"
check "a fresh one (a writer may still commit it) is kept" test -e "$P/.vrift/staging/fresh.tmp"
stop_daemon
finish

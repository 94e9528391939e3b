#!/usr/bin/env bash
# Zero-config's edit-run loop on a real tree: a copy of dataset A (or B) with one source file,
# appended to in place before each run (as an editor that writes in place saves it), then two
# more runs with nothing changed. Reports, over EDITS edits, the median and slowest of:
#   edit   the run after the edit (walks the project: a new manifest and a new session)
#   wait   within it, from "plan ready" to "sessions open" (vrift -vv run): the daemon's part
#   next   the run after that (nothing changed: the daemon vouches for the tree, no walk)
#   after  the one after that
# Each run is `vrift run -- true` in the project, timed with $EPOCHREALTIME.
#
# usage: bench/edit_loop.sh [EDITS] [DATA_DIR] [projA|projB]   (VRIFT=path to use another binary)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
edits=${1:-15}
data=${2:-/work/data}
tree=${3:-projA}
vrift=${VRIFT:-$(bash "$root/scripts/build.sh")}
bash "$root/datasets/fetch.sh" "$data" "$tree" >/dev/null
source "$root/bench/lib.sh"
bench_private "$(mktemp -d "$data/editloop.XXXXXX")" "$(mktemp -d /dev/shm/vrift-editloop.XXXXXX)"
p=$work/project
cp -a "$data/$tree" "$p"
mkdir -p "$p/src"
echo "console.log(0)" >"$p/src/app.js"
sync
cd "$p"
for _ in 1 2 3; do "$vrift" run -- true 2>/dev/null; sleep 0.3; done

ms() { # the wall time of "$@" in ms
  local t0=$EPOCHREALTIME
  "$@" >/dev/null 2>&1
  echo "($EPOCHREALTIME - $t0) * 1000" | bc -l
}
stats() { sort -g | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "median %.1f ms, slowest %.1f ms\n", m, a[NR]}'; }
: >"$work/edit" && : >"$work/wait" && : >"$work/next" && : >"$work/after"
for i in $(seq 1 "$edits"); do
  echo "console.log($i)" >>src/app.js
  sleep 1.2 # an edit older than the daemon's ctime margin when the walk begins
  t0=$EPOCHREALTIME
  "$vrift" -vv run -- true 2>"$work/err" >/dev/null
  echo "($EPOCHREALTIME - $t0) * 1000" | bc -l >>"$work/edit"
  awk '/plan ready at/ {p=$(NF-1)} /sessions open at/ {o=$(NF-1)} END {print o-p}' "$work/err" >>"$work/wait"
  sleep 0.3
  ms "$vrift" run -- true >>"$work/next"
  sleep 0.3
  ms "$vrift" run -- true >>"$work/after"
done
echo "edit-run loop, $tree, $edits edits ($vrift):"
for k in edit wait next after; do printf '  %-5s %s\n' "$k" "$(stats <"$work/$k")"; done

#!/usr/bin/env bash
# `vrift status` on a large store: N blobs (default 100,000) in three registered projects with
# known overlap, then the time of `vrift status` (median of REPS warm runs; with
# STATUS_BENCH_COLD=1 also one run after dropping the page cache) and a check of its figures.
#   project a: 40% of N distinct files
#   project b: 10% of N files shared with a, plus 30% of N new ones
#   project c: 10% of N shared with a, 10% shared with b, plus 30% of N new ones
# usage: bench/status_bench.sh [N] [REPS] [WORK_DIR]
#   VRIFT_BIN: the binary (default build/src/vrift/vrift). WORK_DIR (default: a temp dir, removed
#   afterwards) is kept, and a WORK_DIR from an earlier run with the same N is reused as it is.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-100000}
reps=${2:-5}
vrift=${VRIFT_BIN:-$root/build/src/vrift/vrift}
[ -x "$vrift" ] || { echo "status_bench: no vrift binary at $vrift (set VRIFT_BIN)" >&2; exit 1; }
if [ -n "${3:-}" ]; then
  work=$(realpath -m "$3")
  mkdir -p "$work"
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/vrift-status-bench.XXXXXX")
  # Removal in parallel: on a busy ext4 disk each unlink may wait for the journal.
  cleanup() { find "$work" -mindepth 2 -maxdepth 2 -print0 | xargs -0 -r -n 8 -P 8 rm -rf; rm -rf "$work"; }
  trap cleanup EXIT
fi
export HOME=$work/home VR_THE_SOURCE=$work/store
unset VRIFT_HOME
mkdir -p "$HOME"

# generate: the three trees, ingested in order a, b, c.
generate() {
  echo "== generating 3 projects over $n distinct contents in $work"
  python3 - "$work" "$n" <<'EOF'
import os, sys
work, n = sys.argv[1], int(sys.argv[2])
def write(proj, ids):
    for i in ids:
        d = os.path.join(work, proj, "m%03d" % (i % 1000))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "f%d.js" % i), "w") as f:
            f.write("module.exports = %d;\n" % i)
p = n // 10
write("a", range(0, 4 * p))
write("b", list(range(0, p)) + list(range(4 * p, 7 * p)))
write("c", list(range(p, 2 * p)) + list(range(4 * p, 5 * p)) + list(range(7 * p, n)))
EOF
  for p in a b c; do
    "$vrift" ingest "$work/$p" -o "$work/$p.manifest" --json >"$work/$p.json"
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print("   ingest %s: %d files in %.2f s" % (sys.argv[2], j["files"], j["seconds"]))' "$work/$p.json" "$p"
  done
  echo "$n" >"$work/.generated"
}
[ "$(cat "$work/.generated" 2>/dev/null)" == "$n" ] || generate

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# Cold run only on request: dropping the page cache slows down everything else on the machine.
if [ "${STATUS_BENCH_COLD:-0}" == 1 ] && [ -w /proc/sys/vm/drop_caches ]; then
  sync; echo 3 >/proc/sys/vm/drop_caches
  t0=$(now); "$vrift" status >/dev/null; t1=$(now)
  echo "   cold status (page cache dropped): $(echo "$t1 - $t0" | bc) s"
fi
: >"$work/times"
: >"$work/cpu"
for _ in $(seq 1 "$reps"); do
  t0=$(now)
  /usr/bin/time -f '%U %S' -o "$work/cpu1" "$vrift" status >/dev/null
  t1=$(now)
  echo "$t1 - $t0" | bc >>"$work/times"
  awk '{print $1 + $2}' "$work/cpu1" >>"$work/cpu"
done
echo "   warm status, median of $reps: $(median <"$work/times") s wall, $(median <"$work/cpu") s cpu (user+sys); $(nproc) cpus, load $(cut -d' ' -f1 /proc/loadavg)"
"$vrift" -vv status 2>&1 >/dev/null | sed 's/^/   /'

# The figures must be the ones the generator implies.
"$vrift" status --json >"$work/status.json"
python3 - "$work/status.json" "$n" <<'EOF'
import json, sys
j, n = json.load(open(sys.argv[1])), int(sys.argv[2])
p = n // 10
got = [(x["files"], x["unique_blobs"], x["shared_blobs"]) for x in j["projects"]]
want = [(4 * p, 4 * p, 0), (4 * p, 3 * p, p), (n - 5 * p, n - 7 * p, 2 * p)]
assert got == want, (got, want)
assert j["total_blobs"] == n and j["orphaned_blobs"] == 0, j
print("   figures check: ok (%d blobs, projects %s)" % (j["total_blobs"], got))
EOF
"$vrift" status

#!/usr/bin/env bash
# What a write to a solid projection's file costs under the shim (docs/shim.md, "Solid
# projections follow the disk"): the first open for writing of a file that shares its blob's
# inode claims it and gives it an inode of its own (a copy beside it, renamed over it); later
# ones only find it claimed. One python process appends a line to each of N small files, timed
# inside the process, under `vrift run --manifest` of a solid ingest against the same loop on an
# identical copy that was never ingested (the kernel alone), alternating, RUNS times.
#   append 1  the first append to each file in a fresh session (claim + copy)
#   append 2  the second (the file is its own already: the claim only)
#   truncate  a "w" open of each in another fresh session (claim; nothing to copy)
# usage: bench/solid_writes.sh [N] [RUNS]   (defaults 2000 and 5)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-2000}
runs=${2:-5}
vrift=$(bash "$root/scripts/build.sh")
source "$root/bench/lib.sh"
bench_private "$(mktemp -d)" "$(mktemp -d /dev/shm/vrift-solidw.XXXXXX 2>/dev/null || mktemp -d)"
"$vrift" daemon start >/dev/null
cat >"$work/loop.py" <<'EOF'
import os, sys, time
names = sorted(os.listdir("."))
mode = sys.argv[1]
t0 = time.perf_counter()
for name in names:
    with open(name, mode) as f:
        f.write("x\n")
print(f"{(time.perf_counter() - t0) * 1e6 / len(names):.2f}")
EOF
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
declare -A us
for r in $(seq 1 "$runs"); do
  for kind in solid plain; do
    d=$work/$kind.$r
    mkdir -p "$d"
    for i in $(seq 1 "$n"); do printf 'file %s of run %s (%s)\n' "$i" "$r" "$kind" >"$d/f$i.txt"; done
  done
  "$vrift" ingest "$work/solid.$r" -o "$work/m.$r" >/dev/null
  for step in "append 1:a:m" "append 2:a:m" "truncate:w:t"; do
    IFS=: read -r name mode man <<<"$step"
    if [ "$man" = t ]; then # a fresh session on new files that share their blobs' inodes
      rm -rf "$work/solid.$r" && mkdir -p "$work/solid.$r"
      for i in $(seq 1 "$n"); do printf 'file %s of run %s (again)\n' "$i" "$r" >"$work/solid.$r/f$i.txt"; done
      "$vrift" ingest "$work/solid.$r" -o "$work/t.$r" >/dev/null
    fi
    s=$(cd "$work/solid.$r" && "$vrift" run -m "$work/$man.$r" -- python3 "$work/loop.py" "$mode")
    p=$(cd "$work/plain.$r" && python3 "$work/loop.py" "$mode")
    us["$name s"]+="$s "; us["$name p"]+="$p "
  done
done
echo "solid_writes: $n files x $runs runs, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "| open for writing + write + close, per file | under vrift run (solid) | kernel alone | ratio |"
echo "|---|---|---|---|"
for name in "append 1" "append 2" "truncate"; do
  s=$(tr ' ' '\n' <<<"${us["$name s"]}" | grep . | median)
  p=$(tr ' ' '\n' <<<"${us["$name p"]}" | grep . | median)
  printf '| %s | %.2f us | %.2f us | %.2f |\n' "$name" "$s" "$p" "$(echo "$s / $p" | bc -l)"
done

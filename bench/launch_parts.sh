#!/usr/bin/env bash
# Where python's ratio through `vrift run` goes (docs/benchmarks.md, "Session 16"): the shim
# alone against vrift run, and vrift run's own start against the cost of loading a library.
# Every command is started through bench/tenv.c (an exec trampoline without libc, ~40 us), so
# that each pays the same one extra exec, and alternated by bench/alternate.c (paired medians).
#   python3 -B main.py, 200 modules:  physical  |  the shim alone (projection)  |  vrift run
#   true:  bare  |  an empty preloaded library  |  the shim's environment  |  vrift run
# Its own store, daemon, HOME and VDir directory under a temp dir; no network, no dataset.
# usage: bench/launch_parts.sh [ROUNDS] [RUNS]   (defaults 200 and 3; true gets 2.5x the rounds)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-200}
runs=${2:-3}
py=/usr/bin/python3 # not a pyenv shim (a shell script): the benchmark is python itself
case "$(uname -m)" in x86_64) ;; *) echo "launch_parts: tenv.c is x86-64 only" >&2; exit 1 ;; esac
vrift=$(bash "$root/scripts/build.sh")
source "$root/bench/lib.sh"
bench_private "$(mktemp -d)" "$(mktemp -d /dev/shm/vrift-parts.XXXXXX 2>/dev/null || mktemp -d)"
unset VRIFT_SHIM

"$py" "$root/bench/pybench_tree.py" "$work/phys/pybench"
cp -a "$work/phys" "$work/proj"
man=$work/proj.manifest
"$vrift" ingest "$work/proj" --mode phantom -o "$man" >/dev/null
"$vrift" daemon start >/dev/null
gcc -O2 -static -nostdlib -fno-stack-protector -fno-builtin -o "$work/tenv" "$root/bench/tenv.c"
gcc -O2 -o "$work/alternate" "$root/bench/alternate.c"
echo 'int vrift_empty_library;' >"$work/empty.c"
gcc -O2 -shared -fPIC -o "$work/libempty.so" "$work/empty.c"
t=$work/tenv alt=$work/alternate
# The environment vrift run gives CMD (its session is open, and lingers between the runs).
mapfile -t shimenv < <("$vrift" run --manifest "$man" -- /usr/bin/env |
  grep -E '^(LD_PRELOAD|VRIFT_PROJECTIONS|VRIFT_STORE)=')
[ "${#shimenv[@]}" -eq 3 ] || { echo "launch_parts: no shim environment from vrift run" >&2; exit 1; }
phys_out=$("$py" -B "$work/phys/pybench/main.py")
for out in "$("$t" "${shimenv[@]}" -- "$py" -B "$work/proj/pybench/main.py")" \
  "$("$vrift" run --manifest "$man" -- "$py" -B "$work/proj/pybench/main.py")"; do
  [ "$out" = "$phys_out" ] || { echo "launch_parts: python printed '$out', not '$phys_out'" >&2; exit 1; }
done

load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "launch_parts: $rounds rounds x $runs runs, load $(load)" >&2
declare -A ms ratio
for _ in $(seq 1 "$runs"); do
  while read -r i m r; do ms[py$i]+="$m "; ratio[py$i]+="$r "; done < <(
    "$alt" "$rounds" "$work" -- "$t" -- "$py" -B phys/pybench/main.py \
      ::: "$t" "${shimenv[@]}" -- "$py" -B proj/pybench/main.py \
      ::: "$t" -- "$vrift" run --manifest "$man" -- "$py" -B proj/pybench/main.py)
  while read -r i m r; do ms[true$i]+="$m "; ratio[true$i]+="$r "; done < <(
    "$alt" $((rounds * 5 / 2)) "$work" -- "$t" -- /bin/true \
      ::: "$t" "LD_PRELOAD=$work/libempty.so" -- /bin/true \
      ::: "$t" "${shimenv[@]}" -- /bin/true \
      ::: "$t" -- "$vrift" run --manifest "$man" -- /bin/true)
done
echo "launch_parts: done, load $(load)" >&2
row() { printf '| %s | %s ms | %s |\n' "$1" "${ms[$2]% }" "${ratio[$2]% }"; }
echo "| command (medians of each run) | wall | paired ratio to the first of its group |"
echo "|---|---|---|"
row "python -B main.py, physical" py1
row "the same in the projection, the shim alone (its environment)" py2
row "\`vrift run --manifest M -- python -B main.py\` (projection)" py3
row "\`true\`" true1
row "\`true\` with an empty library preloaded" true2
row "\`true\` with the shim's environment" true3
row "\`vrift run --manifest M -- true\`" true4

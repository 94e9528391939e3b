#!/usr/bin/env bash
# Shim benchmarks (issue 5) on dataset B, each measured side by side with its peer in the same
# run, REPS times, alternating; prints medians and ratios as Markdown rows for docs/benchmarks.md.
#   stat/statx/open+close answered by the shim   vs  the kernel on a physical copy of the same tree
#   stat of paths outside every projection       vs  the same program without the shim
#     (+ the same with the kernel's path walk removed: statx failing with EINVAL up front;
#      + callgrind: instructions per outside stat with and without the shim)
#   node -e "require('lodash'); require('express'); require('vue')"   phantom vs physical
#   python3 -B main.py importing 200 modules                             phantom vs physical
#     (each under `vrift run`, and with the shim alone: the environment of an open session)
#   vrift run -- true (session already open / first open)             vs  true
#   zero-config `vrift run -- true` in a small project (row skipped if vrift refuses it)
#   zero-config `vrift run -- true` on a copy of B, unchanged: watched / walked / --manifest
# Two copies of B (`cp -a`): phys stays physical, proj is ingested in phantom mode into a private
# store; the benchmark's daemon, store, HOME, runtime and VDir dirs are all under the work dir.
# usage: bench/shim_bench.sh [REPS] [DATA_DIR]
#   REPS default 5; DATA_DIR default /work/data if it has projB, else ./demo-data.
#   env: ROUNDS (stat rounds per program run, default 50), NODE_RUNS (15), PY_RUNS (20),
#        TRUE_RUNS (30), OPEN_RUNS (first-open runs per rep, 3 s apart; default 4)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
reps=${1:-5}
if [ -n "${2:-}" ]; then data=$2
elif [ -d /work/data/projB/node_modules ]; then data=/work/data
else data=$root/demo-data; fi
rounds=${ROUNDS:-50}
node_runs=${NODE_RUNS:-15}
py_runs=${PY_RUNS:-20}
true_runs=${TRUE_RUNS:-30}
open_runs=${OPEN_RUNS:-4}
for tool in hyperfine node gcc valgrind callgrind_annotate; do
  command -v "$tool" >/dev/null || { echo "shim_bench: $tool not found" >&2; exit 1; }
done
py=/usr/bin/python3 # not a pyenv shim (a shell script): the benchmark is python itself
vrift=$(bash "$root/scripts/build.sh")
if [ ! -f "$(dirname "$vrift")/libvrift_shim.so" ] && [ ! -f "$(dirname "$vrift")/../lib/vrift/libvrift_shim.so" ]; then
  cmake --build "$root/build/release" --target vrift_shim >/dev/null
  export VRIFT_SHIM=$root/build/release/src/vrift/libvrift_shim.so
fi
bash "$root/datasets/fetch.sh" "$data" projB >/dev/null
B=$data/projB
work=$(mktemp -d "$data/shimbench.XXXXXX")
# The VDir where vrift puts it by default: tmpfs (/dev/shm), as DESIGN.md says. Until session 10
# it was under $work, on the data's file system (ext4 here), where the daemon's first fill of a
# sparse 1 GiB file pays the page cache's read-ahead and zeroing.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then vdir=$(mktemp -d /dev/shm/vrift-shimbench.XXXXXX)
else vdir=$work/vdir; fi
bg=
cleanup() {
  if [ -n "$bg" ]; then kill "$bg" 2>/dev/null || true; wait "$bg" 2>/dev/null || true; fi
  "$vrift" daemon stop >/dev/null 2>&1 || true
  echo "cleaning up $work" >&2
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work" "$vdir"
}
trap cleanup EXIT
export HOME=$work/home VR_THE_SOURCE=$work/store VRIFT_RUNTIME_DIR=$work/run VRIFT_VDIR_DIR=$vdir
# Sessions linger 2 s (the daemon's test hook; the default is a minute), so that "first open"
# below can wait for the session to end.
export VRIFT_DAEMON_LINGER_MS=2000
unset VRIFT_LOG VRIFT_HOME
mkdir -p "$HOME"
phys=$work/phys proj=$work/proj man=$work/proj.manifest

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
ns_of() { sed -n 's/.* median_ns=\([0-9.]*\).*/\1/p'; }
min_of() { sed -n 's/.* min_ns=\([0-9.]*\).*/\1/p'; }
# One line per command of hyperfine's JSON file F: wall ms, CPU (user+sys) ms.
hf_rows() { "$py" -c 'import json,sys
for r in json.load(open(sys.argv[1]))["results"]: print(r["median"]*1000, (r["user"]+r["system"])*1000)' "$1"; }
ratio() { echo "scale=4; $1 / $2" | bc -l; }
raw() { awk '{printf "%.1f ", $1}' "$1"; }
load_start=$(load)

# --- the trees -------------------------------------------------------------------------------
cp -a "$B" "$phys"
# 200 small Python modules (10 packages x 20), each importing its predecessor, and a main.py
# that imports all of them in order and prints a sum: built before the copy, so both copies
# (and the phantom manifest) have them.
"$py" "$root/bench/pybench_tree.py" "$phys/pybench"
cp -a "$phys" "$proj"
find "$phys" -type f -print0 | xargs -0 cat > /dev/null # warm the page cache
"$vrift" ingest "$proj" --mode phantom -o "$man" --json > "$work/ingest.json"
nfiles=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["files"])' "$work/ingest.json")
find "$work/store" -type f -print0 | xargs -0 cat > /dev/null
# Every regular file, in the same relative order in both lists (proj's are in the store now).
(cd "$phys" && find . -type f | LC_ALL=C sort | sed "s|^\.|$phys|") > "$work/phys.list"
sed "s|^$phys/|$proj/|" "$work/phys.list" > "$work/proj.list"
nlist=$(wc -l < "$work/phys.list")
gcc -O2 -o "$work/shim_stat_bench" "$root/bench/shim_stat_bench.c"
ssb=$work/shim_stat_bench
# The outside-path cost without the kernel's path walk, whose noise (hundreds of ns) hides a
# 20 ns difference: statx with AT_STATX_FORCE_SYNC|AT_STATX_DONT_SYNC (an invalid pair) fails with
# EINVAL before any lookup, and the shim classifies the path before making the same call.
cat > "$work/einval_bench.c" <<'EOF'
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}
static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}
int main(int argc, char** argv) {
  if (argc < 3) return 2;
  FILE* f = fopen(argv[1], "r");
  if (!f) return 1;
  size_t cap = 1024, n = 0;
  char** p = malloc(cap * sizeof *p);
  char line[4096];
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    if (!line[0]) continue;
    if (n == cap) p = realloc(p, (cap *= 2) * sizeof *p);
    p[n++] = strdup(line);
  }
  fclose(f);
  int rounds = atoi(argv[2]);
  if (n == 0 || rounds < 1) return 1;
  double* per = malloc((size_t)rounds * sizeof *per);
  long bad = 0;
  struct statx sx;
  for (int r = 0; r < rounds; ++r) {
    double t0 = now_ns();
    for (size_t i = 0; i < n; ++i)
      bad += !(statx(AT_FDCWD, p[i], AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC, STATX_BASIC_STATS,
                     &sx) == -1 && errno == EINVAL);
    per[r] = (now_ns() - t0) / (double)n;
  }
  qsort(per, (size_t)rounds, sizeof *per, cmp);
  printf("statx-einval paths=%zu rounds=%d median_ns=%.1f min_ns=%.1f failures=%ld\n", n, rounds,
         per[rounds / 2], per[0], bad);
  return bad ? 1 : 0;
}
EOF
gcc -O2 -o "$work/einval_bench" "$work/einval_bench.c"
einval=$work/einval_bench
"$vrift" daemon start >/dev/null

# --- stat latency: kernel (phys), shim (proj), shim on outside paths (phys) ----------------------
for f in k_stat s_stat o_stat k_statx s_statx k_open s_open k_einval o_einval; do : > "$work/$f"; done
for _ in $(seq 1 "$reps"); do
  "$ssb" "$work/phys.list" "$rounds" stat | ns_of >> "$work/k_stat"
  "$vrift" run --manifest "$man" -- "$ssb" "$work/proj.list" "$rounds" stat | ns_of >> "$work/s_stat"
  "$vrift" run --manifest "$man" -- "$ssb" "$work/phys.list" "$rounds" stat | ns_of >> "$work/o_stat"
  "$ssb" "$work/phys.list" "$rounds" statx | ns_of >> "$work/k_statx"
  "$vrift" run --manifest "$man" -- "$ssb" "$work/proj.list" "$rounds" statx | ns_of >> "$work/s_statx"
  "$ssb" "$work/phys.list" "$rounds" open | ns_of >> "$work/k_open"
  "$vrift" run --manifest "$man" -- "$ssb" "$work/proj.list" "$rounds" open | ns_of >> "$work/s_open"
  # A fixed cost of ~400 ns: the fastest round of each run, three alternations per repetition.
  for _ in 1 2 3; do
    "$einval" "$work/phys.list" "$rounds" | min_of >> "$work/k_einval"
    "$vrift" run --manifest "$man" -- "$einval" "$work/phys.list" "$rounds" | min_of >> "$work/o_einval"
  done
done
m_k_stat=$(median < "$work/k_stat"); m_s_stat=$(median < "$work/s_stat"); m_o_stat=$(median < "$work/o_stat")
m_k_statx=$(median < "$work/k_statx"); m_s_statx=$(median < "$work/s_statx")
m_k_open=$(median < "$work/k_open"); m_s_open=$(median < "$work/s_open")
m_k_einval=$(median < "$work/k_einval"); m_o_einval=$(median < "$work/o_einval")
load_stat=$(load)

# Instructions (callgrind Ir) per call: 11 rounds minus 1 round over the same list cancels the
# start-up (the shim's constructor, reading the list), leaving 10 x N stat calls.
ir() { # ROUNDS_FILE_TAG LIST ROUNDS [vrift]
  local out=$work/cg.$1
  if [ "${4:-}" = vrift ]; then
    "$vrift" run --manifest "$man" -- valgrind --tool=callgrind --callgrind-out-file="$out" "$ssb" "$2" "$3" stat > /dev/null 2>&1
  else
    valgrind --tool=callgrind --callgrind-out-file="$out" "$ssb" "$2" "$3" stat > /dev/null 2>&1
  fi
  callgrind_annotate "$out" 2>/dev/null | sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,
}
calls=$((10 * nlist))
ir_plain=$(( $(ir plain11 "$work/phys.list" 11) - $(ir plain1 "$work/phys.list" 1) ))
ir_out=$(( $(ir out11 "$work/phys.list" 11 vrift) - $(ir out1 "$work/phys.list" 1 vrift) ))
ir_hit=$(( $(ir hit11 "$work/proj.list" 11 vrift) - $(ir hit1 "$work/proj.list" 1 vrift) ))
ir_plain_c=$(echo "scale=1; $ir_plain / $calls" | bc -l)
ir_out_c=$(echo "scale=1; $ir_out / $calls" | bc -l)
ir_hit_c=$(echo "scale=1; $ir_hit / $calls" | bc -l)
ir_extra=$(echo "scale=1; ($ir_out - $ir_plain) / $calls" | bc -l)

# --- an open session, and the environment it gives a program -------------------------------------
# Wait until its program runs: two `vrift run` of one manifest starting at the same moment can
# collide while creating the skeleton (seen with the symlinks it created until 2026-11-21:
# "creating '.../.bin/x': File exists", exit 125; missing directories still can).
"$vrift" run --manifest "$man" -- sh -c 'touch "$1"; exec sleep 600' sh "$work/bg.ready" &
bg=$!
for _ in $(seq 1 100); do [ -e "$work/bg.ready" ] && break; sleep 0.1; done
[ -e "$work/bg.ready" ] || { echo "shim_bench: the background session did not start" >&2; exit 1; }
"$vrift" run --manifest "$man" -- env > "$work/run.env"
getenv() { sed -n "s/^$1=//p" "$work/run.env"; }
shim_env="LD_PRELOAD=$(getenv LD_PRELOAD) 'VRIFT_PROJECTIONS=$(getenv VRIFT_PROJECTIONS)' VRIFT_STORE=$(getenv VRIFT_STORE) UV_USE_IO_URING=$(getenv UV_USE_IO_URING)"
# The environment's size decides where a program's stack starts, and with it how its hot data
# falls on cache lines and pages: a few percent either way, whatever the program does (found in
# session 12: python on the physical tree ran 1-2% faster or slower than under the shim as the
# shim's 400 bytes of variables came and went). So the physical tree's program gets a variable
# as long as the ones vrift adds (VRIFT_BENCH_PAD), and every program of a round one more of a
# random length (VRIFT_BENCH_JITTER, 0-4095 bytes; @JITTER@ in a command): the three are then
# compared at the same sizes, and over many.
added=0
for v in LD_PRELOAD VRIFT_PROJECTIONS VRIFT_STORE UV_USE_IO_URING; do
  added=$((added + ${#v} + 2 + $(getenv "$v" | wc -c) - 1)) # NAME=VALUE and its NUL
done
pad_env="VRIFT_BENCH_PAD=$(head -c $((added - 17)) /dev/zero | tr '\0' p)"

# Commands compared by hyperfine, interleaved run by run: hyperfine runs all runs of one command
# before the next, and on this machine the load drifts over seconds, so each invocation does one
# run of each command (A B C A B C ...). REPS repetitions of RUNS invocations (after WARMUP
# discarded ones); keeps, per repetition, each command's median wall and CPU time ($work/TAG.I,
# $work/TAG.cpu.I) and, over all invocations, the median of each command's time divided by the
# first command's in the same invocation ($work/TAG.pair.I: the paired ratio, immune to drift).
# Extra hyperfine options go in the array hf_opts.
hf_opts=()
hf_reps() { # TAG RUNS WARMUP CMD...
  local tag=$1 runs=$2 warm=$3 i k j
  shift 3
  local n=$# cmds=("$@") order
  for i in $(seq 0 $((n - 1))); do : > "$work/$tag.$i"; : > "$work/$tag.cpu.$i"; : > "$work/$tag.pairs.$i"; done
  for _ in $(seq 1 "$reps"); do
    for i in $(seq 0 $((n - 1))); do : > "$work/$tag.rep.$i"; done
    for k in $(seq 1 $((warm + runs))); do
      # The commands in a rotated order each round: on this VM the first program of a round
      # runs ~3% slower than the same program right after it (measured in session 10), which a
      # fixed order turns into a bias against the first command (the physical tree).
      order=()
      jitter="VRIFT_BENCH_JITTER=$(head -c $((RANDOM % 4096)) /dev/zero | tr '\0' j)"
      for j in $(seq 0 $((n - 1))); do order+=("${cmds[$(((j + k) % n))]//@JITTER@/$jitter}"); done
      hyperfine -N --runs 1 ${hf_opts[@]+"${hf_opts[@]}"} --export-json "$work/$tag.json" "${order[@]}" > /dev/null 2>&1
      [ "$k" -gt "$warm" ] || continue
      # Rows back in the commands' own order.
      hf_rows "$work/$tag.json" > "$work/$tag.rotated"
      : > "$work/$tag.rows"
      for i in $(seq 0 $((n - 1))); do sed -n "$((((i - k) % n + n) % n + 1))p" "$work/$tag.rotated" >> "$work/$tag.rows"; done
      for i in $(seq 0 $((n - 1))); do sed -n "$((i + 1))p" "$work/$tag.rows" >> "$work/$tag.rep.$i"; done
      base=$(sed -n 1p "$work/$tag.rows" | cut -d' ' -f1)
      for i in $(seq 0 $((n - 1))); do
        echo "$(sed -n "$((i + 1))p" "$work/$tag.rows" | cut -d' ' -f1) / $base" | bc -l >> "$work/$tag.pairs.$i"
      done
    done
    for i in $(seq 0 $((n - 1))); do
      cut -d' ' -f1 "$work/$tag.rep.$i" | median >> "$work/$tag.$i"
      cut -d' ' -f2 "$work/$tag.rep.$i" | median >> "$work/$tag.cpu.$i"
    done
  done
}

# --- node: require lodash, express, vue ------------------------------------------------------
js="require('lodash'); require('express'); require('vue')"
(cd "$proj" && "$vrift" run --manifest "$man" -- node -e "$js") # fails loudly if it does not work
hf_reps node "$node_runs" 2 \
  "env -C $phys @JITTER@ $pad_env node -e \"$js\"" \
  "env -C $proj @JITTER@ $vrift run --manifest $man -- node -e \"$js\"" \
  "env -C $proj @JITTER@ $shim_env node -e \"$js\""
m_node_k=$(median < "$work/node.0"); m_node_r=$(median < "$work/node.1"); m_node_s=$(median < "$work/node.2")
c_node_k=$(median < "$work/node.cpu.0"); c_node_r=$(median < "$work/node.cpu.1"); c_node_s=$(median < "$work/node.cpu.2")
p_node_r=$(median < "$work/node.pairs.1"); p_node_s=$(median < "$work/node.pairs.2")
load_node=$(load)

# --- python: 200 modules ---------------------------------------------------------------------
py_k=$(cd "$phys/pybench" && "$py" -B main.py)
py_r=$(cd "$proj/pybench" && "$vrift" run --manifest "$man" -- "$py" -B main.py)
[ "$py_k" = "$py_r" ] || { echo "python output differs: '$py_k' vs '$py_r'" >&2; exit 1; }
hf_reps py "$py_runs" 3 \
  "env -C $phys/pybench @JITTER@ $pad_env $py -B main.py" \
  "env -C $proj/pybench @JITTER@ $vrift run --manifest $man -- $py -B main.py" \
  "env -C $proj/pybench @JITTER@ $shim_env $py -B main.py"
m_py_k=$(median < "$work/py.0"); m_py_r=$(median < "$work/py.1"); m_py_s=$(median < "$work/py.2")
c_py_k=$(median < "$work/py.cpu.0"); c_py_r=$(median < "$work/py.cpu.1"); c_py_s=$(median < "$work/py.cpu.2")
p_py_r=$(median < "$work/py.pairs.1"); p_py_s=$(median < "$work/py.pairs.2")
load_py=$(load)

# --- vrift run -- true, session open --------------------------------------------------------------
hf_reps true "$true_runs" 5 "true" "$vrift run --manifest $man -- true"
m_true=$(median < "$work/true.0"); m_true_r=$(median < "$work/true.1")
load_true=$(load)

# --- first open: no session for the manifest (here a session lingers 2 s after its last user) -
kill "$bg"; wait "$bg" 2>/dev/null || true; bg=
hf_opts=(--prepare "sleep 3")
hf_reps open "$open_runs" 0 "true" "$vrift run --manifest $man -- true"
hf_opts=()
m_open_t=$(median < "$work/open.0"); m_open_r=$(median < "$work/open.1")
load_open=$(load)

# --- zero-config: a small project (~200 files, package.json), no --manifest -------------------
small=$work/small
mkdir -p "$small"
cp "$B/package.json" "$small/"
(cd "$B" && find node_modules -type f | LC_ALL=C sort | sed -n 1,200p | xargs cp --parents -t "$small")
zero_row=
if zc_err=$(cd "$small" && "$vrift" run -- true 2>&1); then
  hf_reps zero "$true_runs" 5 "env -C $small true" "env -C $small $vrift run -- true"
  m_zero_t=$(median < "$work/zero.0"); m_zero_r=$(median < "$work/zero.1")
  zero_row=$(printf '| zero-config `vrift run -- true` (201 files) | %.2f ms | `true` %.2f ms | +%.2f ms | < 5 ms more |' \
    "$m_zero_r" "$m_zero_t" "$(echo "$m_zero_r - $m_zero_t" | bc -l)")
else
  zero_row="| zero-config \`vrift run -- true\` | fails: ${zc_err//$'\n'/ } | | | skipped |"
fi

# --- zero-config on dataset B (solid, the defaults): repeated runs on the unchanged project -----
# Watched by the daemon since the last walk checked it (docs/run.md, "Zero-config"), against a
# daemon that cannot watch trees (VRIFT_DAEMON_CAPABILITIES=0: every run walks, as before
# session 11) and against --manifest.
zbig=$work/zbig
cp -a "$B" "$zbig"
zbig_row=
if (cd "$zbig" && "$vrift" run -- true && sleep 0.3 && "$vrift" run -- true && sleep 0.3) >/dev/null 2>&1; then
  zb_files=$(cd "$zbig" && find . -type f -not -path './.vrift/*' | wc -l)
  hf_reps zbig "$true_runs" 3 "env -C $zbig true" "env -C $zbig $vrift run -- true" \
    "env -C $zbig $vrift run --manifest $zbig/.vrift/run.manifest -- true"
  m_zb_t=$(median < "$work/zbig.0"); m_zb_r=$(median < "$work/zbig.1"); m_zb_m=$(median < "$work/zbig.2")
  "$vrift" daemon stop >/dev/null 2>&1 || true
  VRIFT_DAEMON_CAPABILITIES=0 "$vrift" daemon start >/dev/null
  hf_reps zwalk "$true_runs" 3 "env -C $zbig true" "env -C $zbig $vrift run -- true"
  m_zw_t=$(median < "$work/zwalk.0"); m_zw_r=$(median < "$work/zwalk.1")
  "$vrift" daemon stop >/dev/null 2>&1 || true
  zbig_row=$(printf '| zero-config `vrift run -- true`, dataset B (%s files), unchanged: watched by the daemon / walked (a daemon without kCapTreeWatch) / `--manifest` | %.2f / %.2f / %.2f ms | `true` %.2f / %.2f ms | +%.2f / +%.2f / +%.2f ms | milliseconds |' \
    "$zb_files" "$m_zb_r" "$m_zw_r" "$m_zb_m" "$m_zb_t" "$m_zw_t" "$(echo "$m_zb_r - $m_zb_t" | bc -l)" \
    "$(echo "$m_zw_r - $m_zw_t" | bc -l)" "$(echo "$m_zb_m - $m_zb_t" | bc -l)")
else
  zbig_row="| zero-config \`vrift run -- true\`, dataset B | fails | | | skipped |"
fi

# --- report ---------------------------------------------------------------------------------------
echo "dataset B copy: $nfiles files ingested (phantom), $nlist regular files listed; REPS=$reps ROUNDS=$rounds"
echo "load (1/5/15 min): start $load_start; after stat $load_stat; node $load_node; python $load_py; true $load_true; first open $load_open"
echo
printf '| measure | shim / vrift | peer (same run) | ratio | target |\n|---|---|---|---|---|\n'
printf '| `stat`, shim (in projection) vs kernel, %s paths | %.1f ns | kernel %.1f ns | %.3f (%.1fx faster) | <= 100 ns (50 ns) |\n' \
  "$nlist" "$m_s_stat" "$m_k_stat" "$(ratio "$m_s_stat" "$m_k_stat")" "$(ratio "$m_k_stat" "$m_s_stat")"
printf '| `statx`, shim vs kernel | %.1f ns | kernel %.1f ns | %.3f (%.1fx faster) | |\n' \
  "$m_s_statx" "$m_k_statx" "$(ratio "$m_s_statx" "$m_k_statx")" "$(ratio "$m_k_statx" "$m_s_statx")"
printf '| `open`+`close`, shim (opens the blob) vs kernel | %.1f ns | kernel %.1f ns | %.3f | |\n' \
  "$m_s_open" "$m_k_open" "$(ratio "$m_s_open" "$m_k_open")"
printf '| `stat` outside every projection, under vrift run vs without | %.1f ns | %.1f ns | %.3f (%+.1f ns) | <= ~20 ns extra |\n' \
  "$m_o_stat" "$m_k_stat" "$(ratio "$m_o_stat" "$m_k_stat")" "$(echo "$m_o_stat - $m_k_stat" | bc -l)"
printf '| outside path, kernel walk removed (`statx` failing with EINVAL; fastest round), under vrift run vs without | %.1f ns | %.1f ns | %.3f (%+.1f ns) | <= ~20 ns extra |\n' \
  "$m_o_einval" "$m_k_einval" "$(ratio "$m_o_einval" "$m_k_einval")" "$(echo "$m_o_einval - $m_k_einval" | bc -l)"
printf '| instructions per outside `stat` (callgrind, %s calls) | %s Ir | %s Ir without the shim | %+.1f Ir | |\n' \
  "$calls" "$ir_out_c" "$ir_plain_c" "$ir_extra"
printf '| instructions per `stat` answered by the shim (callgrind) | %s Ir | | | |\n' "$ir_hit_c"
row() { # LABEL WALL PEER_WALL CPU PEER_CPU PAIRED_RATIO
  printf '| %s | %.1f ms (CPU %.1f) | physical %.1f ms (CPU %.1f) | %.3f (paired %.3f; CPU %.3f) | <= 1.0 |\n' \
    "$1" "$2" "$4" "$3" "$5" "$(ratio "$2" "$3")" "$6" "$(ratio "$4" "$5")"
}
row 'node require lodash+express+vue: `vrift run`, phantom' "$m_node_r" "$m_node_k" "$c_node_r" "$c_node_k" "$p_node_r"
row 'node require lodash+express+vue: shim alone (open session), phantom' "$m_node_s" "$m_node_k" "$c_node_s" "$c_node_k" "$p_node_s"
row 'python -B, 200 modules: `vrift run`, phantom' "$m_py_r" "$m_py_k" "$c_py_r" "$c_py_k" "$p_py_r"
row 'python -B, 200 modules: shim alone (open session), phantom' "$m_py_s" "$m_py_k" "$c_py_s" "$c_py_k" "$p_py_s"
printf '| `vrift run --manifest M -- true`, session open | %.2f ms | `true` %.2f ms | +%.2f ms | < 5 ms more |\n' \
  "$m_true_r" "$m_true" "$(echo "$m_true_r - $m_true" | bc -l)"
printf '| `vrift run --manifest M -- true`, first open (manifest of %s files) | %.2f ms | `true` %.2f ms | +%.2f ms | |\n' \
  "$nfiles" "$m_open_r" "$m_open_t" "$(echo "$m_open_r - $m_open_t" | bc -l)"
echo "$zero_row"
echo "$zbig_row"
echo
echo "raw (ns): stat kernel: $(raw "$work/k_stat")| shim: $(raw "$work/s_stat")| outside: $(raw "$work/o_stat")"
echo "raw (ns): statx kernel: $(raw "$work/k_statx")| shim: $(raw "$work/s_statx")"
echo "raw (ns): open kernel: $(raw "$work/k_open")| shim: $(raw "$work/s_open")"
echo "raw (ns): statx EINVAL without shim: $(raw "$work/k_einval")| under vrift run: $(raw "$work/o_einval")"
echo "raw (Ir, 10 x $nlist calls): plain $ir_plain, shim outside $ir_out, shim hit $ir_hit"
echo "raw (ms): node phys: $(raw "$work/node.0")| vrift run: $(raw "$work/node.1")| shim alone: $(raw "$work/node.2")"
echo "raw (ms): python phys: $(raw "$work/py.0")| vrift run: $(raw "$work/py.1")| shim alone: $(raw "$work/py.2")"
echo "raw (CPU ms): node phys: $(raw "$work/node.cpu.0")| vrift run: $(raw "$work/node.cpu.1")| shim alone: $(raw "$work/node.cpu.2")"
echo "raw (CPU ms): python phys: $(raw "$work/py.cpu.0")| vrift run: $(raw "$work/py.cpu.1")| shim alone: $(raw "$work/py.cpu.2")"
echo "raw (ms): true: $(raw "$work/true.0")| vrift run (open): $(raw "$work/true.1")"
echo "raw (ms): true: $(raw "$work/open.0")| vrift run (first open): $(raw "$work/open.1")"

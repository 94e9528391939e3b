#!/usr/bin/env bash
# Cross-project deduplication on real npm trees: installs four projects of growing size from the
# lockfiles in datasets/ (xsmall ~1.1k files, small ~1.9k, medium ~9.5k, large ~25k), then
#   Fresh Start: deletes the demo store and ingests each project's node_modules, small to large;
#                every project after the first finds much of its content already stored.
#   Re-Run:      ingests them all again into the warm store: nothing new, 100% dedup.
#   Virtual execution: phantom-ingests a copy of one project and runs node over the projection
#                with vrift run (the shim), beside a physical copy: same result, the stat latency.
# and ends with `vrift status`. The store and vrift's registry live inside DATA_DIR (the store
# via VR_THE_SOURCE, the registry via VRIFT_HOME), so your own ~/.vrift is never touched.
#
# usage: scripts/demo_dedup.sh [--quick] [--fresh-only|--rerun-only] [DATA_DIR]
#   --quick       xsmall and small only (a few seconds once installed)
#   --fresh-only  only the Fresh Start (then Virtual execution) scenario
#   --rerun-only  only the Re-Run scenario (needs the store of an earlier run)
#   DATA_DIR      default <repo>/demo-data (gitignored): installed projects, store, manifests
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

usage() { sed -n 's/^# \{0,1\}//; 12,16p' "$0"; }
quick=0 fresh=1 rerun=1 data="" skipped=()
for arg in "$@"; do
  case $arg in
    --quick) quick=1 ;;
    --fresh-only) rerun=0 ;;
    --rerun-only) fresh=0 ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "demo_dedup: unknown option '$arg'" >&2; usage >&2; exit 2 ;;
    *)
      [ -z "$data" ] || { echo "demo_dedup: only one DATA_DIR, got '$data' and '$arg'" >&2; exit 2; }
      data=$arg ;;
  esac
done
if [ "$fresh" -eq 0 ] && [ "$rerun" -eq 0 ]; then
  echo "demo_dedup: --fresh-only and --rerun-only exclude each other" >&2
  exit 2
fi
data=$(realpath -m "${data:-$root/demo-data}")

# Projects in ingest order: "label dataset" (datasets/<dataset>.package-lock.json).
projects=("xsmall xsmall" "small small" "medium projB" "large projA")
[ "$quick" -eq 1 ] && projects=("${projects[@]:0:2}")

export VR_THE_SOURCE=$data/the_source VRIFT_HOME=$data/vrift-home
store=$VR_THE_SOURCE
# The projects of the last complete Fresh Start (what the store holds).
fresh_list=$data/results/fresh-start.projects
if [ "$fresh" -eq 0 ]; then
  if [ ! -f "$store/STORE" ] || [ ! -s "$fresh_list" ]; then
    echo "demo_dedup: no demo store at $store (or its Fresh Start did not finish): run without --rerun-only first" >&2
    exit 1
  fi
  # Re-run only what the store holds: after a --quick Fresh Start, medium and large are not in it.
  kept=()
  for p in "${projects[@]}"; do
    if grep -qx "${p% *}" "$fresh_list"; then kept+=("$p"); else skipped+=("${p% *}"); fi
  done
  if [ ${#kept[@]} -eq 0 ]; then
    echo "demo_dedup: the demo store holds none of these projects: run without --rerun-only first" >&2
    exit 1
  fi
  projects=("${kept[@]}")
fi
mkdir -p "$data"

t_start=$(date +%s.%N)
t_step=$t_start
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }'; }
# step TITLE: closes the previous step with its duration and opens the next one.
step() {
  [ "$t_step" == "$t_start" ] || printf '  (%s)\n' "$(since "$t_step")"
  t_step=$(date +%s.%N)
  printf '\n== %s\n' "$*"
}

echo "VRift demo: cross-project deduplication (${#projects[@]} npm projects, data in $data)"
step "Dependencies and build"
bash "$root/scripts/install-deps.sh"
if ! vrift=$(bash "$root/scripts/build.sh"); then
  echo "demo_dedup: the build failed; run scripts/build.sh to see why" >&2
  exit 1
fi
echo "vrift: $vrift"

step "Installing the projects (npm, pinned lockfiles) into $data"
sets=()
for p in "${projects[@]}"; do sets+=("${p#* }"); done
if ! bash "$root/datasets/fetch.sh" "$data" "${sets[@]}" >/dev/null; then
  echo "demo_dedup: installing the projects failed (see above)" >&2
  exit 1
fi
for p in "${projects[@]}"; do
  label=${p% *} ds=${p#* }
  printf '  %-7s %-6s %7s files\n' "$label" "$ds" "$(find "$data/$ds/node_modules" -type f | wc -l)"
done

# remove_store DIR: rm -rf, with the 256 top-level shards removed in parallel: on a busy ext4
# disk each unlink can wait for the journal, and parallel removal was 15x faster here.
remove_store() {
  if [ -d "$1/blake3" ]; then
    find "$1/blake3" -mindepth 1 -maxdepth 1 -print0 | xargs -0 -r -n 8 -P 8 rm -rf
  fi
  rm -rf "$1"
}

# table TITLE JSON...: one row per ingest summary (vrift ingest --json) and a totals line.
table() {
  python3 - "$@" <<'EOF'
import json, locale, os, sys
title, files = sys.argv[1], sys.argv[2:]
try:
    locale.setlocale(locale.LC_ALL, "")
except locale.Error:
    pass
utf8 = os.isatty(1) and locale.getpreferredencoding(False).lower().replace("-", "") == "utf8"
def pct(a, b): return "%.1f%%" % (100.0 * a / b) if b else "-"
def num(n): return "{:,}".format(int(n))
rows, tot = [], dict(files=0, new_blobs=0, bytes=0, dedup_files=0, dedup_bytes=0, seconds=0.0)
for f in files:
    j = json.load(open(f))
    label = os.path.basename(f)[:-len(".json")].split(".", 1)[1]
    for k in tot: tot[k] += j[k]
    rows.append([label, num(j["files"]), num(j["new_blobs"]), pct(j["dedup_files"], j["files"]),
                 pct(j["dedup_bytes"], j["bytes"]), num(j["files_per_second"])])
rate = tot["files"] / tot["seconds"] if tot["seconds"] else 0
rows.append(["Total", num(tot["files"]), num(tot["new_blobs"]), pct(tot["dedup_files"], tot["files"]),
             pct(tot["dedup_bytes"], tot["bytes"]), num(rate)])
head = ["Project", "Files", "New Blobs", "Dedup (files)", "Dedup (bytes)", "Files/s"]
w = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
h, v = ("\u2500", "\u2502") if utf8 else ("-", "|")
def line(r): return "  " + v + v.join(" " + (s.ljust(w[i]) if i == 0 else s.rjust(w[i])) + " " for i, s in enumerate(r)) + v
def rule(l, m, r): return "  " + l + m.join(h * (x + 2) for x in w) + r
print("\n  %s" % title)
print(rule(*("\u250c\u252c\u2510" if utf8 else "+++")))
print(line(head))
print(rule(*("\u251c\u253c\u2524" if utf8 else "+++")))
for r in rows[:-1]: print(line(r))
print(rule(*("\u251c\u253c\u2524" if utf8 else "+++")))
print(line(rows[-1]))
print(rule(*("\u2514\u2534\u2518" if utf8 else "+++")))
print("  %s bytes ingested, %s new: %s of the bytes were already in the store."
      % (num(tot["bytes"]), num(tot["bytes"] - tot["dedup_bytes"]), pct(tot["dedup_bytes"], tot["bytes"])))
EOF
}

# scenario NAME: ingests every project in order, one JSON summary each, then the table.
scenario() {
  local name=$1 out=$data/results/${1// /-} p label ds
  rm -rf "$out"
  mkdir -p "$out" "$data/manifests"
  local i=0 jsons=()
  for p in "${projects[@]}"; do
    label=${p% *} ds=${p#* }
    i=$((i + 1))
    printf '  ingesting %-7s (%s/node_modules) ... ' "$label" "$ds"
    if ! "$vrift" ingest "$data/$ds/node_modules" -o "$data/manifests/$ds.manifest" --json \
      >"$out/$i.$label.json" 2>"$out/$i.$label.err"; then
      echo "failed"
      cat "$out/$i.$label.err" >&2
      exit 1
    fi
    python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
c = j["cached"]
cached = "" if not c else " (all unchanged: not read again)" if c == j["files"] else " ({:,} unchanged: not read again)".format(c)
print("{:,} files, {:,} new blobs, {:.2f} s{}".format(j["files"], j["new_blobs"], j["seconds"], cached))' "$out/$i.$label.json"
    if [ -s "$out/$i.$label.err" ]; then sed 's/^/    /' "$out/$i.$label.err"; fi
    jsons+=("$out/$i.$label.json")
  done
  table "$name" "${jsons[@]}"
}

if [ "$fresh" -eq 1 ]; then
  step "Scenario 1: Fresh Start (empty store, projects small to large)"
  # The registry and re-ingest cache go with the store, so status shows this run only.
  if [ -e "$store" ] || [ -e "$VRIFT_HOME" ]; then
    t=$(date +%s.%N)
    printf '  deleting the previous demo store %s ... ' "$store"
    remove_store "$store"
    rm -rf "$VRIFT_HOME"
    echo "done ($(since "$t"))"
  fi
  rm -f "$fresh_list"
  scenario "Fresh Start"
  for p in "${projects[@]}"; do echo "${p% *}"; done >"$fresh_list"
fi
if [ "$rerun" -eq 1 ]; then
  step "Scenario 2: Re-Run (warm store: every file is already there)"
  echo "  store: $store"
  if [ ${#skipped[@]} -gt 0 ]; then
    echo "  (not in the store, skipped: ${skipped[*]}; the last Fresh Start was a --quick one)"
  fi
  scenario "Re-Run"
fi

# Scenario 3: the project as programs see it through vrift run. A copy of one project is
# ingested in phantom mode (its files move into the store; only the directory skeleton stays),
# then node loads its packages from the projection, side by side with a physical copy.
if [ "$fresh" -eq 1 ]; then
  if [ "$quick" -eq 1 ]; then run_ds=small run_mods="lodash express chalk"; else
    run_ds=projB run_mods="lodash express vue"; fi
  step "Scenario 3: Virtual execution (vrift run on a phantom projection of $run_ds)"
  run_dir=$data/run
  rm -rf "$run_dir"
  mkdir -p "$run_dir"
  cp -a "$data/$run_ds" "$run_dir/phys"
  cp -a "$data/$run_ds" "$run_dir/proj"
  export VRIFT_RUNTIME_DIR=$data/vrift-run VRIFT_VDIR_DIR=$data/vrift-vdir
  "$vrift" ingest "$run_dir/proj/node_modules" --mode phantom -o "$run_dir/proj.manifest" |
    grep -E "Files|Phantom" | sed 's/^/  /'
  echo "  files left on disk in the projection: $(find "$run_dir/proj/node_modules" -type f | wc -l)"
  echo "  files node sees through vrift run:   $("$vrift" run --manifest "$run_dir/proj.manifest" -- \
    find "$run_dir/proj/node_modules" -type f | wc -l)"
  js="for (const m of '$run_mods'.split(' ')) require(m); console.log('loaded: $run_mods')"
  echo "  node (physical):   $(cd "$run_dir/phys" && node -e "$js")"
  echo "  node (projected):  $(cd "$run_dir/proj" && "$vrift" run --manifest "$run_dir/proj.manifest" -- node -e "$js")"
  if command -v hyperfine >/dev/null; then
    hyperfine -N -w 2 -r 10 -n physical "env -C $run_dir/phys node -e \"$js\"" \
      -n "vrift run" "env -C $run_dir/proj $vrift run --manifest $run_dir/proj.manifest -- node -e \"$js\"" \
      2>/dev/null | grep -E "Time|±|faster" | sed 's/^/  /' || true
  fi
  if command -v gcc >/dev/null; then
    gcc -O2 -o "$run_dir/statbench" "$root/bench/shim_stat_bench.c"
    # (sed reads to the end: with head, find could die of SIGPIPE, which pipefail makes fatal)
    (cd "$run_dir/phys" && find "$PWD/node_modules" -type f | sed -n 1,5000p) >"$run_dir/phys.list"
    sed "s#$run_dir/phys/#$run_dir/proj/#" "$run_dir/phys.list" >"$run_dir/proj.list"
    echo "  stat() latency, kernel on the physical tree: $("$run_dir/statbench" "$run_dir/phys.list" 20 | sed 's/.*median_ns=\([0-9.]*\).*/\1 ns/')"
    echo "  stat() latency, the shim on the projection:  $("$vrift" run --manifest "$run_dir/proj.manifest" -- "$run_dir/statbench" "$run_dir/proj.list" 20 | sed 's/.*median_ns=\([0-9.]*\).*/\1 ns/')"
  fi
  # Zero-config: `vrift run -- CMD` inside the physical copy ingests it transiently; the daemon
  # then watches it, and a run on the unchanged project walks nothing (docs/run.md).
  ms_of() { local t0 t1; t0=$(date +%s%N); (cd "$run_dir/phys" && "$vrift" run -- true) >/dev/null 2>&1; t1=$(date +%s%N); echo "$(((t1 - t0) / 1000000)) ms"; }
  echo "  zero-config vrift run -- true: first run (ingests $(find "$run_dir/phys" -type f | wc -l) files): $(ms_of)"
  sleep 0.3
  echo "  zero-config, second run (the daemon read what the first one's walk changed: nothing walked): $(ms_of)"
  sleep 0.3
  echo "  zero-config, third run (unchanged since the daemon checked it: nothing walked): $(ms_of)"
  "$vrift" daemon stop >/dev/null 2>&1 || true
fi

step "vrift status"
"$vrift" status
printf '\nDemo finished in %s (projects, store and results in %s)\n' "$(since "$t_start")" "$data"

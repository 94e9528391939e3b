#!/usr/bin/env bash
# Ingest benchmarks on dataset A (and B), each run side by side with its peer in the same loop,
# alternating, REPS times; prints medians and ratios as Markdown rows for docs/benchmarks.md.
#   first ingest (fresh store)  vs  cp -al of the same tree
#   re-ingest (unchanged tree)  vs  find -printf '%s %m %i' (an lstat walk)
#   ingest B after A            (new blobs stored must equal B's contents not in A)
#   large-file hashing          vs  the BLAKE3 C reference loop (same files)
#   peak RSS of the first ingest of A
# usage: bench/ingest_bench.sh [REPS] [DATA_DIR]   (DATA_DIR default ./demo-data)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
reps=${1:-5}
data=${2:-$root/demo-data}
vrift=$(bash "$root/scripts/build.sh")
hashbench=$root/build/release/bench/vrift_hash_bench
cmake --build "$root/build/release" --target vrift_hash_bench >/dev/null 2>&1 || true
[ -x "$hashbench" ] || { cmake -S "$root" -B "$root/build/release" -DVRIFT_BENCH=ON >/dev/null; cmake --build "$root/build/release" --target vrift_hash_bench >/dev/null; }
bash "$root/datasets/fetch.sh" "$data" >/dev/null
A=$data/projA/node_modules
B=$data/projB/node_modules
work=$(mktemp -d "$data/bench.XXXXXX")
trap 'echo "cleaning up $work" >&2; rm -rf "$work"' EXIT
export HOME=$work/home VR_THE_SOURCE=$work/store
mkdir -p "$HOME"

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
files_a=$(find "$A" -type f | wc -l)

# Warm the page cache.
find "$A" "$B" -type f -print0 | xargs -0 cat > /dev/null

: > "$work/cp"; : > "$work/ing"; : > "$work/find"; : > "$work/reing"; : > "$work/rss"; : > "$work/b"
# Each repetition uses new directories: deleting 20k-file trees between runs keeps the disk busy
# (the work disk is mounted with discard) and would slow down whatever runs next.
for r in $(seq 1 "$reps"); do
  export VR_THE_SOURCE=$work/store$r VRIFT_HOME=$work/home$r
  sync; sleep 2
  t0=$(now); cp -al "$A" "$work/cpal$r"; t1=$(now); echo "$t1 - $t0" | bc >> "$work/cp"
  sync; sleep 2
  /usr/bin/time -f '%M' -o "$work/rss1" "$vrift" ingest "$A" -o "$work/a.manifest" --json > "$work/a1.json"
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seconds"])' "$work/a1.json" >> "$work/ing"
  cat "$work/rss1" >> "$work/rss"
  t0=$(now); find "$A" -printf '%s %m %i\n' > /dev/null; t1=$(now); echo "$t1 - $t0" | bc >> "$work/find"
  "$vrift" ingest "$A" -o "$work/a.manifest" --json > "$work/a2.json"
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seconds"])' "$work/a2.json" >> "$work/reing"
  "$vrift" ingest "$B" -o "$work/b.manifest" --json > "$work/b.json"
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["seconds"], d["new_blobs"], d["files"])' "$work/b.json" >> "$work/b"
done

cp_med=$(median < "$work/cp"); ing_med=$(median < "$work/ing")
find_med=$(median < "$work/find"); reing_med=$(median < "$work/reing")
rss_med=$(median < "$work/rss")
b_new=$(tail -1 "$work/b" | cut -d' ' -f2); b_files=$(tail -1 "$work/b" | cut -d' ' -f3)
# B's contents that A does not have, counted independently with b3sum.
expected_b=$(comm -13 <(find "$A" -type f -print0 | xargs -0 b3sum --no-names | sort -u) \
                      <(find "$B" -type f -print0 | xargs -0 b3sum --no-names | sort -u) | wc -l)

big=$(find "$A" -type f -size +5M | sed -n 1,20p) # sed reads to the end: no SIGPIPE under pipefail
# shellcheck disable=SC2086
hash_out=$("$hashbench" 5 $big)
hash_ratio=$(echo "$hash_out" | sed -n 's/^ratio: //p')

printf '| measure | vrift | peer | ratio | target |\n|---|---|---|---|---|\n'
printf '| first ingest of A, fresh store (%s files) | %.3f s (%.0f files/s) | cp -al %.3f s | %.2fx | <= 1.5x, >= 25,000 files/s |\n' \
  "$files_a" "$ing_med" "$(echo "$files_a / $ing_med" | bc -l)" "$cp_med" "$(echo "$ing_med / $cp_med" | bc -l)"
printf '| re-ingest of unchanged A | %.3f s (%.0f files/s) | find -printf %.3f s | %.2fx | <= 2x, >= 150,000 files/s |\n' \
  "$reing_med" "$(echo "$files_a / $reing_med" | bc -l)" "$find_med" "$(echo "$reing_med / $find_med" | bc -l)"
printf '| ingest B after A: new blobs | %s of %s files | %s contents of B not in A (b3sum) | %s | equal |\n' \
  "$b_new" "$b_files" "$expected_b" "$([ "$b_new" -eq "$expected_b" ] && echo equal || echo DIFFERENT)"
printf '| hashing files > 5 MB | %s | BLAKE3 C loop %s | %s | >= 0.90 |\n' \
  "$(echo "$hash_out" | sed -n 's/^vrift blake3_file: *//p')" "$(echo "$hash_out" | sed -n 's/^reference BLAKE3 C loop: *//p')" "$hash_ratio"
printf '| peak RSS, first ingest of A | %.0f MB | | | < 200 MB |\n' "$(echo "$rss_med / 1024" | bc -l)"
echo
echo "raw (s): cp -al: $(tr '\n' ' ' < "$work/cp")"
echo "raw (s): ingest: $(tr '\n' ' ' < "$work/ing")"
echo "raw (s): find:   $(tr '\n' ' ' < "$work/find")"
echo "raw (s): re-ingest: $(tr '\n' ' ' < "$work/reing")"

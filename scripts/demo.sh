#!/usr/bin/env bash
# The main job on real data: installs everything, builds vrift, installs two real npm trees
# (dataset A: 25k files, dataset B: 9.5k files, pinned lockfiles), and ingests them into a fresh
# store: A, then B (which shares most of its files with A), then A again (re-ingest cache).
# usage: scripts/demo.sh [DATA_DIR]     (default: ./demo-data; the store lives inside it)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-$root/demo-data}
bash "$root/scripts/install-deps.sh"
vrift=$(bash "$root/scripts/build.sh")
datasets=$root/datasets
[ -d "$datasets" ] || datasets=$root/../shared/datasets
mkdir -p "$data"
echo "== installing datasets (npm, pinned lockfiles) into $data"
bash "$datasets/fetch.sh" "$data" >/dev/null
export VR_THE_SOURCE=$data/store
rm -rf "$VR_THE_SOURCE"
echo "== fresh store: $VR_THE_SOURCE"
echo; echo "== 1. ingest dataset A (first time)"
"$vrift" ingest "$data/projA/node_modules" -o "$data/projA.manifest"
echo; echo "== 2. ingest dataset B (shares most files with A)"
"$vrift" ingest "$data/projB/node_modules" -o "$data/projB.manifest"
echo; echo "== 3. re-ingest dataset A (unchanged: nothing is read again)"
"$vrift" ingest "$data/projA/node_modules" -o "$data/projA.manifest"
echo; echo "== store: $(find "$VR_THE_SOURCE/blake3" -type f | wc -l) blobs, $(du -sh --apparent-size "$VR_THE_SOURCE/blake3" | cut -f1) apparent"

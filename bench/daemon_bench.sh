#!/usr/bin/env bash
# Commit latency and throughput through the daemon's socket, end to end as a shim would do it:
# write a 4 KiB staging file, send COMMIT, wait for the ack (the daemon hashes, links into the
# store, journals, updates the VDir). One client for latency, then 4 clients at once for
# throughput. The testclient reports the COMMIT round trip (what vrift adds at close(2)) apart
# from the staging write (the create + write + close the kernel does for any new file, the
# same-run peer), and both together.
#
# Run twice: with the project and the store on the disk (TMPDIR, default /tmp) and on tmpfs
# (/dev/shm), which separates the daemon's own cost from the filesystem's metadata latency.
# Needs a build with tests (vrift_testclient).
# usage: bench/daemon_bench.sh [BUILD_DIR] [N]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
n=${2:-3000}
vrift=$build/src/vrift/vrift
tc=$build/tests/vrift_testclient
[ -x "$tc" ] || { echo "build $build with tests first (vrift_testclient missing)" >&2; exit 1; }

run_at() { # $1: the directory the work tree goes under
  local work
  work=$(mktemp -d -p "$1" vrift-daemon-bench.XXXXXX)
  # The VDir on tmpfs, where vrift puts it by default, whatever file system the store is on.
  local vdir=$work/vdir
  if [ -d /dev/shm ] && [ -w /dev/shm ]; then vdir=$(mktemp -d /dev/shm/vrift-daemon-bench.XXXXXX); fi
  (
    trap '"$vrift" daemon stop >/dev/null 2>&1 || true; rm -rf "$work" "$vdir"' EXIT
    export HOME=$work/home VR_THE_SOURCE=$work/store VRIFT_RUNTIME_DIR=$work/run \
      VRIFT_VDIR_DIR=$vdir
    mkdir -p "$HOME" "$work/proj/.vrift/staging"
    echo x >"$work/proj/a"
    "$vrift" ingest "$work/proj" -o "$work/p.manifest" >/dev/null
    "$vrift" daemon start >/dev/null
    sock=$work/run/vriftd.sock
    echo "== $1 ($(df --output=fstype "$1" | tail -1 | tr -d ' '))"
    echo "single client, $n commits of 4 KiB (new content each, fresh store):"
    "$tc" bench "$sock" "$work/proj" "$work/p.manifest" "$n"
    echo "single client again (shard directories exist now):"
    "$tc" bench "$sock" "$work/proj" "$work/p.manifest" "$n"
    echo "4 clients at once, $n commits each:"
    start=$(date +%s.%N)
    for _ in 1 2 3 4; do "$tc" bench "$sock" "$work/proj" "$work/p.manifest" "$n" & done
    wait
    end=$(date +%s.%N)
    echo "aggregate: $(echo "4 * $n / ($end - $start)" | bc) commits/s"
  )
}

run_at "${TMPDIR:-/tmp}"
[ -d /dev/shm ] && run_at /dev/shm

# shellcheck shell=bash disable=SC2154  # $vrift is the sourcing script's
# Sourced by benchmark scripts: a private vrift world (store, daemon, HOME, runtime and VDir
# directories) under WORK and VDIR, taken down on exit.
# bench_private WORK VDIR   (needs $vrift; sets $work and $vdir)
bench_private() {
  work=$1 vdir=$2
  trap bench_cleanup EXIT
  export HOME=$work/home VR_THE_SOURCE=$work/store VRIFT_RUNTIME_DIR=$work/run VRIFT_VDIR_DIR=$vdir
  unset VRIFT_LOG VRIFT_HOME
  mkdir -p "$HOME"
}
bench_cleanup() {
  "$vrift" daemon stop >/dev/null 2>&1 || true
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work" "$vdir"
}

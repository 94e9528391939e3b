#!/usr/bin/env bash
# Shared helpers for the integration suites: a private temp store and HOME per suite, assertions
# that count, and the closing "N passed, N failed" line. Source it; call `finish` at the end.
set -uo pipefail

VRIFT=${VRIFT_BIN:-vrift}
# shellcheck disable=SC2034  # used by the suites that source this file
SRC_DIR=${VRIFT_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
T=$(mktemp -d /tmp/vrift-it.XXXXXX)
export HOME="$T/home" VR_THE_SOURCE="$T/store"
unset VRIFT_HOME
# Sessions nobody holds end 2 s after their last client, not after the default minute, so that
# the suites can wait for them (test_run checks the default).
export VRIFT_DAEMON_LINGER_MS=2000
mkdir -p "$HOME"
PASS=0
FAIL=0
SUITE=$(basename "$0" .sh)

cleanup() {
  chmod -R u+w "$T" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT

ok() { PASS=$((PASS + 1)); echo "ok   - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }

# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() {
  local what=$1; shift
  if "$@"; then ok "$what"; else not_ok "$what"; fi
}
# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
  if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1: expected [$2], got [$3]"; fi
}
# json_field KEY JSON: JSON's top-level KEY, as JSON (a number prints as itself).
json_field() { python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[2])[sys.argv[1]]))' "$1" "$2"; }
# check_contains DESCRIPTION NEEDLE HAYSTACK
check_contains() {
  if [[ "$3" == *"$2"* ]]; then ok "$1"; else not_ok "$1: [$2] not in [$3]"; fi
}
# expect_fail DESCRIPTION EXPECTED_CODE NEEDLE COMMAND...: the command must exit with that code
# and print NEEDLE on stderr in one line starting with "vrift: error:".
expect_fail() {
  local what=$1 code=$2 needle=$3; shift 3
  local err rc
  err=$("$@" 2>&1 >/dev/null); rc=$?
  if [ "$rc" -ne "$code" ]; then not_ok "$what: exit $rc, expected $code ($err)"; return; fi
  if [[ "$err" != *"$needle"* ]]; then not_ok "$what: stderr [$err] lacks [$needle]"; return; fi
  if [[ "$err" != "vrift: error:"* ]]; then not_ok "$what: stderr does not start with 'vrift: error:' [$err]"; return; fi
  ok "$what"
}

# Every blob in the store holds exactly the bytes its name says (independent check with b3sum).
store_is_sound() {
  local store=${1:-$VR_THE_SOURCE} bad=0 f name hash size
  while IFS= read -r -d '' f; do
    name=$(basename "$f"); hash=${name%%_*}; size=${name#*_}; size=${size%.bin}
    [ "$(b3sum --no-names "$f")" == "$hash" ] || { echo "  blob $name: bytes differ from name" >&2; bad=1; }
    [ "$(stat -c %s "$f")" == "$size" ] || { echo "  blob $name: size differs" >&2; bad=1; }
    [[ "$f" == */blake3/${hash:0:2}/${hash:2:2}/$name ]] || { echo "  blob $name misplaced" >&2; bad=1; }
  done < <(find "$store/blake3" -type f -print0)
  return $bad
}

blob_count() { find "${1:-$VR_THE_SOURCE}/blake3" -type f | wc -l; }

finish() {
  echo "$SUITE: $PASS passed, $FAIL failed"
  [ "$FAIL" -eq 0 ]
}

# mfield MANIFEST PATH KEY: prints KEY of the entry PATH in MANIFEST (empty if no such entry).
mfield() {
  "$VRIFT" manifest show --json "$1" | python3 -c '
import json, sys
for e in json.load(sys.stdin)["entries"]:
    if e["path"] == sys.argv[1]:
        print(e.get(sys.argv[2], "")); break' "$2" "$3"
}
# mhas MANIFEST PATH: whether the manifest has an entry PATH.
mhas() { [ -n "$(mfield "$1" "$2" type)" ]; }
export VRIFT; export -f mfield mhas

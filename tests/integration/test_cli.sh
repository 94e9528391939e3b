#!/usr/bin/env bash
# Global options and the path authority: flag > VR_THE_SOURCE > config file > default.
source "$(dirname "$0")/lib.sh"

check_contains "--version" "vrift 0." "$("$VRIFT" --version)"
check_contains "--help lists ingest" "ingest" "$("$VRIFT" --help)"
check_contains "ingest --help lists --prefix" "--prefix" "$("$VRIFT" ingest --help)"
"$VRIFT" >/dev/null 2>&1
check_eq "no subcommand is a usage error" 2 "$?"

mkdir -p "$T/p" && printf 'x\n' > "$T/p/a"
store_of() { "$VRIFT" -v "$@" ingest "$T/p" -o "$T/m.manifest" 2>&1 >/dev/null | sed -n 's/^vrift: store: //p'; }

unset VR_THE_SOURCE
check_eq "default store" "$HOME/.vrift/the_source (from default)" "$(store_of)"
check "default store created" test -f "$HOME/.vrift/the_source/STORE"
mkdir -p "$HOME/.vrift"
printf 'the_source_root = "%s"\n' "$T/from-config" > "$HOME/.vrift/config.toml"
check_eq "config file" "$T/from-config (from config file)" "$(store_of)"
export VR_THE_SOURCE="$T/from-env"
check_eq "env beats config" "$T/from-env (from VR_THE_SOURCE)" "$(store_of)"
check_eq "flag beats env" "$T/from-flag (from --the-source-root)" "$(store_of --the-source-root "$T/from-flag")"
# shellcheck disable=SC2088  # the literal ~ is the input under test
check_eq "~ expands" "$HOME/tilde (from --the-source-root)" "$(store_of --the-source-root '~/tilde')"
check "the flagged store holds the blob" test -n "$(find "$T/from-flag/blake3" -type f)"
printf 'the_source_root = [broken\n' > "$HOME/.vrift/config.toml"
expect_fail "a broken config file is one clear error" 1 "config file '$HOME/.vrift/config.toml' line 1" \
  "$VRIFT" ingest "$T/p" -o "$T/m.manifest"
printf 'the_source_root = 42\n' > "$HOME/.vrift/config.toml"
expect_fail "a config value of the wrong type" 1 "the_source_root must be a string" \
  "$VRIFT" ingest "$T/p" -o "$T/m.manifest"
rm "$HOME/.vrift/config.toml"

# Progress goes to a terminal only: piped output has nothing but the summary.
out=$("$VRIFT" ingest "$T/p" -o "$T/m.manifest" 2>&1)
check "no progress escape codes when piped" bash -c "! printf '%s' \"\$1\" | grep -q $'\\033'" _ "$out"
if command -v script >/dev/null; then
  tty_out=$(script -qec "'$VRIFT' ingest '$T/p' -o '$T/m.manifest'" /dev/null 2>&1)
  check_contains "summary on a terminal too" "Files:" "$tty_out"
fi
finish

#!/usr/bin/env bash
# Installs every build, test and benchmark dependency of vrift from Debian's packages.
# Idempotent: packages already present are skipped; safe to run again.
set -euo pipefail

pkgs=(
  build-essential cmake ninja-build pkg-config git
  g++ clang clang-format libclang-rt-14-dev
  librust-blake3-dev          # official BLAKE3 C sources + x86-64 assembly
  libcli11-dev libfmt-dev libtomlplusplus-dev nlohmann-json3-dev libsqlite3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  nodejs python3 util-linux attr shellcheck hyperfine time b3sum
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi
# nodejs here ships npm itself (a separate "npm" package would conflict with it).
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: installed ${missing[*]}"

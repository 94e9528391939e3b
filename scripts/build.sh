#!/usr/bin/env bash
# Builds vrift in release mode and installs it under build/prefix; prints the binary's path.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DVRIFT_TESTS=OFF >/dev/null
cmake --build build/release -j "$(nproc)" >/dev/null
cmake --install build/release --prefix build/prefix >/dev/null
echo "$PWD/build/prefix/bin/vrift"

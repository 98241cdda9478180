#!/usr/bin/env bash
# Configures and builds the project.
# Usage: scripts/build.sh [--target TARGET]... [BUILD_DIR] [extra cmake args...]
#   --target TARGET  build only TARGET (repeatable; default: everything, tests included), e.g.
#                    `--target demo`: what scripts/demo.sh runs (tests/e2e/CMakeLists.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
targets=()
while [ $# -gt 0 ] && [ "$1" = --target ]; do
  targets+=("${2:?--target needs a target name}")
  shift 2
done
dir=${1:-build}
shift || true
cmake -G Ninja -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
ninja -C "$dir" "${targets[@]}"

#!/usr/bin/env bash
# The README's test command: installs dependencies, checks formatting, builds, runs every test
# (labels unit, integration, e2e), then builds the unit tests with AddressSanitizer and
# UndefinedBehaviorSanitizer and runs them. Run as root on Debian 12. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_DIR=${CCACHE_DIR:-/var/cache/ena-dpdk-ccache}
# Paths under the checkout are hashed relative to it, and the working directory is not hashed,
# so that another clone of the repository (CI clones afresh) hits the same cache entries (debug
# info then names the directory of the clone that filled the cache).
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-true}

scripts/deps.sh
scripts/check-format.sh

echo "== build (RelWithDebInfo)"
scripts/build.sh build
echo "== tests: unit, integration, e2e"
ctest --test-dir build --output-on-failure --no-tests=error -j2

echo "== sanitizer build (ASan+UBSan) of the unit tests"
scripts/build.sh build-asan -DENA_DPDK_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
ctest --test-dir build-asan -L unit --output-on-failure --no-tests=error -j2

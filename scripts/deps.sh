#!/usr/bin/env bash
# Installs the Debian bookworm packages that the build, the tests and the demo need.
# Idempotent and non-interactive: does nothing when every package is already installed.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config ccache git clang-format
  # the CNI config fuzzer (libFuzzer: clang and its runtime)
  clang libclang-rt-14-dev
  # libraries (DESIGN.md: Debian packages only, nothing vendored)
  libdpdk-dev libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  nlohmann-json3-dev libabsl-dev libspdlog-dev libfmt-dev libcurl4-openssl-dev libcpp-httplib-dev
  libgtest-dev libgmock-dev
  # runtime peers for integration tests and the demo: dpdk-testpmd lives in dpdk-dev
  dpdk dpdk-dev iproute2 iputils-ping util-linux kmod procps python3 jq
  # the Python tests (tests/pytest.cmake: the benchmarks' result logic, the demo's target list)
  python3-pytest
  # the e2e test checks both daemons' /metrics with real Prometheus tools: promtool's linter and
  # the client library's text-format parser
  prometheus python3-prometheus-client
  # pods as real containers (tests/tools/pod-runner): the OCI runtime
  runc
  # CNI tests: the libcni test driver (Go, GOPATH mode) and the reference plugins
  golang-go golang-github-appc-cni-dev containernetworking-plugins
  # deploy checks and the container image (tests/deploy; npm comes with nodejs or tools.sh)
  buildah debootstrap shellcheck unzip patchelf nodejs
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#packages[@]} packages installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing ${missing[*]}; run as root to install them" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: installed ${#missing[@]} packages"

#!/usr/bin/env bash
# Builds the ena-dpdk container image (deploy/Dockerfile) with buildah on vfs storage, where no
# container registry may be reachable, then runs each binary's --version inside it.
#
# Usage: scripts/build-image.sh [--tag NAME] [--push DESTINATION] [--no-cache]
#   --tag NAME          image name (default localhost/ena-dpdk:<version>, the chart's default)
#   --push DESTINATION  then push it, e.g. docker://<account>.dkr.ecr.<region>.amazonaws.com/ena-dpdk:v1
#                       or oci-archive:/tmp/ena-dpdk.tar (containerd: ctr -n k8s.io images import)
#   --no-cache          rebuild every layer (the ccache and apt caches still apply)
#
# Environment:
#   ENA_DPDK_IMAGE_CACHE  cache directory (default /var/cache/ena-dpdk-image): buildah storage,
#                         the bootstrapped base rootfs, downloaded .debs
#   CCACHE_DIR            compiler cache mounted into the build (default /var/cache/ena-dpdk-ccache)
#   DEBIAN_MIRROR         mirror for debootstrap (default http://deb.debian.org/debian)
#   BUILDAH_ISOLATION     buildah's isolation (default chroot: works inside containers and VMs)
#
# The base image is debian:bookworm-slim when it can be pulled, else a minbase bookworm made with
# debootstrap; either way it is kept as localhost/ena-dpdk-base:bookworm and reused. The dependency
# stages are kept as tagged images, so a rebuild after a source change only compiles (with
# ccache: the build compiles in this checkout's own path, so a host build's cache entries hit)
# and copies. Images no tag refers to are removed after a successful build. Root only (buildah
# with vfs storage, debootstrap). Idempotent.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd -P)
version=$(sed -n 's/^project(ena-dpdk VERSION \([0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")
# The chart's default image (charts/ena-dpdk: image.repository, appVersion).
tag=localhost/ena-dpdk:$version
push=""
no_cache=()
while [ $# -gt 0 ]; do
  case $1 in
    --tag) tag=${2:?--tag needs a name}; shift 2 ;;
    --push) push=${2:?--push needs a destination}; shift 2 ;;
    --no-cache) no_cache=(--no-cache); shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-image: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

cache=${ENA_DPDK_IMAGE_CACHE:-/var/cache/ena-dpdk-image}
ccache_dir=${CCACHE_DIR:-/var/cache/ena-dpdk-ccache}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
export BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}
base=localhost/ena-dpdk-base:bookworm

if [ "$(id -u)" -ne 0 ]; then
  echo "build-image: run as root (buildah with vfs storage, debootstrap)" >&2
  exit 1
fi
command -v buildah >/dev/null || { echo "build-image: buildah is missing (scripts/deps.sh)" >&2; exit 1; }
mkdir -p "$cache/storage" "$cache/apt/partial" "$ccache_dir"
# One build at a time in this store: then every container in it is a leftover of an interrupted
# build, and goes.
exec 9>"$cache/.lock"
flock 9

bh() { buildah --storage-driver vfs --root "$cache/storage" --runroot /run/ena-dpdk-image "$@"; }
bh rm --all >/dev/null 2>&1 || true
has_image() { bh inspect --type image "$1" >/dev/null 2>&1; }
now() { date +%s; }
started=$(now)
step_started=$started
step() {  # step NAME: prints the time the previous step took
  local t
  t=$(now)
  echo "build-image: $1 (previous step $((t - step_started)) s)"
  step_started=$t
}

work=$(mktemp -d)
ctr=""
cleanup() {
  [ -z "$ctr" ] || bh rm "$ctr" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# --- base image ----------------------------------------------------------------------------------
bootstrap_base() {  # a minbase bookworm rootfs tarball, made once and kept in the cache
  local tarball=$cache/bookworm-minbase.tar
  if [ ! -s "$tarball" ]; then
    command -v debootstrap >/dev/null || { echo "build-image: debootstrap is missing (scripts/deps.sh)" >&2; exit 1; }
    step "debootstrap bookworm minbase from $mirror"
    local root=$work/rootfs
    debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
      tail -n 20 "$work/debootstrap.log" >&2
      echo "build-image: debootstrap failed" >&2
      exit 1
    }
    cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian}/debian-security bookworm-security main
EOF
    chroot "$root" apt-get clean
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/log/* "$root"/tmp/*
    tar --numeric-owner -C "$root" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$root"
  fi
  step "importing the bootstrapped base"
  local c
  c=$(bh from scratch)
  bh add "$c" "$tarball" / >/dev/null
  bh config --cmd /bin/bash --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --label org.opencontainers.image.description="debootstrap --variant=minbase bookworm" "$c"
  bh commit --quiet --rm "$c" "$base" >/dev/null
}

if has_image "$base"; then
  step "base: $base (cached)"
elif bh pull --quiet docker.io/library/debian:bookworm-slim >/dev/null 2>"$work/pull.log"; then
  bh tag docker.io/library/debian:bookworm-slim "$base"
  step "base: pulled debian:bookworm-slim"
else
  echo "build-image: cannot pull debian:bookworm-slim ($(tail -n 1 "$work/pull.log")); bootstrapping one"
  bootstrap_base
fi

# --- build context: the checkout's files (tracked and untracked, not ignored), no build dirs -----
step "preparing the build context"
ctx=$work/context
mkdir -p "$ctx"
if git -C "$repo" rev-parse --git-dir >/dev/null 2>&1; then
  git -C "$repo" ls-files -z --cached --others --exclude-standard |
    (cd "$repo" && while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done) |
    (cd "$repo" && tar --null -T - -cf -) | tar -C "$ctx" -xf -
  rev=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)
else
  tar -C "$repo" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$ctx" -xf -
  rev=unknown
fi

# --- build ----------------------------------------------------------------------------------------
# The dependency images are tagged with a digest of what they are made from (the Dockerfile, the
# package list, the base): unchanged, they are used as they are, without even a layer-cache
# lookup (slow on vfs); changed, they are rebuilt with --layers and older ones removed at the end.
recipe=$({ cat "$ctx/deploy/Dockerfile" "$ctx/deploy/runtime-packages.txt"
  bh images --format '{{.ID}}' "$base"; } | sha256sum | cut -c1-16)
build_deps=localhost/ena-dpdk-build-deps:$recipe
runtime_deps=localhost/ena-dpdk-runtime-deps:$recipe
build_args=(--build-arg "BASE_IMAGE=$base" --build-arg "SRC_DIR=$repo" --build-arg "GIT_REV=$rev"
  --build-arg "BUILD_DEPS_IMAGE=$build_deps" --build-arg "RUNTIME_DEPS_IMAGE=$runtime_deps")
bud() {  # bud ARGS...: buildah bud with the caches mounted
  bh bud --pull=never --network host "${no_cache[@]}" -f deploy/Dockerfile "${build_args[@]}" \
    -v "$ccache_dir:/ccache" -v "$cache/apt:/var/cache/ena-dpdk-apt" "$@" "$ctx"
}
run_bud() {  # run_bud WHAT ARGS...: bud, with its log shown when it fails
  local what=$1
  shift
  if ! bud "$@" >"$work/bud.log" 2>&1; then
    tail -n 40 "$work/bud.log" >&2
    echo "build-image: building $what failed" >&2
    exit 1
  fi
  grep -E '^(image-stage|runtime-packages.sh):' "$work/bud.log" || true
}
deps() {  # deps STAGE IMAGE
  if has_image "$2" && [ ${#no_cache[@]} -eq 0 ]; then
    echo "build-image: $2 is up to date"
  else
    run_bud "$1" --layers --force-rm --target "$1" -t "$2"
  fi
}
step "dependency stages (build-deps, runtime-deps)"
deps build-deps "$build_deps"
deps runtime-deps "$runtime_deps"
# The image itself without --layers: with vfs every committed layer is a full copy of the tree.
step "building $tag (revision $rev)"
run_bud "$tag" -t "$tag"

# --- check: every binary answers --version inside the image --------------------------------------
# (In a chroot of the mounted image: `buildah run` now and then loses a short-lived process's
# output.)
step "checking the binaries inside the image"
ctr=$(bh from --pull=never "$tag")
root=$(bh mount "$ctr")
failed=0
for b in ena-dpdk-dataplane ena-dpdk-ctl ena-dpdk-cni ena-dpdk-ipam ena-dpdk-deviceplugin ena-dpdk-nodeprep; do
  if out=$(chroot --userspec=65532:65532 "$root" "/usr/local/bin/$b" --version 2>&1) &&
    [[ $out == "$b $version ($rev)" ]]; then
    echo "  ok: $out"
  else
    echo "  FAIL: $b --version: $out (expected \"$b $version ($rev)\")" >&2
    failed=1
  fi
done
bh umount "$ctr" >/dev/null
bh rm "$ctr" >/dev/null
ctr=""
[ "$failed" -eq 0 ] || exit 1

# --- keep the store small: drop images and layers no tag refers to -------------------------------
step "removing images no tag refers to"
for image in $(bh images --format '{{.Name}}:{{.Tag}}' | grep -E '^localhost/ena-dpdk-(build|runtime)-deps:'); do
  [ "$image" = "$build_deps" ] || [ "$image" = "$runtime_deps" ] || bh rmi "$image" >/dev/null 2>&1 || true
done
# Untagged leaves go first; a parent of a kept image refuses and stays.
removed=1
while [ "$removed" -gt 0 ]; do
  removed=0
  for id in $(bh images --quiet --filter dangling=true); do
    if bh rmi "$id" >/dev/null 2>&1; then removed=$((removed + 1)); fi
  done
done

if [ -n "$push" ]; then
  step "pushing to $push"
  bh push "$tag" "$push"
fi
step "done"
size=$(bh images --format '{{.Size}}' "$tag" | head -n 1)
echo "build-image: $tag ($size) built in $(($(now) - started)) s"
echo "build-image: list it with: buildah --storage-driver vfs --root $cache/storage images"

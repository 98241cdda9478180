#!/bin/sh
# ena-dpdk-install-cni: installs ena-dpdk-cni and ena-dpdk-ipam into the node's CNI binary
# directory and, when given, the config file where the plugins read it on the node. The
# DaemonSet's install-cni init container runs it with the host's /opt/cni/bin mounted at
# /host/opt/cni/bin and the host's /etc/ena-dpdk at /host/etc/ena-dpdk.
#
# Usage: ena-dpdk-install-cni DEST_DIR [CONFIG_FILE HOST_CONFIG_DIR]
#        ena-dpdk-install-cni --uninstall DEST_DIR [HOST_CONFIG_DIR]
#
# A cni-policy.json next to CONFIG_FILE (the node path policy, docs/cni.md) is installed beside it
# too, root-owned and mode 0644 as the plugins require.
#
# The CNI runtime runs the plugins on the host, whose C++ libraries are not this image's, so the
# plugins come as a bundle: DEST_DIR/ena-dpdk/<bundle-id>/lib holds the libraries they were linked
# with (the C library and its loader included), and the two binaries name that directory as ELF
# interpreter and RPATH (deploy/make-cni-bundle.sh). Every step is atomic and idempotent: the bundle
# is copied to a temporary directory and renamed, each file is written to a temporary name and
# renamed over the old one (a plugin being executed keeps its old file), and bundles no binary
# refers to any more are removed last.
#
# Each run records what it installed (written now, or found identical to what it would write) in
# two manifests: DEST_DIR/.ena-dpdk-install-cni.manifest (the binaries in DEST_DIR) and
# HOST_CONFIG_DIR/.ena-dpdk-install-cni.manifest (the config files, and "dir" when it created
# HOST_CONFIG_DIR); a manifest is rewritten only when what it lists changes. --uninstall removes
# exactly what they list, the bundle directory DEST_DIR/ena-dpdk and the manifests, and nothing
# else: other plugins' binaries and other files in HOST_CONFIG_DIR stay. A second --uninstall
# finds no manifest and changes nothing.
set -eu

manifest=.ena-dpdk-install-cni.manifest

add_to_manifest() {  # add_to_manifest FILE LINE: appends LINE unless listed, atomically
  if ! grep -qxF "$2" "$1" 2>/dev/null; then
    { cat "$1" 2>/dev/null || true; printf '%s\n' "$2"; } >"$1.tmp-$$"
    mv -f "$1.tmp-$$" "$1"
  fi
}

uninstall() {  # uninstall DEST_DIR [HOST_CONFIG_DIR]
  dest=$1
  config_dir=${2:-}
  bundles="$dest/ena-dpdk"
  if [ -f "$dest/$manifest" ]; then
    while read -r name; do
      case "$name" in ''|*/*|.|..) continue ;; esac  # only plain names in DEST_DIR
      if [ -e "$dest/$name" ]; then
        rm -f "$dest/$name"
        echo "ena-dpdk-install-cni: removed $dest/$name"
      fi
    done <"$dest/$manifest"
    rm -rf "${bundles:?}"
    rm -f "$dest/$manifest"
    echo "ena-dpdk-install-cni: removed $bundles"
  else
    echo "ena-dpdk-install-cni: $dest/$manifest: none, no binary to remove"
  fi
  if [ -n "$config_dir" ]; then
    if [ -f "$config_dir/$manifest" ]; then
      created=no
      while read -r name; do
        case "$name" in
          dir) created=yes ;;
          ''|*/*|.|..) ;;
          *)
            if [ -e "$config_dir/$name" ]; then
              rm -f "$config_dir/$name"
              echo "ena-dpdk-install-cni: removed $config_dir/$name"
            fi ;;
        esac
      done <"$config_dir/$manifest"
      rm -f "$config_dir/$manifest"
      if [ "$created" = yes ] && rmdir "$config_dir" 2>/dev/null; then
        echo "ena-dpdk-install-cni: removed $config_dir"
      fi
    else
      echo "ena-dpdk-install-cni: $config_dir/$manifest: none, no config file to remove"
    fi
  fi
}

if [ "${1:-}" = --uninstall ]; then
  shift
  if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: ena-dpdk-install-cni --uninstall DEST_DIR [HOST_CONFIG_DIR]" >&2
    exit 2
  fi
  if [ ! -d "$1" ]; then
    echo "ena-dpdk-install-cni: $1: no such directory (is the host's CNI bin directory mounted?)" >&2
    exit 1
  fi
  uninstall "$@"
  exit 0
fi

dest=${1:?usage: ena-dpdk-install-cni DEST_DIR [CONFIG_FILE HOST_CONFIG_DIR]}
config=${2:-}
config_dir=${3:-}
if [ -n "$config" ] && [ -z "$config_dir" ]; then
  echo "ena-dpdk-install-cni: CONFIG_FILE needs HOST_CONFIG_DIR" >&2
  exit 2
fi
# Where the image keeps the bundle (deploy/make-cni-bundle.sh); tests point it elsewhere.
src=${ENA_DPDK_HOST_CNI_DIR:-/usr/local/lib/ena-dpdk/host-cni}
id=$(cat "$src/bundle-id")
bundles="$dest/ena-dpdk"
bundle="$bundles/$id"

if [ ! -d "$dest" ]; then
  echo "ena-dpdk-install-cni: $dest: no such directory (is the host's CNI bin directory mounted?)" >&2
  exit 1
fi

mkdir -p "$bundles"
rm -rf "$bundles"/.tmp-*  # left by an interrupted run
if [ ! -d "$bundle" ]; then
  tmp="$bundles/.tmp-$id-$$"
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/lib"
  while read -r lib; do
    cp -L "$lib" "$tmp/lib/"
  done <"$src/libs"
  chmod 0755 "$tmp" "$tmp/lib"
  mv "$tmp" "$bundle"
  trap - EXIT
  echo "ena-dpdk-install-cni: bundle $id: $(wc -l <"$src/libs") libraries in $bundle/lib"
fi

for b in ena-dpdk-cni ena-dpdk-ipam; do
  # Recorded before the write: an interrupted run still leaves the file listed for --uninstall.
  add_to_manifest "$dest/$manifest" "$b"
  if cmp -s "$src/$b" "$dest/$b"; then
    echo "ena-dpdk-install-cni: $dest/$b is up to date"
    continue
  fi
  install -m 0755 "$src/$b" "$dest/.$b.tmp-$$"
  mv -f "$dest/.$b.tmp-$$" "$dest/$b"
  echo "ena-dpdk-install-cni: installed $dest/$b"
done

for old in "$bundles"/*; do
  if [ -d "$old" ] && [ "$old" != "$bundle" ]; then
    rm -rf "$old"
    echo "ena-dpdk-install-cni: removed old bundle $old"
  fi
done

install_file() {  # install_file SOURCE DIR: atomically, mode 0644, owned by the caller (root)
  target="$2/$(basename "$1")"
  add_to_manifest "$2/$manifest" "$(basename "$1")"
  if cmp -s "$1" "$target"; then
    echo "ena-dpdk-install-cni: $target is up to date"
  else
    install -m 0644 "$1" "$2/.config.tmp-$$"
    mv -f "$2/.config.tmp-$$" "$target"
    echo "ena-dpdk-install-cni: installed $target"
  fi
}

if [ -n "$config" ]; then
  if [ ! -d "$config_dir" ]; then
    mkdir -p "$config_dir"
    add_to_manifest "$config_dir/$manifest" dir
  fi
  install_file "$config" "$config_dir"
  policy="$(dirname "$config")/cni-policy.json"
  if [ -f "$policy" ]; then install_file "$policy" "$config_dir"; fi
fi

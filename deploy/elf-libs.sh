#!/bin/sh
# Prints the absolute path of every shared library the given ELF files need, one per line
# (unsorted, with repeats): what ldd resolves for them, plus the libraries a binary loads at run
# time with dlopen() (ldd cannot see those) and everything those need. Fails naming an
# unresolved library. Used by runtime-packages.sh (the image's packages) and make-cni-bundle.sh
# (the host CNI bundle), so that both ship what the binaries load, however they load it.
#
# Usage: elf-libs.sh ELF...
set -eu

# dlopened BINARY-NAME: the sonames the binary dlopen()s.
#   ena-dpdk-ipam: libcurl, loaded when the instance metadata service is first asked
#   (ipam/curl_api.h).
dlopened() {
  case $1 in
    ena-dpdk-ipam) echo libcurl.so.4 ;;
  esac
}

# closure FILE: FILE's libraries as ldd resolves them.
closure() {
  if ldd "$1" | grep -q 'not found'; then
    echo "elf-libs.sh: $1: unresolved libraries: $(ldd "$1" | grep 'not found' | tr -s ' \t\n' ' ')" >&2
    exit 1
  fi
  ldd "$1" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }'
}

[ $# -gt 0 ] || { echo "usage: elf-libs.sh ELF..." >&2; exit 2; }
for f in "$@"; do
  closure "$f"
  for soname in $(dlopened "${f##*/}"); do
    lib=$(ldconfig -p | awk -v s="$soname" '$1 == s && /x86-64/ { print $NF; exit }')
    [ -n "$lib" ] || { echo "elf-libs.sh: $f loads $soname, which this system does not have" >&2; exit 1; }
    echo "$lib"
    closure "$lib"
  done
done

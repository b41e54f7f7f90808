#!/usr/bin/env bash
# Debian's linux-source-6.12 for the tests that read kernel C source (analysis, file2alias of the
# vfio variants, the out-of-tree virtio_vfio_pci of the kernel suite): downloaded with apt-get and
# unpacked into ${FLAVOURCTL_CACHE:-<repo>/.cache}/linux-source/, once. Kernel source is never committed.
# Idempotent: a finished unpack leaves a stamp naming the version; a run with that stamp does
# nothing. Prints the tree's path.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)

version=6.12.117-1~deb12u1
cache=${FLAVOURCTL_CACHE:-$repo/.cache}/linux-source
tree=$cache/linux-source-6.12
stamp=$cache/.unpacked-$version

mkdir -p "$cache"
# One unpack at a time: parallel test runs share the cache.
exec 9>"$cache/.lock"
flock 9
if [[ -f $stamp && -d $tree ]]; then
  echo "$tree"
  exit 0
fi
deb=$(ls "$cache"/linux-source-6.12_"${version//:/%3a}"_all.deb 2>/dev/null || true)
if [[ -z $deb ]]; then
  (cd "$cache" && apt-get download -q "linux-source-6.12=$version" >&2)
  deb=$(ls "$cache"/linux-source-6.12_*_all.deb)
fi

# The .deb holds /usr/src/linux-source-6.12.tar.xz; unpack the tarball straight from it.
work=$(mktemp -d "$cache/unpack.XXXXXX")
trap 'rm -rf "$work"' EXIT
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" ./usr/src/linux-source-6.12.tar.xz
rm -rf "$tree"
tar -xJf "$work/usr/src/linux-source-6.12.tar.xz" -C "$cache"
rm -f "$cache"/.unpacked-*
touch "$stamp"
echo "$tree"

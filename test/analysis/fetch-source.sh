#!/usr/bin/env bash
# Debian's linux-source of one kernel series, for the tests that read kernel C source (analysis,
# file2alias of the vfio variants, the out-of-tree variant drivers of the kernel suite, the
# variant table): downloaded and unpacked into ${FLAVOURCTL_CACHE:-<repo>/.cache}/linux-source/,
# once. Kernel source is never committed.
#
#   bash test/analysis/fetch-source.sh [SERIES]    SERIES: 6.12 (default: Debian 12's backport,
#                                                  the fixtures' kernel) or 7.2 (Debian sid)
#
# Idempotent: a finished unpack leaves a stamp naming the version; a run with that stamp does
# nothing. Prints the tree's path.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
series=${1:-6.12}
case $series in
  6.12) version=6.12.117-1~deb12u1 ;;
  7.2) version=7.2.13-1 ;;
  *)
    echo "fetch-source: unknown kernel series '$series' (6.12 or 7.2)" >&2
    exit 1
    ;;
esac
cache=${FLAVOURCTL_CACHE:-$repo/.cache}/linux-source
tree=$cache/linux-source-$series
stamp=$cache/.unpacked-$version

mkdir -p "$cache"
# One unpack of a series at a time: parallel test runs share the cache.
exec 9>"$cache/.lock-$series"
flock 9
if [[ -f $stamp && -d $tree ]]; then
  echo "$tree"
  exit 0
fi
deb=$(ls "$cache/linux-source-${series}_${version//:/%3a}_all.deb" 2>/dev/null || true)
if [[ -z $deb ]]; then
  if [[ $series == 6.12 ]]; then
    (cd "$cache" && apt-get download -q "linux-source-$series=$version" >&2)
  else
    bash "$repo/test/support/sid-download.sh" "$cache" "linux-source-$series=$version"
  fi
  deb=$(ls "$cache/linux-source-${series}_${version//:/%3a}_all.deb")
fi

# The .deb holds /usr/src/linux-source-SERIES.tar.xz; unpack the tarball straight from it.
work=$(mktemp -d "$cache/unpack.XXXXXX")
trap 'rm -rf "$work"' EXIT
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" "./usr/src/linux-source-$series.tar.xz"
rm -rf "$tree"
tar -xJf "$work/usr/src/linux-source-$series.tar.xz" -C "$cache"
rm -f "$cache/.unpacked-$series".*
touch "$stamp"
echo "$tree"

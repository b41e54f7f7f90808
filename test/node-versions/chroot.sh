#!/usr/bin/env bash
# A minimal chroot of one Debian release, shared by the package test (test/package/run.sh) and
# the Node-versions run (test/node-versions/run.sh): one debootstrap per release, kept as
# tarballs, so a second run only unpacks.
#
#   bash test/node-versions/chroot.sh RELEASE DIR           the release's own nodejs and the unit tests' tools
#   bash test/node-versions/chroot.sh --bare RELEASE DIR    a fresh machine: debootstrap --variant=minbase only
#   bash test/node-versions/chroot.sh --prepare RELEASE...  make the full tarball of each (and the bare one it
#                                                           is made from), unpack nothing
#
# The bare chroot is `debootstrap --variant=minbase RELEASE` from this machine's Debian mirror,
# with a policy-rc.d that lets no daemon start while packages are installed into it (what the
# package test installs its .deb into: nodejs must come from the .deb's Depends). The full one is
# the bare one + `apt-get install` of nodejs and the tools the unit tests run (kmod, pciutils,
# strace, gcc, xz-utils: as scripts/ci.sh installs them on the host), so the release's base
# system is downloaded and unpacked once for both. DIR must be empty or absent.
#
#   cache: ${FLAVOURCTL_CACHE:-<repo>/.cache}/node-chroots/RELEASE-minbase.tar.gz (bare),
#          RELEASE.tar.gz (full) and RELEASE.node (its `node --version`)
#
# Flocked per release: safe to run in parallel, e.g. --prepare in the background while other
# tests run. Any failure (mirror, debootstrap, apt) is an error, never a skip. Needs root.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
usage="usage: chroot.sh [--bare] RELEASE DIR | chroot.sh --prepare RELEASE..."
cache=${FLAVOURCTL_CACHE:-$repo/.cache}/node-chroots
tools=(nodejs kmod pciutils strace gcc libc6-dev xz-utils ca-certificates)

log() { printf 'chroot: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}
((EUID == 0)) || die "debootstrap and chroot need root"

# The Debian mirror of this machine's own apt sources (deb822 URIs: or one-line deb form).
mirror() {
  local uri
  uri=$(sed -nE 's#^(URIs:[[:space:]]*|deb[[:space:]]+(\[[^]]*\][[:space:]]+)?)(https?://[^[:space:]]+/debian)/?([[:space:]].*)?$#\3#p' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

# gzip -1: a third of -6's time for 7% more bytes (the full chroots are 500-600 MB unpacked)
pack() { # ROOT TARBALL
  tar -C "$1" -cf - . | gzip -1 >"$2.tmp"
  mv "$2.tmp" "$2"
}

work=
cleanup() {
  if [[ -n $work ]]; then
    mountpoint -q "$work/root/proc" && umount "$work/root/proc"
    rm -rf --one-file-system "$work"
  fi
  work=
}
trap cleanup EXIT
trap 'exit 143' TERM INT

make_bare() { # RELEASE
  local release=$1 started=$SECONDS
  command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install debootstrap (scripts/ci.sh does)"
  work=$(mktemp -d "$cache/.$release.XXXXXX")
  log "$release: debootstrap --variant=minbase from $(mirror)"
  debootstrap --variant=minbase "$release" "$work/root" "$(mirror)" >"$work/debootstrap.log" 2>&1 ||
    die "debootstrap $release failed: $(tail -n 5 "$work/debootstrap.log")"
  printf '#!/bin/sh\nexit 101\n' >"$work/root/usr/sbin/policy-rc.d"
  chmod 755 "$work/root/usr/sbin/policy-rc.d"
  pack "$work/root" "$cache/$release-minbase.tar.gz"
  cleanup
  log "$release: minbase in $((SECONDS - started)) s, $(du -h "$cache/$release-minbase.tar.gz" | cut -f1)"
}

make_full() { # RELEASE
  local release=$1 started=$SECONDS version
  work=$(mktemp -d "$cache/.$release.XXXXXX")
  mkdir "$work/root"
  tar -C "$work/root" -xzf "$cache/$release-minbase.tar.gz"
  cp /etc/resolv.conf "$work/root/etc/resolv.conf"
  mount -t proc proc "$work/root/proc"
  log "$release: apt-get install ${tools[*]}"
  # unsafe-io: no fsync per file, this tree is packed or thrown away. Check-Valid-Until: sid's
  # Release file has a Valid-Until a week ahead, which a mirror snapshot outlives (debootstrap,
  # which made the chroot from it, does not check it; apt refused 'expired' here).
  if ! chroot "$work/root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    sh -c 'apt-get update -qq -o Acquire::Check-Valid-Until=false &&
      apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-unsafe-io "$@"' \
    sh "${tools[@]}" >"$work/apt.log" 2>&1; then
    die "$release: apt-get install failed: $(tail -n 5 "$work/apt.log")"
  fi
  version=$(chroot "$work/root" /usr/bin/node --version) || die "$release: node does not run in the chroot"
  umount "$work/root/proc"
  rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"* "$work/root/etc/resolv.conf"
  pack "$work/root" "$cache/$release.tar.gz"
  echo "$version" >"$cache/$release.node"
  cleanup
  log "$release: node $version and the tools in $((SECONDS - started)) s, $(du -h "$cache/$release.tar.gz" | cut -f1)"
}

# Makes what is missing of RELEASE's tarballs (the full one only when asked: the package test
# needs the bare one alone). Holds the release's lock until it is done.
prepare() { # RELEASE bare|full
  local release=$1
  [[ $release =~ ^[a-z]+$ ]] || die "bad release '$release'"
  mkdir -p "$cache"
  exec 9>"$cache/$release.lock"
  flock 9
  [[ $2 == full && -s $cache/$release.tar.gz ]] && return
  [[ -s $cache/$release-minbase.tar.gz ]] || make_bare "$release"
  [[ $2 == bare || -s $cache/$release.tar.gz ]] || make_full "$release"
}

case ${1:-} in
--prepare)
  shift
  (($# > 0)) || die "$usage"
  for release in "$@"; do prepare "$release" full; done
  exit 0
  ;;
--bare)
  kind=bare tarball_name=-minbase
  shift
  ;;
*) kind=full tarball_name= ;;
esac
(($# == 2)) || die "$usage"
release=$1 dir=$2
prepare "$release" "$kind"
mkdir -p "$dir"
[[ -z $(ls -A "$dir") ]] || die "$dir is not empty"
tar -C "$dir" -xzf "$cache/$release$tarball_name.tar.gz"

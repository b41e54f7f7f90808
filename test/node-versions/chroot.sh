#!/usr/bin/env bash
# One Debian release's own Node.js, in a minimal chroot: `debootstrap --variant=minbase RELEASE`
# from the host's Debian mirror, then `apt-get install nodejs` and the tools the unit tests run
# (kmod, pciutils, strace, gcc, xz-utils: as scripts/ci.sh installs them on the host). Kept as
# a tarball, so a second run only unpacks it:
#
#   bash test/node-versions/chroot.sh RELEASE DIR     unpack RELEASE's chroot into DIR (empty or absent)
#
#   cache: ${FLAVOURCTL_CACHE:-<repo>/.cache}/node-chroots/RELEASE.tar.gz (+ RELEASE.node: `node --version`)
#
# Flocked per release. Any failure (mirror, debootstrap, apt) is an error, never a skip.
set -euo pipefail
release=${1:?usage: chroot.sh RELEASE DIR}
dir=${2:?usage: chroot.sh RELEASE DIR}
repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${FLAVOURCTL_CACHE:-$repo/.cache}/node-chroots
tarball=$cache/$release.tar.gz
packages=nodejs,kmod,pciutils,strace,gcc,libc6-dev,xz-utils,ca-certificates

log() { printf 'node-versions: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}
((EUID == 0)) || die "debootstrap and chroot need root"

# the host's own Debian mirror (deb822 URIs: or a one-line sources.list)
mirror() {
  local uri
  uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '$2 !~ /security/ {print $2; exit}')
  [[ -n $uri ]] || uri=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '$2 !~ /security/ {print $2; exit}')
  [[ -n $uri ]] || die "no Debian mirror found in /etc/apt/sources.list*"
  echo "$uri"
}

mkdir -p "$cache"
exec 9>"$cache/$release.lock"
flock 9
if [[ ! -s $tarball ]]; then
  command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install debootstrap (scripts/ci.sh does)"
  work=$(mktemp -d "$cache/$release.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  log "$release: debootstrap --variant=minbase from $(mirror)"
  debootstrap --variant=minbase --include="$packages" "$release" "$work/root" "$(mirror)" >"$work/debootstrap.log" 2>&1 ||
    die "debootstrap $release failed: $(tail -n 5 "$work/debootstrap.log")"
  version=$(chroot "$work/root" node --version) || die "$release: node does not run in the chroot"
  rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*
  tar -C "$work/root" -czf "$work/root.tar.gz" .
  echo "$version" >"$cache/$release.node"
  mv "$work/root.tar.gz" "$tarball"
  log "$release: node $version, $(du -h "$tarball" | cut -f1)"
fi
mkdir -p "$dir"
[[ -z $(ls -A "$dir") ]] || die "$dir is not empty"
tar -C "$dir" -xzf "$tarball"

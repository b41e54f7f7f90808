#!/usr/bin/env bash
# The consumers' own parsers for the export tests (test/export/consumers.test.ts): a Debian 13
# (trixie) chroot with libvirt-clients (virt-xml-validate and libvirt 11's schemas: Debian 12's
# libvirt 9.0 does not know <driver model=…/>) and python3-nova (OpenStack 2025.1: the
# PciDeviceSpec and [pci] alias parsers that know "live_migratable"). One
# `debootstrap --variant=minbase --include=…` from the host's Debian mirror (as
# test/node-versions/chroot.sh makes its chroots; on top of that script's chroot, with its Node
# and compiler, and a second apt-get pass, it took twice as long), kept unpacked in the cache:
#
#   bash test/export/fetch-consumers.sh
#
#   cache: ${FLAVOURCTL_CACHE:-<repo>/.cache}/exports/consumers-trixie/   the chroot the tests use
#
# Flocked; a second run does nothing. Needs root (debootstrap, chroot). Any failure is an error,
# never a skip.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${FLAVOURCTL_CACHE:-$repo/.cache}/exports
root=$cache/consumers-trixie
packages=libvirt-clients,python3-nova

log() { printf 'fetch-consumers: %s\n' "$*" >&2; }
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
exec 9>"$cache/consumers.lock"
flock 9
if [[ ! -x $root/usr/bin/virt-xml-validate || ! -d $root/usr/lib/python3/dist-packages/nova ]]; then
  command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install debootstrap (scripts/ci.sh does)"
  work=$(mktemp -d "$cache/build.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  log "trixie: debootstrap --variant=minbase --include=$packages from $(mirror)"
  debootstrap --variant=minbase --include="$packages" trixie "$work/root" "$(mirror)" >"$work/debootstrap.log" 2>&1 ||
    die "debootstrap trixie failed: $(tail -n 5 "$work/debootstrap.log")"
  rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*
  rm -rf "$root"
  mv "$work/root" "$root"
fi
log "$root: $(chroot "$root" dpkg-query -W -f='${Package} ${Version}, ' libvirt-clients python3-nova)"

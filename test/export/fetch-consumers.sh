#!/usr/bin/env bash
# The consumers' own parsers for the export tests (test/export/consumers.test.ts): a Debian 13
# (trixie) chroot with libvirt-clients (virt-xml-validate and libvirt 11's schemas: Debian 12's
# libvirt 9.0 does not know <driver model=…/>) and python3-nova (OpenStack 2025.1: the
# PciDeviceSpec and [pci] alias parsers that know "live_migratable"): test/node-versions/
# chroot.sh's trixie chroot, then `apt-get install --no-install-recommends` in it (with /proc
# mounted: python packages' postinst scripts need it; `debootstrap --include=python3-nova`
# failed configuring python3-pycparser), kept unpacked in the cache:
#
#   bash test/export/fetch-consumers.sh
#
#   cache: ${FLAVOURCTL_CACHE:-<repo>/.cache}/exports/consumers-trixie/   the chroot the tests use
#
# Flocked; a second run does nothing. Needs root (chroot). Any failure is an error, never a skip.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${FLAVOURCTL_CACHE:-$repo/.cache}/exports
root=$cache/consumers-trixie
packages=(libvirt-clients python3-nova)

log() { printf 'fetch-consumers: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}
((EUID == 0)) || die "chroot needs root"

mkdir -p "$cache"
exec 9>"$cache/consumers.lock"
flock 9
if [[ ! -x $root/usr/bin/virt-xml-validate || ! -d $root/usr/lib/python3/dist-packages/nova ]]; then
  work=$(mktemp -d "$cache/build.XXXXXX")
  cleanup() {
    umount "$work/root/proc" 2>/dev/null || true
    rm -rf "$work"
  }
  trap cleanup EXIT
  bash "$repo/test/node-versions/chroot.sh" trixie "$work/root"
  cp /etc/resolv.conf "$work/root/etc/resolv.conf"
  mount -t proc proc "$work/root/proc"
  log "trixie: apt-get install ${packages[*]}"
  {
    chroot "$work/root" apt-get update &&
      DEBIAN_FRONTEND=noninteractive chroot "$work/root" apt-get install -y --no-install-recommends "${packages[@]}"
  } >"$work/apt.log" 2>&1 || die "apt-get in the trixie chroot failed: $(tail -n 5 "$work/apt.log")"
  umount "$work/root/proc"
  rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*
  rm -rf "$root"
  mv "$work/root" "$root"
fi
log "$root: $(chroot "$root" dpkg-query -W -f='${Package} ${Version}, ' libvirt-clients python3-nova)"

#!/usr/bin/env bash
# A minimal Debian chroot of one release, made once with debootstrap and kept as a tarball:
#
#   bash test/package/chroot.sh RELEASE      (bookworm, trixie)
#
# Prints the tarball's path. The mirror is the one this machine's apt sources name (the
# first deb.debian.org-style URI of /etc/apt/sources.list*), else deb.debian.org.
#
#   cache: ${FLAVOURCTL_CACHE:-<repo>/.cache}/package/chroot-RELEASE-minbase.tar.gz
#
# Idempotent and safe to run in parallel (flock). Installs debootstrap when it is missing.
# Any failure is an error (exit 1): the package test must never pass on a chroot it did not make.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
release=${1:?usage: chroot.sh RELEASE}
[[ $release =~ ^[a-z]+$ ]] || { echo "package/chroot: bad release '$release'" >&2; exit 1; }

if ! command -v debootstrap >/dev/null; then
  echo "package/chroot: installing debootstrap" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 debootstrap >&2
fi

cache=${FLAVOURCTL_CACHE:-$repo/.cache}/package
tarball=$cache/chroot-$release-minbase.tar.gz
mkdir -p "$cache"
exec 9>"$cache/.lock-$release"
flock 9
if [[ -s $tarball ]]; then
  echo "$tarball"
  exit 0
fi

# The Debian mirror of this machine's own apt sources (deb822 URIs: or one-line deb form).
mirror=$(sed -nE 's#^(URIs:[[:space:]]*|deb[[:space:]]+(\[[^]]*\][[:space:]]+)?)(https?://[^[:space:]]+/debian)/?([[:space:]].*)?$#\3#p' \
  /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 || true)
mirror=${mirror:-http://deb.debian.org/debian}

work=$(mktemp -d "$cache/.debootstrap-$release.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "package/chroot: debootstrap --variant=minbase $release from $mirror" >&2
if ! debootstrap --variant=minbase "$release" "$work/root" "$mirror" >"$work/log" 2>&1; then
  tail -n 20 "$work/log" >&2
  echo "package/chroot: debootstrap $release failed" >&2
  exit 1
fi
# No daemon may start inside the chroot while packages are installed into it.
printf '#!/bin/sh\nexit 101\n' >"$work/root/usr/sbin/policy-rc.d"
chmod 755 "$work/root/usr/sbin/policy-rc.d"
tar -C "$work/root" -czf "$work/chroot.tar.gz" .
mv "$work/chroot.tar.gz" "$tarball"
echo "$tarball"

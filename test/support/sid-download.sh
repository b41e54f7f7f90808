#!/usr/bin/env bash
# Pinned packages of Debian's development branch (sid), for the tests that need today's kernel
# (7.2) and userland: `apt-get download` run inside the sid chroot of test/node-versions/chroot.sh,
# since this machine's own apt knows only its release. Each PACKAGE=VERSION lands in DEST as
# PACKAGE_VERSION_ARCH.deb; one already there is not fetched again. Prints nothing; exit 1 on
# any failure (a package or version the mirror no longer has included).
#
#   bash test/support/sid-download.sh DEST PACKAGE=VERSION...
#
# The mirror's sid Release file may be past its Valid-Until date (a frozen snapshot of the
# archive): apt is told not to check it; the pinned versions keep the downloads the same.
set -euo pipefail
dest=${1:?usage: sid-download.sh DEST PACKAGE=VERSION...}
shift
repo=$(cd "$(dirname "$0")/../.." && pwd)
export FLAVOURCTL_CACHE=${FLAVOURCTL_CACHE:-$repo/.cache}
log() { printf 'sid-download: %s\n' "$*" >&2; }

mkdir -p "$dest"
wanted=()
for pin in "$@"; do
  package=${pin%%=*} version=${pin#*=}
  compgen -G "$dest/${package}_${version//:/%3a}_*.deb" >/dev/null || wanted+=("$pin")
done
((${#wanted[@]} > 0)) || exit 0

sid=$(mktemp -d "${TMPDIR:-/tmp}/sid-download.XXXXXX")
trap 'rm -rf "$sid"' EXIT
bash "$repo/test/node-versions/chroot.sh" sid "$sid" >/dev/null
cp /etc/resolv.conf "$sid/etc/resolv.conf" 2>/dev/null || true
mkdir -p "$sid/tmp/download"
log "apt-get download ${wanted[*]}"
chroot "$sid" apt-get -qq -o Acquire::Check-Valid-Until=false update >&2
chroot "$sid" sh -c 'cd /tmp/download && exec apt-get -q -o Acquire::Check-Valid-Until=false -o APT::Sandbox::User=root download "$@"' sh "${wanted[@]}" >&2
mv "$sid"/tmp/download/*.deb "$dest/"

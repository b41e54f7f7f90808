#!/usr/bin/env bash
# The fresh-machine test of the Debian package (issue 17): builds dist/flavourctl_VERSION_all.deb,
# runs lintian on it (no error may be reported), then, for each Debian release, unpacks a minimal
# debootstrap chroot (test/node-versions/chroot.sh --bare, cached), installs the package there with apt-get
# (which pulls that release's own nodejs) and runs test/package/new-user.sh in it: --version,
# list/set/unset on the demo machine, udev-rule, the packaged rule's command, remove, purge.
#
#   bash test/package/run.sh [RELEASE...]     default: bookworm trixie (Debian 12 and 13)
#
# Needs root (chroot, mount) and the network for apt-get inside the chroots. Only the chroot's
# own /proc is mounted (node reads /proc/self); this machine's /etc, /sys and /run are never
# touched. Any failure, the test infrastructure's included, is exit 1.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
releases=("$@")
((${#releases[@]} > 0)) || releases=(bookworm trixie)
((EUID == 0)) || { echo "package/run: needs root (chroot, mount)" >&2; exit 1; }

if ! command -v lintian >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 lintian >/dev/null
fi

deb=$(bash scripts/package.sh)
version=$(node -p 'require("./package.json").version')

# npm pack keeps shipping the bundle alone, not the .deb beside it in dist/
packed=$(npm pack --dry-run --json 2>/dev/null | node -e \
  'const [p] = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log(p.files.map((f) => f.path).sort().join(" "))')
echo "== npm pack --dry-run: $packed"
[[ $packed == "README.md dist/flavourctl.js dist/package.json package.json" ]] ||
  { echo "package/run: npm pack would ship other files" >&2; exit 1; }

echo "== lintian $deb"
# As nobody (lintian warns when run as root). It exits non-zero on an error tag (its default
# --fail-on error) or when it cannot run at all: both fail the test.
if ! setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME=/tmp lintian --pedantic "$deb"; then
  echo "package/run: lintian reports errors or could not run" >&2
  exit 1
fi

# The man pages as shipped, through groff and man-db (lintian's man checks run these too, but
# report their output only as a warning): any message fails the test.
pages=$(mktemp -d "${TMPDIR:-/tmp}/flavourctl-pages.XXXXXX")
dpkg-deb -x "$deb" "$pages"
for page in "$pages"/usr/share/man/man*/*.gz; do
  said=$( { zcat "$page" | groff -man -ww -z; } 2>&1; LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null)
  [[ -z $said ]] || { echo "package/run: ${page#"$pages"}: $said" >&2; exit 1; }
  echo "== ${page#"$pages"}: groff -ww and man --warnings say nothing"
done
rm -rf "$pages"

root=
cleanup() {
  if [[ -n $root ]]; then
    mountpoint -q "$root/proc" && umount "$root/proc"
    rm -rf --one-file-system "$root"
  fi
}
trap cleanup EXIT

for release in "${releases[@]}"; do
  started=$SECONDS
  root=$(mktemp -d "${TMPDIR:-/tmp}/flavourctl-chroot-$release.XXXXXX")
  bash test/node-versions/chroot.sh --bare "$release" "$root"
  echo "== $release: a fresh chroot (debootstrap --variant=minbase) in $root"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  mount -t proc proc "$root/proc"
  cp "$deb" test/package/new-user.sh "$root/tmp/"
  chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash /tmp/new-user.sh "/tmp/$(basename "$deb")" "$version"
  cleanup
  root=
  echo "== $release: passed in $((SECONDS - started)) s"
done

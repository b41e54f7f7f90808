#!/usr/bin/env bash
# The guest kernel of the real-kernel suite: Debian's linux-image and linux-headers of one
# pinned 6.12 version, downloaded with apt-get and unpacked (dpkg -x) into
# ${FLAVOURCTL_CACHE:-<repo>/.cache}/kernel/root, with depmod run on its modules tree.
# Installs the Debian packages the suite needs when they are missing (root needed then).
# Idempotent and safe to run in parallel (flock); a finished unpack leaves a stamp.
# Prints the unpacked root's path.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=test/kernel/version.sh
source "$repo/test/kernel/version.sh"

needed=(qemu-system-x86 busybox-static kmod udev cpio gcc make libelf-dev)
missing=()
for package in "${needed[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]} > 0)); then
  echo "kernel/fetch: installing ${missing[*]}" >&2
  if [[ $(id -u) != 0 ]]; then
    echo "kernel/fetch: these Debian packages are missing and installing them needs root: ${missing[*]}" >&2
    exit 1
  fi
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 "${missing[@]}" >&2
fi

cache=${FLAVOURCTL_CACHE:-$repo/.cache}/kernel
root=$cache/root
stamp=$cache/.unpacked-$KERNEL_PACKAGE_VERSION
mkdir -p "$cache/debs"
exec 9>"$cache/.lock"
flock 9
if [[ -f $stamp && -d $root/lib/modules/$KERNEL_RELEASE ]]; then
  echo "$root"
  exit 0
fi

packages=(
  "linux-image-$KERNEL_RELEASE"
  "linux-headers-$KERNEL_RELEASE"
  "linux-headers-${KERNEL_RELEASE%-amd64}-common"
  "linux-kbuild-${KERNEL_RELEASE%-amd64}"
)
for package in "${packages[@]}"; do
  if ! ls "$cache/debs/${package}_"*.deb >/dev/null 2>&1; then
    echo "kernel/fetch: downloading $package=$KERNEL_PACKAGE_VERSION" >&2
    (cd "$cache/debs" && apt-get download -q "$package=$KERNEL_PACKAGE_VERSION" >&2)
  fi
done

rm -rf "$root" "$cache"/.unpacked-*
mkdir -p "$root"
for deb in "$cache"/debs/*.deb; do dpkg -x "$deb" "$root"; done
# Debian 12 ships the modules under /lib; a usr-merged package would put them under /usr/lib.
if [[ ! -d $root/lib/modules/$KERNEL_RELEASE && -d $root/usr/lib/modules/$KERNEL_RELEASE ]]; then
  ln -s usr/lib "$root/lib"
fi
# The headers' Makefile includes the -common one by its absolute /usr/src path: point it here.
sed -i "s|^include /usr/src/|include $root/usr/src/|" "$root/usr/src/linux-headers-$KERNEL_RELEASE/Makefile"
depmod -b "$root" "$KERNEL_RELEASE"
touch "$stamp"
echo "$root"

#!/usr/bin/env bash
# A guest kernel of the real-kernel suite (FLAVOURCTL_KERNEL, see version.sh): Debian's kernel
# and headers packages of one pinned version, downloaded (Debian 12's with apt-get, sid's
# through test/support/sid-download.sh) and unpacked (dpkg -x) into
# ${FLAVOURCTL_CACHE:-<repo>/.cache}/$KERNEL_CACHE/root, with depmod run on its modules tree
# (this machine's depmod: the guest runs this machine's modprobe on it).
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

cache=${FLAVOURCTL_CACHE:-$repo/.cache}/$KERNEL_CACHE
root=$cache/root
stamp=$cache/.unpacked-$KERNEL_PACKAGE_VERSION
mkdir -p "$cache/debs"
exec 9>"$cache/.lock"
flock 9
if [[ -f $stamp && -d $root/lib/modules/$KERNEL_RELEASE ]]; then
  echo "$root"
  exit 0
fi

wanted=()
for package in "${KERNEL_PACKAGES[@]}"; do
  ls "$cache/debs/${package}_${KERNEL_PACKAGE_VERSION//:/%3a}_"*.deb >/dev/null 2>&1 || wanted+=("$package=$KERNEL_PACKAGE_VERSION")
done
if ((${#wanted[@]} > 0)); then
  echo "kernel/fetch: downloading ${wanted[*]} ($KERNEL_SUITE)" >&2
  if [[ $KERNEL_SUITE == sid ]]; then
    bash "$repo/test/support/sid-download.sh" "$cache/debs" "${wanted[@]}"
  else
    (cd "$cache/debs" && apt-get download -q "${wanted[@]}" >&2)
  fi
fi

rm -rf "$root" "$cache"/.unpacked-*
mkdir -p "$root"
for package in "${KERNEL_PACKAGES[@]}"; do dpkg -x "$(ls "$cache/debs/${package}_${KERNEL_PACKAGE_VERSION//:/%3a}_"*.deb | head -n1)" "$root"; done
# Debian 12 ships the modules under /lib; sid's packages put them (and vmlinuz) under /usr/lib.
if [[ ! -d $root/lib/modules/$KERNEL_RELEASE && -d $root/usr/lib/modules/$KERNEL_RELEASE ]]; then
  ln -s usr/lib "$root/lib"
fi
# The headers' Makefile includes the -common one by its absolute /usr/src path: point it here.
sed -i "s|^include /usr/src/|include $root/usr/src/|" "$root/usr/src/linux-headers-$KERNEL_RELEASE/Makefile"
depmod -b "$root" "$KERNEL_RELEASE"
touch "$stamp"
echo "$root"

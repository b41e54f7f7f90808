#!/usr/bin/env bash
# vfio-pci variant drivers for a guest kernel (FLAVOURCTL_KERNEL, see version.sh). Debian's
# config leaves them off, so each variant directory of that kernel's own linux-source
# drivers/vfio/pci/ is built out of tree against the pinned linux-headers (test/kernel/fetch.sh),
# Kbuild taken from its Makefile with obj-$(CONFIG_X) turned into obj-m. 6.12 builds with this
# machine's gcc; sid's kernel (7.2) needs sid's compiler and C library (its kbuild tools are
# linked against them), so it builds in a sid chroot (test/node-versions/chroot.sh sid, plus
# make and libelf, kept as ${FLAVOURCTL_CACHE}/kernel72/build-chroot.tar.gz) into which the
# headers packages are unpacked at their own /usr/src paths. Unresolved symbols are tolerated (KBUILD_MODPOST_WARN=1):
# modpost still writes each module's aliases into its .mod.c, which is what the alias
# comparison reads; BTF is left out (it needs pahole). The .ko and .mod.c files go to
# ${FLAVOURCTL_CACHE:-<repo>/.cache}/variants/<release>/. Every variant that built is also
# installed under the guest modules tree's updates/ and depmod run, so modules.alias gets
# their real vfio_pci: aliases (the guest loads only virtio_vfio_pci, whose symbols all
# resolve; the others make the choice between variants real), among them
#   alias vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i* virtio_vfio_pci
# Idempotent (stamp) and flocked. A variant that does not compile is reported, not fatal;
# virtio_vfio_pci not compiling is. Prints the variants directory.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=test/kernel/version.sh
source "$repo/test/kernel/version.sh"

root=$(bash "$repo/test/kernel/fetch.sh")
source_tree=$(bash "$repo/test/analysis/fetch-source.sh" "$KERNEL_SERIES")
cache=${FLAVOURCTL_CACHE:-$repo/.cache}
out=$cache/variants/$KERNEL_RELEASE
stamp=$out/.built
modules=$root/lib/modules/$KERNEL_RELEASE
headers=$root/usr/src/linux-headers-$KERNEL_RELEASE

# A sid chroot that builds modules: chroot.sh's (gcc, libc6-dev) plus make and libelf (objtool,
# modpost), cached as a tarball under the 7.2 cache; unpacked into $1.
build_chroot() {
  local dir=$1 tarball=$cache/kernel72/build-chroot.tar.gz
  if [[ ! -s $tarball ]]; then
    local fresh=$work/fresh
    bash "$repo/test/node-versions/chroot.sh" sid "$fresh" >/dev/null
    cp /etc/resolv.conf "$fresh/etc/resolv.conf"
    chroot "$fresh" apt-get -qq -o Acquire::Check-Valid-Until=false update >&2
    DEBIAN_FRONTEND=noninteractive chroot "$fresh" apt-get install -y -qq -o Acquire::Check-Valid-Until=false \
      --no-install-recommends make libelf1t64 >&2
    rm -rf "$fresh"/var/cache/apt/archives/*.deb "$fresh"/var/lib/apt/lists/*
    mkdir -p "$cache/kernel72"
    tar -C "$fresh" -czf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$fresh"
  fi
  mkdir -p "$dir"
  tar -C "$dir" -xzf "$tarball"
}

mkdir -p "$out"
exec 9>"$out/.lock"
flock 9
if [[ -f $stamp && -f $modules/updates/virtio_vfio_pci.ko && -f $modules/updates/mlx5_vfio_pci.ko ]] &&
  grep -q ' virtio_vfio_pci$' "$modules/modules.alias"; then
  echo "$out"
  exit 0
fi

work=$(mktemp -d "$cache/variants/build.XXXXXX")
cleanup() {
  if [[ -n ${chroot_dir:-} ]] && mountpoint -q "$chroot_dir/proc"; then
    umount "$chroot_dir/proc" || umount -l "$chroot_dir/proc"
  fi
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
make_modules=(make -s -C "$headers" KBUILD_MODPOST_WARN=1 CONFIG_DEBUG_INFO_BTF_MODULES= -j"$(nproc)" modules)
build_dir=$work
if [[ $KERNEL_SUITE == sid ]]; then
  chroot_dir=$work/chroot
  build_chroot "$chroot_dir"
  for package in "${KERNEL_PACKAGES[@]}"; do
    [[ $package == linux-headers-* || $package == linux-kbuild-* ]] &&
      dpkg -x "$(ls "$cache/$KERNEL_CACHE/debs/${package}_${KERNEL_PACKAGE_VERSION//:/%3a}_"*.deb | head -n1)" "$chroot_dir"
  done
  # objtool reads /proc.
  mount -t proc proc "$chroot_dir/proc"
  build_dir=$chroot_dir/build
  mkdir -p "$build_dir"
  make_modules=(chroot "$chroot_dir" make -s -C "/usr/src/linux-headers-$KERNEL_RELEASE" KBUILD_MODPOST_WARN=1
    CONFIG_DEBUG_INFO_BTF_MODULES= -j"$(nproc)" modules)
fi
rm -f "$out"/*.ko "$out"/*.mod.c "$out"/build.log "$stamp"
built=() failed=()
for dir in "$source_tree"/drivers/vfio/pci/*/; do
  name=$(basename "$dir")
  cp -r "$dir" "$build_dir/$name"
  sed -E 's/^obj-\$\(CONFIG_[A-Z0-9_]+\)/obj-m/' "$dir/Makefile" >"$build_dir/$name/Kbuild"
  rm -f "$build_dir/$name/Makefile"
  if "${make_modules[@]}" M="${build_dir#"${chroot_dir:-}"}/$name" >"$work/$name.log" 2>&1; then
    for ko in "$build_dir/$name"/*.ko; do
      cp "$ko" "${ko%.ko}.mod.c" "$out/"
      built+=("$(basename "$ko" .ko)")
    done
  else
    failed+=("$name")
  fi
  { echo "== $name"; cat "$work/$name.log"; } >>"$out/build.log"
done
echo "kernel/build-variants: built ${built[*]:-nothing}${failed[*]:+; did not compile: ${failed[*]} (see $out/build.log)}" >&2

# modpost writes the module name with '-' as the .ko name; the installed name uses '_'.
ko=$(ls "$out"/virtio?vfio?pci.ko 2>/dev/null | head -n1 || true)
if [[ -z $ko ]]; then
  echo "kernel/build-variants: virtio_vfio_pci did not build (see $out/build.log)" >&2
  exit 1
fi
rm -rf "$modules/updates"
mkdir -p "$modules/updates"
for built_ko in "$out"/*.ko; do
  name=$(basename "$built_ko")
  cp "$built_ko" "$modules/updates/${name//-/_}"
done
depmod -b "$root" "$KERNEL_RELEASE"
if ! grep -q '^alias vfio_pci:v00001AF4d00001041sv\*sd\*bc\*sc\*i\* virtio_vfio_pci$' "$modules/modules.alias"; then
  echo "kernel/build-variants: depmod wrote no vfio_pci alias for virtio_vfio_pci in $modules/modules.alias" >&2
  exit 1
fi
touch "$stamp"
echo "$out"

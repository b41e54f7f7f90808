#!/usr/bin/env bash
# vfio-pci variant drivers for the guest kernel. Debian's config leaves them off, so each
# variant directory of linux-source-6.12's drivers/vfio/pci/ is built out of tree against the
# pinned linux-headers (test/kernel/fetch.sh), Kbuild taken from its Makefile with
# obj-$(CONFIG_X) turned into obj-m. Unresolved symbols are tolerated (KBUILD_MODPOST_WARN=1):
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
source_tree=$(bash "$repo/test/analysis/fetch-source.sh")
cache=${FLAVOURCTL_CACHE:-$repo/.cache}
out=$cache/variants/$KERNEL_RELEASE
stamp=$out/.built
modules=$root/lib/modules/$KERNEL_RELEASE
headers=$root/usr/src/linux-headers-$KERNEL_RELEASE

mkdir -p "$out"
exec 9>"$out/.lock"
flock 9
if [[ -f $stamp && -f $modules/updates/virtio_vfio_pci.ko && -f $modules/updates/mlx5_vfio_pci.ko ]] &&
  grep -q ' virtio_vfio_pci$' "$modules/modules.alias"; then
  echo "$out"
  exit 0
fi

work=$(mktemp -d "$cache/variants/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
rm -f "$out"/*.ko "$out"/*.mod.c "$out"/build.log "$stamp"
built=() failed=()
for dir in "$source_tree"/drivers/vfio/pci/*/; do
  name=$(basename "$dir")
  cp -r "$dir" "$work/$name"
  sed -E 's/^obj-\$\(CONFIG_[A-Z0-9_]+\)/obj-m/' "$dir/Makefile" >"$work/$name/Kbuild"
  rm -f "$work/$name/Makefile"
  if make -s -C "$headers" M="$work/$name" KBUILD_MODPOST_WARN=1 CONFIG_DEBUG_INFO_BTF_MODULES= -j"$(nproc)" modules \
    >"$work/$name.log" 2>&1; then
    for ko in "$work/$name"/*.ko; do
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

#!/usr/bin/env bash
# The real-kernel suite (npm run test:kernel): boots a pinned Debian kernel under QEMU
# (q35 + intel-iommu; KVM only when the CPU has vmx/svm, else TCG) with a fixed device set,
# and runs test/kernel/guest/*.test.ts inside it, in ONE node process per boot, against the
# real /sys with real modprobe and udev. The guest's root is this machine's (read-only 9p under
# a tmpfs overlay) with the Debian package (scripts/package.sh) installed into it: the tests
# run the packaged /usr/sbin/flavourctl, and udev the packaged rule. The TAP output comes back through a rw 9p share and
# is printed here, with the guest's exit code. No result from the guest, or QEMU unable to
# run, is a failure with the reason — never a skip.
#
# Boots: a test file named NAME.test.ts runs in boot 1, NAME.bootN.test.ts in boot N; the
# share's state/ directory ($FLAVOURCTL_KERNEL_STATE in the guest) survives from one boot to
# the next. Usage: run.sh [FILTER] (only guest test files whose name contains FILTER).
#
# Kernels (version.sh): FLAVOURCTL_KERNEL=6.12 or 7.2 runs the suite on that one; unset, the
# suite runs on each kernel of KERNEL_ALL_SERIES, one after the other, and ends with each
# kernel's release and test count (exit 1 if any failed).
# Env: FLAVOURCTL_CACHE (downloads and builds; default <repo>/.cache),
#      FLAVOURCTL_KERNEL_TIMEOUT (seconds per boot, default 900),
#      FLAVOURCTL_KERNEL_KEEP=1 (keep the run directory: console logs, TAP, timings).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=test/kernel/version.sh
source "$repo/test/kernel/version.sh"
filter=${1:-}
if [[ -z ${FLAVOURCTL_KERNEL:-} ]]; then
  summary=() status=0
  for series in "${KERNEL_ALL_SERIES[@]}"; do
    log=$(mktemp)
    FLAVOURCTL_KERNEL=$series bash "$0" "$@" | tee "$log" || status=1
    if grep -q '^# tests ' "$log"; then
      summary+=("$series: $(grep -m1 '^# kernel ' "$log" | cut -c10-): tests $(sed -n 's/^# tests //p' "$log" | tail -n1), pass $(sed -n 's/^# pass //p' "$log" | tail -n1), fail $(sed -n 's/^# fail //p' "$log" | tail -n1)")
    else
      summary+=("$series: no test results (see above)")
    fi
    rm -f "$log"
  done
  for line in "${summary[@]}"; do echo "kernel-suite: $line" >&2; done
  exit "$status"
fi
boot_timeout=${FLAVOURCTL_KERNEL_TIMEOUT:-900}
started=$(date +%s.%N)
say() { echo "kernel-suite: $*" >&2; }
die() {
  say "FAILED: $*"
  exit 1
}

root=$(bash "$repo/test/kernel/fetch.sh") || die "test/kernel/fetch.sh failed"
bash "$repo/test/kernel/build-variants.sh" >/dev/null || die "test/kernel/build-variants.sh failed"
modules=$root/lib/modules/$KERNEL_RELEASE
# Debian 12's package has /boot/vmlinuz-VER; sid's linux-binary-VER has /usr/lib/modules/VER/vmlinuz.
kernel=$root/boot/vmlinuz-$KERNEL_RELEASE
[[ -f $kernel ]] || kernel=$modules/vmlinuz
qemu=$(command -v qemu-system-x86_64) || die "qemu-system-x86_64 is not installed (test/kernel/fetch.sh installs it as root)"
node=$(command -v node) || die "node is not on PATH"
[[ -f /usr/share/qemu/qboot.rom ]] || die "/usr/share/qemu/qboot.rom is missing (Debian package qemu-system-x86)"
# The Debian package (it builds the bundle too): guest.sh installs it into the guest's root, and
# every guest test runs the packaged /usr/sbin/flavourctl under its packaged udev rule.
deb=$(cd "$repo" && bash scripts/package.sh) || die "scripts/package.sh failed"
deb=$repo/$deb

cache=${FLAVOURCTL_CACHE:-$repo/.cache}
# The guest sees this machine's root, except /run, /proc, /sys and /dev, which are its own.
for path in "$repo" "$(cd "$cache" && pwd)"; do
  [[ $path =~ ^/(run|proc|sys|dev)(/|$) ]] && die "$path is under /${BASH_REMATCH[1]}, which the guest cannot see: move it"
done
work=$(mktemp -d "$cache/$KERNEL_CACHE/run.XXXXXX")
if [[ ${FLAVOURCTL_KERNEL_KEEP:-} == 1 ]]; then
  say "run directory: $work"
else
  trap 'rm -rf "$work"' EXIT
fi
share=$work/share
mkdir -p "$share/state"

# The initramfs: static busybox, the 9p and overlay modules (uncompressed: busybox insmod reads plain ELF),
# and init.sh as /init.
initramfs=$work/initramfs
mkdir -p "$initramfs"/{bin,modules,proc,sys,dev}
cp "$(command -v busybox)" "$initramfs/bin/busybox"
file "$initramfs/bin/busybox" 2>/dev/null | grep -q dynamic && die "busybox is dynamically linked: install busybox-static"
for module in fs/netfs/netfs net/9p/9pnet net/9p/9pnet_virtio fs/9p/9p fs/overlayfs/overlay; do
  xz -dc "$modules/kernel/$module.ko.xz" >"$initramfs/modules/$(basename "$module").ko" ||
    die "cannot unpack $module.ko.xz from $modules"
done
cp "$repo/test/kernel/init.sh" "$initramfs/init"
(cd "$initramfs" && find . | cpio -o -H newc --quiet) >"$work/initramfs.cpio"

# Guest tests, by boot: one bundle per boot (esbuild; the guest needs no TypeScript loader).
declare -A phase_files=()
for file in "$repo"/test/kernel/guest/*.test.ts; do
  name=$(basename "$file")
  [[ -n $filter && $name != *"$filter"* ]] && continue
  phase=1
  [[ $name =~ \.boot([0-9]+)\.test\.ts$ ]] && phase=${BASH_REMATCH[1]}
  phase_files[$phase]+="import \"$file\";"$'\n'
done
((${#phase_files[@]} > 0)) || die "no guest test files in test/kernel/guest${filter:+ matching $filter}"
mapfile -t phases < <(printf '%s\n' "${!phase_files[@]}" | sort -n)
for phase in "${phases[@]}"; do
  printf '%s' "${phase_files[$phase]}" >"$work/entry-$phase.ts"
  "$repo/node_modules/.bin/esbuild" "$work/entry-$phase.ts" --bundle --platform=node --format=esm \
    --target=node20 --log-level=warning --outfile="$work/tests-$phase.mjs" \
    --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" ||
    die "bundling the guest tests of boot $phase failed"
done

if grep -qwE 'vmx|svm' /proc/cpuinfo && [[ -w /dev/kvm ]]; then
  accel=(-accel kvm -cpu host)
else
  accel=(-accel tcg,thread=multi,tb-size=256 -cpu max)
fi

# The device set. Bus numbers are the kernel's to choose: tests find devices by vendor:device.
devices=(
  -device intel-iommu,intremap=on,caching-mode=on
  # The guest's root and the results share: virtio-9p (1af4:1009) — tests must never unbind them.
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
  -virtfs "local,path=$share,mount_tag=results,security_model=none"
  -device isa-debug-exit,iobase=0xf4,iosize=0x04
  # Two e1000e (8086:10d3), one with a Mellanox subsystem vendor (15b3).
  -device pcie-root-port,id=rp1,chassis=1,slot=1
  -device e1000e,bus=rp1,mac=52:54:00:00:00:01
  -device pcie-root-port,id=rp2,chassis=2,slot=2
  -device e1000e,bus=rp2,mac=52:54:00:00:00:02,subsys_ven=0x15b3,subsys=0x0001
  # nvme (1b36:0010) with SR-IOV: up to 4 VFs.
  -device pcie-root-port,id=rp3,chassis=3,slot=3
  -device nvme-subsys,id=nvmesubsys,nqn=flavourctl
  -device nvme,id=nvme0,bus=rp3,serial=flavourctl0,subsys=nvmesubsys,sriov_max_vfs=4,sriov_vq_flexible=8,sriov_vi_flexible=4,max_ioqpairs=12,msix_qsize=8
  -blockdev driver=null-co,node-name=nvmeblk,size=67108864,read-zeroes=on
  -device nvme-ns,drive=nvmeblk,bus=nvme0,nsid=1
  # virtio-net 1af4:1041 and virtio-blk 1af4:1042 (modern only).
  -device pcie-root-port,id=rp4,chassis=4,slot=4
  -device virtio-net-pci,bus=rp4,disable-legacy=on,mac=52:54:00:00:00:03
  -device pcie-root-port,id=rp5,chassis=5,slot=5
  -blockdev driver=null-co,node-name=vblk,size=67108864,read-zeroes=on
  -device virtio-blk-pci,bus=rp5,disable-legacy=on,drive=vblk
  # A PCIe switch (x3130 upstream + two downstream ports) with devices behind it:
  # a virtio-rng (1af4:1044) and a qemu-xhci (1b36:000d).
  -device pcie-root-port,id=rp6,chassis=6,slot=6
  -device x3130-upstream,id=sw-up,bus=rp6
  -device xio3130-downstream,id=sw-down1,bus=sw-up,chassis=7,slot=0
  -device virtio-rng-pci,bus=sw-down1,disable-legacy=on
  -device xio3130-downstream,id=sw-down2,bus=sw-up,chassis=8,slot=1
  -device qemu-xhci,bus=sw-down2
  # A PCIe-to-PCI bridge (1b36:000e) with two legacy devices, one IOMMU group:
  # an e1000 (8086:100e) and an rtl8139 (10ec:8139).
  -device pcie-root-port,id=rp7,chassis=9,slot=9
  -device pcie-pci-bridge,id=pcibridge,bus=rp7
  -device e1000,bus=pcibridge,addr=1,mac=52:54:00:00:00:04
  -device rtl8139,bus=pcibridge,addr=2,mac=52:54:00:00:00:05
)

boot() {
  local phase=$1 dir=$work/boot-$phase
  mkdir -p "$dir"
  rm -f "$share"/{tests.mjs,tests.tap,rc,timing,node.out,init-error}
  cp "$work/tests-$phase.mjs" "$share/tests.mjs"
  cat >"$share/boot.env" <<ENV
FLAVOURCTL_REPO='$repo'
NODE='$node'
KERNEL_RELEASE='$KERNEL_RELEASE'
KERNEL_SERIES='$KERNEL_SERIES'
FLAVOURCTL_DEB='$deb'
KERNEL_ROOT='$root'
BOOT=$phase
ENV
  local t0 t1 qemu_rc=0
  t0=$(date +%s.%N)
  timeout --kill-after=10 "$boot_timeout" "$qemu" -nodefaults -display none -no-reboot \
    -machine q35,kernel-irqchip=split "${accel[@]}" -smp 2 -m 1024 \
    -bios /usr/share/qemu/qboot.rom \
    -kernel "$kernel" -initrd "$work/initramfs.cpio" \
    -append "console=ttyS0 intel_iommu=on iommu=pt panic=-1 no_timer_check quiet loglevel=4" \
    -serial "file:$dir/console.log" -monitor none \
    "${devices[@]}" </dev/null >"$dir/qemu.log" 2>&1 || qemu_rc=$?
  t1=$(date +%s.%N)
  for f in tests.tap rc timing node.out init-error; do
    [[ -f $share/$f ]] && mv "$share/$f" "$dir/$f"
  done
  echo "$t0 $t1 $qemu_rc" >"$dir/wall"
  if [[ ! -f $dir/rc ]]; then
    say "boot $phase gave no result (QEMU exit $qemu_rc$([[ $qemu_rc == 124 || $qemu_rc == 137 ]] && echo ": timed out after ${boot_timeout}s"))"
    [[ -f $dir/init-error ]] && say "guest: $(cat "$dir/init-error")"
    say "QEMU output:"
    sed 's/^/  qemu| /' "$dir/qemu.log" >&2
    say "guest console (last 60 lines):"
    tail -n 60 "$dir/console.log" | sed 's/^/  console| /' >&2
    return 1
  fi
}

status=0
tests=0 pass=0 fail=0
echo "# kernel $KERNEL_RELEASE"
for phase in "${phases[@]}"; do
  say "boot $phase: $KERNEL_RELEASE under QEMU (${accel[1]%%,*})"
  if ! boot "$phase"; then
    # A guest that died before its script started (a TCG boot can panic under host load) has
    # changed nothing: boot it once more. One that started and gave no result is a failure.
    grep -qs '^script_start' "$work/boot-$phase/timing" && die "boot $phase: no result from the guest"
    say "boot $phase: the guest died before its script started; booting it once more"
    mv "$work/boot-$phase" "$work/boot-$phase.failed"
    boot "$phase" || die "boot $phase: no result from the guest (twice)"
  fi
  dir=$work/boot-$phase
  rc=$(cat "$dir/rc")
  if [[ -s $dir/tests.tap ]]; then
    if ((${#phases[@]} > 1)); then
      sed -E "s/^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) /# boot $phase \1 /" "$dir/tests.tap"; echo
    else
      cat "$dir/tests.tap"; echo
    fi
    tests=$((tests + $(sed -n 's/^# tests //p' "$dir/tests.tap" | tail -n1)))
    pass=$((pass + $(sed -n 's/^# pass //p' "$dir/tests.tap" | tail -n1)))
    fail=$((fail + $(sed -n 's/^# fail //p' "$dir/tests.tap" | tail -n1)))
  fi
  if [[ -s $dir/node.out ]]; then
    say "boot $phase: node's own output:"
    sed 's/^/  node| /' "$dir/node.out" >&2
  fi
  if ! grep -q '^# tests ' "$dir/tests.tap" 2>/dev/null; then
    say "boot $phase: the guest's TAP output has no summary (exit $rc)"
    [[ -f $dir/init-error ]] && say "guest: $(cat "$dir/init-error")"
    tail -n 40 "$dir/console.log" | sed 's/^/  console| /' >&2
    die "boot $phase: no test results from the guest"
  fi
  [[ $rc == 0 ]] || { say "boot $phase: guest tests exited $rc"; status=1; }
  read -r t0 t1 _ <"$dir/wall"
  awk -v t0="$t0" -v t1="$t1" -v boot="$phase" '
    /^script_start/ {s=$2} /^tests_start/ {a=$2} /^tests_end/ {b=$2}
    END {printf "kernel-suite: boot %s: QEMU %.1f s; guest uptime at script %.1f s, at tests %.1f s; tests %.1f s\n", boot, t1-t0, s, a, b-a}
  ' "$dir/timing" >&2
done
if ((${#phases[@]} > 1)); then
  printf '# tests %d\n# pass %d\n# fail %d\n' "$tests" "$pass" "$fail"
fi
((fail == 0)) || status=1
awk -v t0="$started" -v t1="$(date +%s.%N)" 'BEGIN {printf "kernel-suite: total %.1f s\n", t1-t0}' >&2
exit "$status"

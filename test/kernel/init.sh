#!/bin/busybox sh
# /init of the guest's initramfs (busybox). Mounts the host's root read-only over 9p
# (mount tag hostroot) and the run's rw share (tag results) at /run/results inside it, then
# chroots into the host root to run test/kernel/guest.sh with the host's own node, modprobe
# and systemd-udevd. The guest leaves through isa-debug-exit (port 0xf4); the real exit code
# is in the share, and its absence tells the host the run broke.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

leave() {
  # QEMU exits with (value << 1) | 1; the host reads the real result from the share.
  printf '\000' | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
  poweroff -f
}
fail() {
  echo "flavourctl-init: $*"
  [ -d /newroot/run/results ] && echo "$*" >/newroot/run/results/init-error
  leave
}

for module in netfs 9pnet 9pnet_virtio 9p overlay; do
  insmod "/modules/$module.ko" || fail "insmod $module failed"
done
mkdir -p /hostroot /overlay /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /hostroot ||
  fail "cannot mount the host root (9p tag hostroot)"
# Writes inside the guest (modprobe.d, /lib/modules/<release>, rules) land in a tmpfs upper
# layer; the host's files are never touched.
mount -t tmpfs tmpfs /overlay && mkdir -p /overlay/upper /overlay/work || fail "cannot mount tmpfs"
mount -t overlay overlay -o lowerdir=/hostroot,upperdir=/overlay/upper,workdir=/overlay/work /newroot ||
  fail "cannot mount the overlay over the host root"
mount -t tmpfs -o mode=0755 tmpfs /newroot/run || fail "cannot mount tmpfs on /run"
mkdir -p /newroot/run/results
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 results /newroot/run/results ||
  fail "cannot mount the results share (9p tag results)"
for fs in proc sys dev; do mount --move "/$fs" "/newroot/$fs" || fail "cannot move /$fs"; done
[ -f /newroot/run/results/boot.env ] || fail "no boot.env in the results share"
. /newroot/run/results/boot.env
chroot /newroot /bin/sh "$FLAVOURCTL_REPO/test/kernel/guest.sh" </dev/console >/dev/console 2>&1
[ -f /newroot/run/results/rc ] || fail "guest.sh ended without writing its exit code"
sync
leave

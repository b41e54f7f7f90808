#!/bin/sh
# Runs inside the guest, chrooted into the host's root (9p, read-only, under a tmpfs
# overlay): binds the guest kernel's modules tree, starts the real systemd-udevd (which autoloads modules
# from MODALIAS through its kmod builtin), then runs this boot's bundled guest tests in ONE
# node process with the TAP reporter. Everything the host reads back goes to /run/results.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
results=/run/results
. "$results/boot.env"
uptime() { cut -d' ' -f1 /proc/uptime; }
echo "script_start $(uptime)" >"$results/timing"
fail() {
  echo "guest.sh: $*" | tee "$results/init-error"
  echo 1 >"$results/rc"
  exit 1
}

mkdir -p /run/lock /run/udev /run/flavourctl
# The guest kernel's modules tree, where modprobe and udev's kmod builtin look for it (the
# root is an overlay with a tmpfs upper layer: writes stay in the guest).
mkdir -p "/lib/modules/$KERNEL_RELEASE"
mount --bind "$KERNEL_ROOT/lib/modules/$KERNEL_RELEASE" "/lib/modules/$KERNEL_RELEASE" ||
  fail "cannot bind the guest modules tree $KERNEL_ROOT/lib/modules/$KERNEL_RELEASE"

# The Debian package, installed on the guest's disk (the overlay) before udevd starts:
# /usr/sbin/flavourctl, /usr/lib/flavourctl/, /usr/lib/udev/rules.d/60-flavourctl.rules,
# /etc/flavourctl/rules.d. dpkg -x: the package's files; its postinst only reloads a running
# udevd, and none runs yet. The rule runs /usr/bin/node: this root's own.
dpkg -x "$FLAVOURCTL_DEB" / || fail "cannot install $FLAVOURCTL_DEB into the guest's root"
[ -x /usr/bin/node ] || fail "the packaged udev rule runs /usr/bin/node, which this root lacks"

# A persistent disk's /etc: what a test of an earlier boot left in state/etc is this boot's
# /etc, in place before udevd starts (udev rules and flavourctl rules at coldplug).
if [ -d "$results/state/etc" ]; then
  cp -R "$results/state/etc/." /etc/ || fail "cannot copy state/etc over /etc"
fi

# systemd's tools refuse to act in a chroot unless told otherwise (udevadm too).
export SYSTEMD_IGNORE_CHROOT=1
/lib/systemd/systemd-udevd --daemon --resolve-names=never ||
  fail "systemd-udevd did not start"
# Every kernel uevent of the coldplug (add, bind, module loads), for tests that must show what
# bound when: the monitor listens before the trigger (its header is printed once it does).
export FLAVOURCTL_COLDPLUG_UEVENTS=/run/coldplug.uevents
stdbuf -oL udevadm monitor --kernel --property >"$FLAVOURCTL_COLDPLUG_UEVENTS" 2>&1 &
monitor=$!
for _ in $(seq 50); do grep -q '^KERNEL - ' "$FLAVOURCTL_COLDPLUG_UEVENTS" && break; sleep 0.1; done
# Coldplug the PCI devices only: udev loads their drivers from MODALIAS (the CPU's crypto and
# kvm modules would only cost boot time under TCG).
udevadm trigger --subsystem-match=pci --action=add
# The packaged rule runs the hook (node --jitless) at every PCI add event: under TCG on a loaded
# host the coldplug took over 120 s. Tests that start before it ends see devices still unbound
# and fail for no fault of theirs: an unfinished coldplug is an infrastructure failure.
udevadm settle --timeout="${COLDPLUG_TIMEOUT:-900}" || fail "udevadm settle: the coldplug did not finish in ${COLDPLUG_TIMEOUT:-900} s"
kill "$monitor"
echo "tests_start $(uptime)" >>"$results/timing"

cd "$FLAVOURCTL_REPO" || fail "no repository at $FLAVOURCTL_REPO"
# FLAVOURCTL_KERNEL_STATE survives into the next boot (for tests of a later phase);
# FLAVOURCTL_KERNEL_ROOT is where the guest kernel's packages are unpacked (outside /lib/modules).
FLAVOURCTL_GUEST=1 FLAVOURCTL_KERNEL_STATE="$results/state" FLAVOURCTL_KERNEL_ROOT="$KERNEL_ROOT" \
  "$NODE" --test-reporter=tap --test-reporter-destination="$results/tests.tap" \
  "$results/tests.mjs" >"$results/node.out" 2>&1
rc=$?
echo "tests_end $(uptime)" >>"$results/timing"
echo "$rc" >"$results/rc"

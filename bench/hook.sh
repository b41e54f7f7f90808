#!/usr/bin/env bash
# The udev hook's cost per PCI add event: `flavourctl hook` on the 25-device capture
# (test/fixtures/sysfs/q35-linux6.12-sriov.tar.gz, a real Linux 6.12 under QEMU) with Debian's
# 6.12 modules, in one hyperfine run beside `node -e 0` (the floor of any Node program). Every
# command runs through `env` with udev's environment for one add event (ACTION, SUBSYSTEM,
# PCI_SLOT_NAME, and no PATH, as udev gives it):
#   hook, no rules          the rules directory is empty (a machine without saved flavours)
#   hook, device not named  rules exist, none names this device (most events of a boot)
#   hook, rule already met  a rule names the device, which already has its flavour
#   hook, boot pass         the first event of a boot: every device checked against the rules
# The tree is a copy in a temporary directory: nothing is written to this machine's /sys.
#
#   bash bench/hook.sh [RUNS]        (default 30 runs each, 3 warm-ups; npm run build first)
#
# Needs hyperfine and the oracle's modules tree (bash test/oracle/fetch-trees.sh).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-30}
version=6.12.117+deb12-amd64
modules="${FLAVOURCTL_CACHE:-$repo/.cache}/oracle/trees/$version/lib/modules/$version"
for tool in hyperfine node; do
  command -v "$tool" >/dev/null || { echo "bench/hook.sh: $tool is missing" >&2; exit 1; }
done
[[ -f $modules/modules.alias.bin ]] || {
  echo "bench/hook.sh: $modules is missing: run bash test/oracle/fetch-trees.sh" >&2
  exit 1
}
[[ -x $repo/dist/flavourctl.js ]] || { echo "bench/hook.sh: run npm run build first" >&2; exit 1; }
node=$(command -v node)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$repo/test/fixtures/sysfs/q35-linux6.12-sriov.tar.gz" -C "$work"
tree=$work/q35-linux6.12-sriov

# 0000:07:00.0 (e1000e) is named by a rule it already meets: driver e1000e, override set.
mkdir -p "$work/empty" "$work/rules" "$work/run"
printf 'match address 0000:07:00.0\nflavour driver\ndriver e1000e\n' >"$work/rules/nic.rule"
printf 'match id 15b3:101e\nflavour vfio\n' >"$work/rules/connectx-vfs.rule"
echo e1000e >"$tree/bus/pci/devices/0000:07:00.0/driver_override"
touch "$work/run/boot-pass-done"

# as the udev rule runs it (flavourctl udev-rule: node's flags for udevd's MemoryDenyWriteExecute)
hook="$node --jitless $repo/dist/flavourctl.js hook --sysfs $tree --modules $modules"
# udev's environment: the event's properties only; flavourctl's caches (README "Caches") in the
# bench's own directory (for root they would be in /var/cache/flavourctl), made by the warm-up runs
event() { echo "env -i ACTION=add SUBSYSTEM=pci PCI_SLOT_NAME=$1 FLAVOURCTL_INDEX_CACHE=$work/cache"; }
# the hook must succeed and do nothing in each case, or the timings mean nothing
for check in "$(event 0000:01:00.0) $hook --config $work/empty" \
  "$(event 0000:01:00.0) $hook --config $work/rules --run-dir $work/run" \
  "$(event 0000:07:00.0) $hook --config $work/rules --run-dir $work/run"; do
  out=$($check 2>&1) || { echo "bench/hook.sh: failed: $check: $out" >&2; exit 1; }
done
[[ $($(event 0000:07:00.0) $hook --config "$work/rules" --run-dir "$work/run" 2>&1) == *"already e1000e"* ]] ||
  { echo "bench/hook.sh: the rule is not met as intended" >&2; exit 1; }

hyperfine -N --style basic --warmup 3 --runs "$runs" --export-json "$work/results.json" \
  -n "node -e 0" "$(event 0000:01:00.0) $node -e 0" \
  -n "hook, no rules" "$(event 0000:01:00.0) $hook --config $work/empty" \
  -n "hook, device not named" "$(event 0000:01:00.0) $hook --config $work/rules --run-dir $work/run" \
  -n "hook, rule already met" "$(event 0000:07:00.0) $hook --config $work/rules --run-dir $work/run" \
  -n "hook, boot pass" --prepare "rm -rf $work/bootpass" \
  "$(event 0000:01:00.0) $hook --config $work/rules --run-dir $work/bootpass" >&2

node "$repo/bench/hyperfine-summary.mjs" "$work/results.json" "hook, no rules / node -e 0" \
  "hook, device not named / node -e 0" "hook, rule already met / node -e 0" "hook, boot pass / node -e 0"

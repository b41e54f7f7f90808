#!/usr/bin/env bash
# The udev hook's time under the node on PATH, as bench/hook.sh measures it (the same capture,
# rules and command line: node with the udev rule's flags, udev's environment) but without
# hyperfine, which the release chroots of run.sh do not have: the median of RUNS wall-clock
# times after 3 warm-ups, in microseconds, each run a fork of this shell like the others.
#
#   bash test/node-versions/hook-time.sh MODULES_DIR [RUNS]
#   prints: node-e-0 hook-no-rules hook-device-not-named  (medians, microseconds)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
modules=${1:?usage: hook-time.sh MODULES_DIR [RUNS]}
runs=${2:-21}
[[ -f $modules/modules.alias.bin ]] || { echo "hook-time.sh: $modules/modules.alias.bin is missing" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$repo/test/fixtures/sysfs/q35-linux6.12-sriov.tar.gz" -C "$work"
tree=$work/q35-linux6.12-sriov
mkdir -p "$work/empty" "$work/rules" "$work/run"
printf 'match address 0000:07:00.0\nflavour driver\ndriver e1000e\n' >"$work/rules/nic.rule"
printf 'match id 15b3:101e\nflavour vfio\n' >"$work/rules/connectx-vfs.rule"
touch "$work/run/boot-pass-done"

# node's flags as the udev rule this node writes has them (udev-rule.ts: they depend on V8)
read -r -a flags < <(node "$repo/dist/flavourctl.js" udev-rule | sed -n 's/.*RUN+="[^ ]* \(.*\) [^ ]*flavourctl.js hook"$/\1/p')
[[ ${flags[0]:-} == --jitless ]] || { echo "hook-time.sh: no --jitless in the udev rule" >&2; exit 1; }
hook=(node "${flags[@]}" "$repo/dist/flavourctl.js" hook --sysfs "$tree" --modules "$modules")
event=(env -i PATH="$PATH" ACTION=add SUBSYSTEM=pci PCI_SLOT_NAME=0000:01:00.0 FLAVOURCTL_INDEX_CACHE="$work/cache")
# both must succeed, or the times mean nothing
"${event[@]}" "${hook[@]}" --config "$work/empty" >/dev/null
"${event[@]}" "${hook[@]}" --config "$work/rules" --run-dir "$work/run" >/dev/null

median() {
  local times=() i t0 t1
  for i in 1 2 3; do "$@" >/dev/null; done
  for ((i = 0; i < runs; i++)); do
    t0=$(date +%s%N)
    "$@" >/dev/null
    t1=$(date +%s%N)
    times+=($(((t1 - t0) / 1000)))
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p"
}
echo "$(median "${event[@]}" node -e 0) $(median "${event[@]}" "${hook[@]}" --config "$work/empty") \
$(median "${event[@]}" "${hook[@]}" --config "$work/rules" --run-dir "$work/run")"

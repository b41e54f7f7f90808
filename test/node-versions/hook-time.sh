#!/usr/bin/env bash
# The udev hook under the node on PATH, as a udev rule runs it: the rule's own command line
# (node, its flags, the command), udev's environment, bench/hook.sh's capture and rules. First a
# check: the hook exits 0 and prints nothing but, under V8 before 13 (Node 18-22), V8's line
# about --jitless disabling WebAssembly. Then its time, without hyperfine, which the release
# chroots of run.sh do not have: the median of RUNS wall-clock times after 3 warm-ups, in
# microseconds, each run a fork of this shell like the others.
#
#   bash test/node-versions/hook-time.sh [--rule FILE] MODULES_DIR [RUNS]
#   prints: node-e-0 hook-no-rules hook-device-not-named  (medians, microseconds)
#
# --rule FILE: the rules file to take the command line from, e.g. the Debian package's
# /usr/lib/udev/rules.d/60-flavourctl.rules (run.sh installs the package into each chroot);
# without it, the rule this checkout's bundle prints (`node dist/flavourctl.js udev-rule`).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
usage="usage: hook-time.sh [--rule FILE] MODULES_DIR [RUNS]"
rule=
if [[ ${1:-} == --rule ]]; then
  rule=${2:?$usage}
  shift 2
fi
modules=${1:?$usage}
runs=${2:-21}
die() {
  echo "hook-time.sh: $*" >&2
  exit 1
}
[[ -f $modules/modules.alias.bin ]] || die "$modules/modules.alias.bin is missing"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$repo/test/fixtures/sysfs/q35-linux6.12-sriov.tar.gz" -C "$work"
tree=$work/q35-linux6.12-sriov
mkdir -p "$work/empty" "$work/rules" "$work/run"
printf 'match address 0000:07:00.0\nflavour driver\ndriver e1000e\n' >"$work/rules/nic.rule"
printf 'match id 15b3:101e\nflavour vfio\n' >"$work/rules/connectx-vfs.rule"
touch "$work/run/boot-pass-done"

# The RUN string, split on spaces as udev splits it (no shell).
if [[ -n $rule ]]; then
  run=$(sed -n 's/^ACTION=="add", SUBSYSTEM=="pci", RUN+="\([^"]*\)"$/\1/p' "$rule") || die "cannot read $rule"
else
  run=$(node "$repo/dist/flavourctl.js" udev-rule | sed -n 's/^ACTION=="add", SUBSYSTEM=="pci", RUN+="\([^"]*\)"$/\1/p')
fi
read -r -a command <<<"$run"
[[ ${command[1]:-} == --jitless && ${command[-1]} == hook ]] || die "not the hook's rule: '$run'"
hook=("${command[@]}" --sysfs "$tree" --modules "$modules")
node=${command[0]}
event=(env -i ACTION=add SUBSYSTEM=pci PCI_SLOT_NAME=0000:01:00.0 FLAVOURCTL_INDEX_CACHE="$work/cache")

# Both must succeed and say nothing, or the times mean nothing (and the rule is broken on this node).
check() {
  local err
  if ! err=$("${event[@]}" "${hook[@]}" "$@" 2>&1 >/dev/null); then
    die "the rule's command failed under node $("$node" --version 2>&1): ${hook[*]} $*: $err"
  fi
  err=$(grep -vx 'Warning: disabling flag --expose_wasm due to conflicting flags' <<<"$err" || true)
  [[ -z $err ]] || die "the rule's command printed under node $("$node" --version): $err"
}
check --config "$work/empty"
check --config "$work/rules" --run-dir "$work/run"

median() {
  local times=() i t0 t1
  for i in 1 2 3; do "$@" >/dev/null 2>&1; done
  for ((i = 0; i < runs; i++)); do
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s%N)
    times+=($(((t1 - t0) / 1000)))
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p"
}
echo "$(median "${event[@]}" "$node" -e 0) $(median "${event[@]}" "${hook[@]}" --config "$work/empty") \
$(median "${event[@]}" "${hook[@]}" --config "$work/rules" --run-dir "$work/run")"

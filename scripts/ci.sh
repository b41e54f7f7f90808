#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: installs what the tests need (Debian
# packages, npm packages, the Debian kernel trees the oracles use), then runs every test,
# the real-kernel suite under QEMU included. This is the README's test command; .ci/run
# calls it and nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(kmod libkmod-dev pciutils driverctl gcc make cpio xz-utils strace debootstrap lintian)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]} > 0)); then
  echo "ci: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null
fi

npm ci --no-audit --no-fund
# build-variants.sh also fetches the bench kernel: the unit tests read its modules tree with lspci.
for fetch in test/oracle/fetch-trees.sh test/analysis/fetch-source.sh test/kernel/build-variants.sh; do
  if [[ -x $fetch || -f $fetch ]]; then bash "$fetch"; fi
done
# The real-kernel suite's second kernel (Debian sid's 7.2) and its variants, built in a sid chroot;
# npm test's test:kernel then runs the suite on 6.12 and on 7.2.
FLAVOURCTL_KERNEL=7.2 bash test/kernel/build-variants.sh
npm test
# The Debian package, installed and used in fresh Debian 12 and 13 chroots (lintian too).
bash test/package/run.sh
# The unit suite under each distribution's own Node (test/node-versions/run.sh) is not run here
# yet: its three debootstrap chroots and four suites would add 25-40 minutes; it is to share the
# package test's chroots first. Run it by hand: bash test/node-versions/run.sh

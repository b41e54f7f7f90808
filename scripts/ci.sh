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

# The Debian chroots of the package test and of the Node-versions run (one debootstrap per
# release, test/node-versions/chroot.sh), made meanwhile at low priority: downloads and dpkg.
chroots_log=$(mktemp)
nice -n 19 setsid bash test/node-versions/chroot.sh --prepare bookworm trixie sid >"$chroots_log" 2>&1 &
chroots=$!
trap '[[ -z $chroots ]] || kill -- "-$chroots" 2>/dev/null || true' EXIT

npm ci --no-audit --no-fund
# build-variants.sh also fetches the bench kernel: the unit tests read its modules tree with lspci.
# fetch-consumers.sh: the Debian 13 chroot with libvirt and Nova that read the exports.
for fetch in test/oracle/fetch-trees.sh test/analysis/fetch-source.sh test/kernel/build-variants.sh test/export/fetch-consumers.sh; do
  if [[ -x $fetch || -f $fetch ]]; then bash "$fetch"; fi
done
# linux-source-7.2 (Debian sid): the variant table, the demo machine's tables, upgrade 6.12 -> 7.2.
bash test/analysis/fetch-source.sh 7.2 >/dev/null
# The real-kernel suite's second kernel (Debian sid's 7.2) and its variants, built in a sid chroot;
# npm test's test:kernel then runs the suite on 6.12 and on 7.2.
FLAVOURCTL_KERNEL=7.2 bash test/kernel/build-variants.sh
npm test
# The Cockpit page in Debian's chromium through Debian's cockpit-ws (it installs them: 181 MB into a
# bare Debian 12; docs/cockpit.md "Tests" has its times).
bash test/cockpit/run.sh
wait "$chroots" || { cat "$chroots_log"; echo "ci: the Debian chroots could not be made" >&2; exit 1; }
chroots=
cat "$chroots_log"
# The Debian package, installed and used in fresh Debian 12 and 13 chroots (lintian too).
bash test/package/run.sh
# The Ansible collection: ansible-playbook over SSH against three hosts in network namespaces.
bash test/fleet/run.sh
# The unit suite under Debian 12's nodejs 18.20, Node 22, Debian sid's 24 and Debian 13's 20.19
# (the host's 20 ran it above), two at a time, and the packaged udev rule's hook under each.
bash test/node-versions/run.sh

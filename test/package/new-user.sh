#!/bin/bash
# Run INSIDE a fresh Debian chroot by test/package/run.sh: install the package as a new user
# would, use it, remove and purge it, and check what is left. Every check that fails exits 1.
#   new-user.sh DEB VERSION
set -euo pipefail
deb=$1 version=$2
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 HOME=/root
fail() {
  echo "new-user: FAIL: $*" >&2
  exit 1
}
step() { printf '\n$ %s\n' "$*"; }
present() { [[ -e $1 || -L $1 ]]; }

step "apt-get install -y ./$(basename "$deb")"
apt-get update -qq
apt-get install -y -q -o Dpkg::Use-Pty=0 "$deb" >/tmp/apt-install.log 2>&1 || {
  cat /tmp/apt-install.log
  fail "apt-get install of the package"
}
sed -n '/^The following NEW packages/,/^[0-9]* upgraded/p' /tmp/apt-install.log
step "node --version"
node --version
[[ $(readlink -f "$(command -v node)") == /usr/bin/node ]] || fail "node is not /usr/bin/node"

step "flavourctl --version"
[[ $(command -v flavourctl) == /usr/sbin/flavourctl ]] || fail "flavourctl is not /usr/sbin/flavourctl on PATH"
out=$(flavourctl --version) || fail "flavourctl --version"
echo "$out"
[[ $out == "flavourctl $version" ]] || fail "--version printed '$out'"

step "man flavourctl"
apt-get install -y -q --no-install-recommends man-db >/tmp/man-db.log 2>&1 || { cat /tmp/man-db.log; fail "apt-get install man-db"; }
MANPAGER=cat MANWIDTH=80 man flavourctl >/tmp/man.out 2>/tmp/man.err || { cat /tmp/man.err; fail "man flavourctl"; }
head -n 8 /tmp/man.out
for section in SYNOPSIS DESCRIPTION COMMANDS OPTIONS 'EXIT STATUS' FILES 'SEE ALSO'; do
  grep -qx "$section" /tmp/man.out || fail "man flavourctl has no $section"
done
for page in flavourctl-rules flavourctl-machine; do
  MANPAGER=cat man 5 "$page" | grep -q '^NAME' || fail "man 5 $page"
done
echo "(and man 5 flavourctl-rules, man 5 flavourctl-machine)"

step "bash completion: flavourctl set --machine demo --d<Tab>"
completion=/usr/share/bash-completion/completions/flavourctl
[[ -f $completion ]] || fail "no $completion"
offered=$(bash --norc -c 'source "$1"; COMP_WORDS=(flavourctl set --machine demo --d); COMP_CWORD=4; _flavourctl; echo "${COMPREPLY[*]}"' bash "$completion")
echo "$offered"
[[ $offered == "--driver --dry-run" ]] || fail "completion offered '$offered'"

step "the Cockpit page"
cockpit_page=/usr/share/cockpit/flavourctl
for file in manifest.json index.html flavourctl.js flavourctl.css; do
  [[ -f $cockpit_page/$file ]] || fail "no $cockpit_page/$file"
done
ls "$cockpit_page"

step "flavourctl list --machine demo"
flavourctl list --machine demo >/tmp/list.out || fail "list --machine demo"
head -n 4 /tmp/list.out
grep -q '^0000:03:00\.0 .* virtio-pci ' /tmp/list.out || fail "list: 0000:03:00.0 is not on virtio-pci"

step "flavourctl set 0000:03:00.0 vfio --machine demo"
flavourctl set 0000:03:00.0 vfio --machine demo | tail -n 2 | tee /tmp/set.out
grep -q 'done, now on virtio_vfio_pci' /tmp/set.out || fail "set did not give virtio_vfio_pci"
step "flavourctl unset 0000:03:00.0 --machine demo"
flavourctl unset 0000:03:00.0 --machine demo | tail -n 2 | tee /tmp/unset.out
grep -q 'done, now on virtio-pci' /tmp/unset.out || fail "unset did not give virtio-pci back"

# root's code cache, from /usr/lib (host/cache-dir.ts): written once, then taken as it is
cache=$(ls /var/cache/flavourctl/code-*-list.v8) || fail "no code cache in /var/cache/flavourctl for list"
before=$(stat -c '%i %Y' "$cache")
flavourctl list --machine demo >/dev/null
[[ $(stat -c '%i %Y' "$cache") == "$before" ]] || fail "the code cache was written again (V8 rejected it)"
echo "(code cache $cache made by the first list, used by the second)"

step "flavourctl list --machine demo, as a user without privileges"
install -d -o nobody /tmp/nobody
setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME=/tmp/nobody flavourctl list --machine demo |
  grep '^0000:03:00\.0 ' || fail "list --machine demo as nobody"

step "flavourctl udev-rule"
flavourctl udev-rule | tee /tmp/rule.out
grep -qx 'ACTION=="add", SUBSYSTEM=="pci", RUN+="/usr/bin/node --jitless /usr/sbin/flavourctl hook"' \
  /tmp/rule.out || fail "udev-rule does not name /usr/bin/node and /usr/sbin/flavourctl"
cmp /tmp/rule.out /usr/lib/udev/rules.d/60-flavourctl.rules || fail "the packaged rule differs from 'flavourctl udev-rule'"
echo "(the same as /usr/lib/udev/rules.d/60-flavourctl.rules)"

step "a saved rule in /etc/flavourctl/rules.d, and the packaged rule's command as udev runs it"
printf 'match address 0000:03:00.0\nflavour vfio\n' >/etc/flavourctl/rules.d/net.rule
echo "local notes, not a rule" >/etc/flavourctl/rules.d/NOTES
run=$(sed -nE 's/.*RUN\+="([^"]+)".*/\1/p' /usr/lib/udev/rules.d/60-flavourctl.rules)
# shellcheck disable=SC2086 # the rule's words, split as udev splits them
env -i ACTION=add SUBSYSTEM=pci PCI_SLOT_NAME=0000:03:00.0 HOME=/root $run \
  --machine demo --config /etc/flavourctl/rules.d --run-dir /tmp/run 2>&1 | tee /tmp/hook.out
grep -qx 'flavourctl: 0000:03:00.0: rule net: done -> virtio_vfio_pci (boot pass)' /tmp/hook.out ||
  fail "the rule's command did not give the device its flavour"
flavourctl sim reset demo

step "flavourctl udev-rule --install, then apt-get install --reinstall -y ./$(basename "$deb") (an upgrade's steps)"
flavourctl udev-rule --install
apt-get install --reinstall -y -q -o Dpkg::Use-Pty=0 "$deb" 2>&1 >/dev/null | grep -v '^debconf:' | tee /tmp/reinstall.err
grep -q '^flavourctl: /etc/udev/rules.d/60-flavourctl.rules overrides the packaged rule' /tmp/reinstall.err ||
  fail "the package did not say that the rule in /etc overrides its own"
rm /etc/udev/rules.d/60-flavourctl.rules
[[ -f /etc/flavourctl/rules.d/net.rule && -f /etc/flavourctl/rules.d/NOTES ]] || fail "reinstalling lost a saved rule"
echo "the saved rule is there: $(tr '\n' ' ' </etc/flavourctl/rules.d/net.rule)"

step "apt-get remove -y flavourctl"
apt-get remove -y -q -o Dpkg::Use-Pty=0 flavourctl >/dev/null
for gone in /usr/sbin/flavourctl /usr/lib/flavourctl /usr/lib/udev/rules.d/60-flavourctl.rules \
  /usr/share/man/man8/flavourctl.8.gz "$completion" "$cockpit_page"; do
  ! present "$gone" || fail "$gone is left after remove"
done
[[ -f /etc/flavourctl/rules.d/net.rule ]] || fail "remove deleted the saved rule"
dpkg-query -W -f='${Status}\n' flavourctl
echo "left:" $(find /etc/flavourctl /var/cache/flavourctl | sort)

step "apt-get purge -y flavourctl"
apt-get purge -y -q -o Dpkg::Use-Pty=0 flavourctl >/dev/null
! present /etc/flavourctl/rules.d/net.rule || fail "purge left the saved rule"
! present /var/cache/flavourctl || fail "purge left /var/cache/flavourctl"
[[ -f /etc/flavourctl/rules.d/NOTES ]] || fail "purge deleted a file flavourctl did not write"
dpkg-query -W -f='${Status}\n' flavourctl 2>/dev/null || echo "flavourctl: not known to dpkg any more"
echo "left:" $(find /etc/flavourctl /var/cache/flavourctl 2>/dev/null | sort)
rm /etc/flavourctl/rules.d/NOTES
rmdir /etc/flavourctl/rules.d /etc/flavourctl
echo "new-user: all checks passed"

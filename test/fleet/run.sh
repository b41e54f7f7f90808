#!/usr/bin/env bash
# The fleet test (issue 18): Debian's ansible-playbook drives the flavourctl.vfio collection
# over SSH against three hosts, each a network namespace this script makes, with its own sshd
# (own config, host key and authorized key, bound to the namespace's address), its own
# simulated machine (demo, thread, test/fleet/machines/edge.json) and its own flavourctl
# state (sshd's SetEnv: XDG_STATE_HOME, FLAVOURCTL_INDEX_CACHE, PATH to its flavourctl).
# The controller runs in a fourth namespace joined to each host by a veth pair (10.231.N.0/30):
# nothing is added to the machine's own network namespace and no packet leaves these four.
# sshd runs in a private mount namespace with a tmpfs /run (its privilege separation
# directory /run/sshd is made there, not on the machine).
#
# It shows: check mode changes nothing; the first run changes what it must; a host whose GPU
# group is not viable (edge: a bridge on shpchp in it) fails with flavourctl's reason while the
# others complete; a second run and a check run change nothing; state: absent gives every
# host back as it started (drivers, overrides, VFs, no rule left), and a second absent run
# changes nothing. Then ansible-doc on each module and the offline part of ansible-test sanity.
# Prints the play recaps. Needs root (ip netns); installs ansible-core and openssh-server when
# missing. Usage: bash test/fleet/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
started=$(date +%s)

if [[ $(id -u) != 0 ]]; then
  echo "fleet: needs root (network namespaces)" >&2
  exit 1
fi
missing=()
for package in ansible-core openssh-server openssh-client iproute2 python3-venv python3-voluptuous yamllint pycodestyle; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]} > 0)); then
  echo "fleet: installing ${missing[*]}"
  # no service may start on the machine itself (sshd would listen in its network namespace)
  policy=
  [[ -e /usr/sbin/policy-rc.d ]] || { policy=/usr/sbin/policy-rc.d && printf '#!/bin/sh\nexit 101\n' >$policy && chmod +x $policy; }
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null
  [[ -z $policy ]] || rm -f "$policy"
fi

[[ -f dist/flavourctl.js ]] || npm run build >/dev/null
tarball=$(bash scripts/collection.sh)

work=$(mktemp -d /tmp/flavourctl-fleet.XXXXXX)
id=$(printf '%04x' $((RANDOM)))
ctl=flf$id-c
hosts=(h1 h2 h3)
sshd_pids=()
last_log=
cleanup() {
  local status=$?
  if ((status != 0)); then
    [[ -z $last_log ]] || { echo "fleet: the last play's output:"; tail -40 "$last_log"; }
    for n in 1 2 3; do [[ ! -s $work/h$n/sshd.log ]] || { echo "fleet: h$n sshd:"; tail -5 "$work/h$n/sshd.log"; }; done
  fi
  for socket in "$work"/cp/*; do
    [[ -S $socket ]] && ssh -o ControlPath="$socket" -O exit x >/dev/null 2>&1 || true
  done
  for pid in "${sshd_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for n in 1 2 3; do
    # sessions of this test's sshd still running in its namespace (none after a clean run)
    for pid in $(ip netns pids "flf$id-h$n" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
    ip netns del "flf$id-h$n" 2>/dev/null || true
  done
  ip netns del "$ctl" 2>/dev/null || true
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT INT TERM

export ANSIBLE_CONFIG=$work/ansible.cfg ANSIBLE_HOME=$work/ansible-home ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
ansible-galaxy collection install "$tarball" -p "$work/collections" >/dev/null 2>&1
ssh-keygen -q -t ed25519 -N '' -C fleet-controller -f "$work/client_key"
mkdir -p "$work/cp"

ip netns add "$ctl"
ip -n "$ctl" link set lo up
machines=(demo thread "$repo/test/fleet/machines/edge.json")
for n in 1 2 3; do
  host=h$n ns=flf$id-h$n dir=$work/h$n
  mkdir -p "$dir/bin" "$dir/state" "$dir/cache"
  ln -s "$repo/dist/flavourctl.js" "$dir/bin/flavourctl"
  ip netns add "$ns"
  ip link add "flf$id-v$n" netns "$ctl" type veth peer name eth0 netns "$ns"
  ip -n "$ctl" addr add "10.231.$n.1/30" dev "flf$id-v$n"
  ip -n "$ctl" link set "flf$id-v$n" up
  ip -n "$ns" addr add "10.231.$n.2/30" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  ssh-keygen -q -t ed25519 -N '' -C "$host" -f "$dir/ssh_host_ed25519_key"
  echo "10.231.$n.2 $(cut -d' ' -f1,2 "$dir/ssh_host_ed25519_key.pub")" >>"$work/known_hosts"
  cat >"$dir/sshd_config" <<EOF
ListenAddress 10.231.$n.2:22
HostKey $dir/ssh_host_ed25519_key
PidFile none
AuthorizedKeysFile $work/client_key.pub
# the key lives in this test's mktemp directory (0700), under /tmp, which StrictModes rejects
# (world-writable, sticky or not: auth.c safe_path)
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PrintMotd no
Subsystem sftp internal-sftp
SetEnv XDG_STATE_HOME=$dir/state FLAVOURCTL_INDEX_CACHE=$dir/cache PATH=$dir/bin:/usr/local/bin:/usr/bin:/bin
EOF
  ip netns exec "$ns" unshare -m --propagation private sh -c \
    'mount -t tmpfs -o mode=755 fleet-run /run && mkdir -m 755 /run/sshd && exec /usr/sbin/sshd -D -e -f "$1"' \
    sh "$dir/sshd_config" 2>"$dir/sshd.log" &
  sshd_pids+=($!)
done

cat >"$work/inventory.yml" <<EOF
hypervisors:
  vars:
    ansible_user: root
    ansible_python_interpreter: /usr/bin/python3
    ansible_ssh_private_key_file: $work/client_key
    ansible_ssh_common_args: -o UserKnownHostsFile=$work/known_hosts -o StrictHostKeyChecking=yes
  hosts:
    h1:
      ansible_host: 10.231.1.2
      flavourctl_machine: demo
      connectx_vfs: 4
      connectx_vfs_at_boot: 2
    h2:
      ansible_host: 10.231.2.2
      flavourctl_machine: thread
      vfio_devices: ["0000:00:03.0"]
    h3:
      ansible_host: 10.231.3.2
      flavourctl_machine: ${machines[2]}
      connectx_vfs: 4
      connectx_vfs_at_boot: 1
EOF
cat >"$work/ansible.cfg" <<EOF
[defaults]
inventory = $work/inventory.yml
collections_path = $work/collections
local_tmp = $work/ansible-local
forks = 3
retry_files_enabled = False
stdout_callback = default
[ssh_connection]
pipelining = True
control_path_dir = $work/cp
EOF

# every sshd answers before the first play
for n in 1 2 3; do
  for _ in $(seq 100); do
    ip netns exec "$ctl" bash -c "exec 3<>/dev/tcp/10.231.$n.2/22" 2>/dev/null && break
    sleep 0.1
  done
done

# each host as flavourctl sees it, read on the machine (the namespaces share its file system)
state_of() {
  local n=$1
  XDG_STATE_HOME=$work/h$n/state FLAVOURCTL_INDEX_CACHE=$work/h$n/cache \
    node dist/flavourctl.js list --machine "${machines[n - 1]}" --json
  echo
  find "$work/h$n/state" -name '*.rule' -printf 'RULE %f\n' | sort
}
snapshot() { for n in 1 2 3; do state_of "$n" >"$work/$1.h$n"; done; }

play() {
  local name=$1
  shift
  echo "fleet: ansible-playbook $* ($name)"
  last_log=$work/$name.log
  ip netns exec "$ctl" ansible-playbook "$@" >"$work/$name.log" 2>&1 || true
  sed -n '/^PLAY RECAP/,$p' "$work/$name.log"
}
check() { python3 "$repo/test/fleet/check.py" "$work" "$@"; }

snapshot boot
play check-first "$repo/test/fleet/site.yml" --check --diff
snapshot after-check-first
check unchanged boot after-check-first
check recap check-first h1:changed+ h2:changed+ h3:changed+ h3:failed
check refused check-first h3 "IOMMU group 6 would not be viable for vfio: 0000:00:1e.0 is bound to host driver shpchp"

play first "$repo/test/fleet/site.yml" --diff
snapshot after-first
check recap first h1:changed+ h2:changed+ h3:changed+ h1:ok h2:ok h3:failed
check refused first h3 "IOMMU group 6 would not be viable for vfio: 0000:00:1e.0 is bound to host driver shpchp"
check diff first "-0000:01:00.1 mlx5_core" "+0000:01:00.1 mlx5_vfio_pci" "+0000:0a:00.0 vfio-pci"
check drivers after-first h1 0000:01:00.1=mlx5_vfio_pci 0000:01:00.4=mlx5_vfio_pci 0000:0a:00.0=vfio-pci 0000:0a:00.1=vfio-pci \
  0000:0b:00.0=xe 0000:0b:00.1=xe-vfio-pci 0000:0c:00.0=nvgrace_gpu_vfio_pci 0000:0d:00.0=nvgrace_gpu_vfio_pci
check drivers after-first h2 0000:00:03.0=virtio_vfio_pci 0000:01:00.0=virtio-pci
check drivers after-first h3 0000:01:00.1=mlx5_vfio_pci 0000:01:00.4=mlx5_vfio_pci 0000:02:01.0=mgag200
check rules after-first h1 address-0000:0a:00.0.rule address-0000:0a:00.1.rule address-0000:0b:00.1.rule \
  address-0000:0c:00.0.rule address-0000:0d:00.0.rule id-15b3:101e.rule
check rules after-first h3 id-15b3:101e.rule

play second "$repo/test/fleet/site.yml"
snapshot after-second
check recap second h1:unchanged h2:unchanged h3:unchanged h1:ok h2:ok h3:failed
check unchanged after-first after-second

play check-again "$repo/test/fleet/site.yml" --check
check recap check-again h1:unchanged h2:unchanged h3:unchanged h1:ok h2:ok h3:failed

play absent "$repo/test/fleet/absent.yml" --diff
snapshot after-absent
check recap absent h1:changed+ h2:changed+ h3:changed+ h1:ok h2:ok h3:ok
check unchanged boot after-absent

play absent-again "$repo/test/fleet/absent.yml"
check recap absent-again h1:unchanged h2:unchanged h3:unchanged h1:ok h2:ok h3:ok

echo "fleet: ansible-doc"
for module in flavour facts vfs; do
  ANSIBLE_COLLECTIONS_PATH=$work/collections ansible-doc "flavourctl.vfio.$module" >"$work/doc-$module.txt"
  grep -q "^> FLAVOURCTL.VFIO.$(tr a-z A-Z <<<"$module")" "$work/doc-$module.txt"
  echo "  flavourctl.vfio.$module: $(wc -l <"$work/doc-$module.txt") lines"
done
bash test/fleet/sanity.sh "$work/sanity"

echo "fleet: passed in $(($(date +%s) - started)) s"

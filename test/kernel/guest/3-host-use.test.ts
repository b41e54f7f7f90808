// The host-use and vfio-in-use checks on a real kernel: the sysfs layouts they read (NVMe
// multipath's hidden path disk and its head; a NIC under a VLAN under a bridge) and a process
// holding /dev/vfio/<group> open.
import assert from "node:assert/strict";
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ExitCode } from "../../../src/errors.ts";
import { SysfsControl } from "../../../src/host/sysfs-control.ts";
import { dev, driverOf, flavourctl, groupOf, modprobe, one, run } from "./support.ts";

const INTEL = 0x8086;

/** /sys/class/CLASS entries whose device lies below the PCI device. */
function classBelow(classDir: string, address: string): string[] {
  const device = realpathSync(dev(address));
  return readdirSync(`/sys/class/${classDir}`).filter((name) =>
    realpathSync(`/sys/class/${classDir}/${name}`).startsWith(`${device}/`),
  );
}

function ip(...args: string[]): void {
  const result = run("ip", args);
  assert.equal(result.status, 0, `ip ${args.join(" ")}: ${result.stderr}`);
}

test("NVMe multipath (CONFIG_NVME_MULTIPATH=y): only a hidden path disk is below the controller; a mount of its head disk is a host use", () => {
  const nvme = one(0x1b36, 0x0010);
  const below = classBelow("block", nvme);
  assert.ok(below.length > 0, "the controller has a namespace");
  assert.ok(
    below.every((name) => /^nvme\d+c\d+n\d+$/.test(name)),
    `path disks only: ${below}`,
  );
  const [, subsystem, namespace] = /^nvme(\d+)c\d+n(\d+)$/.exec(below[0] as string) as string[];
  const head = `nvme${subsystem}n${namespace}`;
  assert.match(
    realpathSync(`/sys/class/block/${head}`),
    /\/devices\/virtual\/nvme-subsystem\/nvme-subsys\d+\//,
  );
  // The real /sys with a /proc whose mountinfo lists the head disk (by number: as /dev/root).
  const proc = mkdtempSync(join(tmpdir(), "flavourctl-proc-"));
  mkdirSync(join(proc, "self"));
  const number = readFileSync(`/sys/class/block/${head}/dev`, "utf8").trim();
  writeFileSync(join(proc, "self/mountinfo"), `29 1 ${number} / /mnt rw shared:1 - ext4 /dev/root rw\n`);
  assert.deepEqual(new SysfsControl({ proc }).hostUses(nvme), [`block device ${head} is mounted on /mnt`]);
  assert.deepEqual(new SysfsControl().hostUses(nvme), [], "nothing of it is mounted in the guest");
});

test("a NIC under a VLAN under a bridge: the bridge's addresses make it a host use, and set refuses it", () => {
  const nic = one(INTEL, 0x10d3, INTEL);
  const [eth] = classBelow("net", nic);
  assert.ok(eth, "the e1000e has a network interface");
  assert.deepEqual(new SysfsControl().hostUses(nic), []);
  // The kernel's own request_module runs the initramfs's modprobe, which has no modules.
  modprobe("8021q");
  modprobe("bridge");
  ip("link", "add", "link", eth, "name", "fc-vlan", "type", "vlan", "id", "100");
  try {
    ip("link", "add", "fc-br", "type", "bridge");
    ip("link", "set", "fc-vlan", "master", "fc-br");
    ip("address", "add", "2001:db8::1/64", "dev", "fc-br");
    ip("address", "add", "192.0.2.1/24", "dev", "fc-br");
    for (const name of [eth, "fc-vlan", "fc-br"]) ip("link", "set", name, "up");
    const uses = new SysfsControl().hostUses(nic);
    assert.ok(
      uses.includes(`network interface fc-br (above ${eth}) has a global IPv6 address`),
      uses.join("\n"),
    );
    assert.ok(uses.includes(`network interface fc-br (above ${eth}) has IPv4 routes`), uses.join("\n"));
    const refused = flavourctl("set", nic, "vfio", "--no-save");
    assert.equal(refused.status, ExitCode.refused, refused.stdout);
    assert.match(refused.stderr, /network interface fc-br \(above \S+\)/);
    assert.equal(driverOf(nic), "e1000e");
  } finally {
    run("ip", ["link", "del", "fc-br"]);
    run("ip", ["link", "del", "fc-vlan"]);
  }
});

test("a process holding /dev/vfio/<group>: unset refuses to unbind (vfio-in-use), --force goes ahead", () => {
  const net = one(0x1af4, 0x1041);
  assert.equal(flavourctl("set", net, "vfio", "--no-save").status, 0);
  const node = `/dev/vfio/${groupOf(net)}`;
  // Only the group is open (no container, no device fd): the kernel's unbind would not wait.
  const fd = openSync(node, "r+");
  try {
    const refused = flavourctl("unset", net, "--json");
    assert.equal(refused.status, ExitCode.refused, refused.stderr);
    const check = JSON.parse(refused.stdout).plan.checks.find(
      (c: { name: string }) => c.name === "vfio-in-use",
    );
    assert.equal(check?.ok, false);
    assert.match(check?.message, new RegExp(`a process holds ${node} open`));
    assert.equal(driverOf(net), "virtio_vfio_pci");
    const forced = flavourctl("unset", net, "--force");
    assert.equal(forced.status, 0, forced.stderr);
    assert.equal(driverOf(net), "virtio-pci");
  } finally {
    closeSync(fd);
  }
});

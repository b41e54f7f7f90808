import assert from "node:assert/strict";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { buildTree, link } from "../../test/support/sysfs-builder.ts";
import { tempDir } from "../../test/support/tmp.ts";
import type { PciAddress } from "../pci/address.ts";
import { HOLD_OVERRIDE } from "./control.ts";
import { SysfsControl } from "./sysfs-control.ts";

// The udev hook runs with no PATH (udev gives RUN programs only the event's properties): it must
// still find modprobe. A module that does not exist: modprobe runs, loads nothing, and fails.
test("modprobe is found when the environment has no PATH, as under udev", () => {
  const path = process.env.PATH;
  delete process.env.PATH;
  let outcome: ReturnType<SysfsControl["modprobe"]>;
  try {
    outcome = new SysfsControl().modprobe("flavourctl_no_such_module");
  } finally {
    process.env.PATH = path;
  }
  assert.equal(outcome.ok, false);
  const message = outcome.ok ? "" : outcome.message;
  assert.doesNotMatch(message, /cannot run/);
  assert.match(message, /flavourctl_no_such_module/);
});

// hostUses and vfioOpenNodes on temporary /sys and /proc trees laid out as the kernel lays them
// out: class links into /sys/devices, disks and partitions below their controller (or, with
// NVMe multipath, below the virtual nvme-subsystem), net devices with master/upper_* links.
const NVME = "0000:00:04.0" as PciAddress;
const NVME_MULTIPATH = "0000:00:05.0" as PciAddress;
const NIC = "0000:00:03.0" as PciAddress;
const BONDED = "0000:00:06.0" as PciAddress;
const VLAN_BRIDGED = "0000:00:07.0" as PciAddress;
const IDLE = "0000:00:08.0" as PciAddress;
const IDLE_BONDED = "0000:00:09.0" as PciAddress;
const VFIO = "0000:00:0a.0" as PciAddress;

function hostTree(files: { mountinfo?: string; swaps?: string; route?: string; inet6?: string } = {}) {
  const root = tempDir("hostuse");
  const sysfs = join(root, "sys");
  const proc = join(root, "proc");
  const pci = (address: string) => join(sysfs, "devices/pci0000:00", address);
  const classEntry = (kind: string, name: string, dir: string, attributes: Record<string, string> = {}) => {
    mkdirSync(dir, { recursive: true });
    for (const [file, text] of Object.entries(attributes)) writeFileSync(join(dir, file), text);
    link(join(sysfs, "class", kind, name), dir);
  };
  buildTree(
    sysfs,
    [NVME, NVME_MULTIPATH, NIC, BONDED, VLAN_BRIDGED, IDLE, IDLE_BONDED, VFIO].map((address) => ({
      address,
      vendor: 0x8086,
      device: 0x10d3,
      classCode: 0x020000,
    })),
  );
  // A plain NVMe drive: nvme0n1 and its partitions below the controller.
  const disk = join(pci(NVME), "nvme/nvme0/nvme0n1");
  classEntry("block", "nvme0n1", disk, { dev: "259:0\n" });
  classEntry("block", "nvme0n1p1", join(disk, "nvme0n1p1"), { dev: "259:1\n" });
  classEntry("block", "nvme0n1p2", join(disk, "nvme0n1p2"), { dev: "259:2\n" });
  // Multipath: controller nvme2 of subsystem 1 has only the hidden path disk nvme1c2n1; the
  // head nvme1n1 and its partitions live under the virtual subsystem device.
  classEntry("block", "nvme1c2n1", join(pci(NVME_MULTIPATH), "nvme/nvme2/nvme1c2n1"), { dev: "259:3\n" });
  const head = join(sysfs, "devices/virtual/nvme-subsystem/nvme-subsys1/nvme1n1");
  classEntry("block", "nvme1n1", head, { dev: "259:4\n" });
  classEntry("block", "nvme1n1p1", join(head, "nvme1n1p1"), { dev: "259:5\n" });
  classEntry("block", "nvme1n1p2", join(head, "nvme1n1p2"), { dev: "259:6\n" });
  // Network interfaces; `master` and `upper_NAME` link a lower device to the ones above it.
  const nic = (address: string, name: string) => classEntry("net", name, join(pci(address), "net", name));
  const virtualNet = (name: string) => classEntry("net", name, join(sysfs, "devices/virtual/net", name));
  const stack = (lower: string, upper: string, master: boolean) => {
    const dir = join(sysfs, "class/net", lower);
    const target = join(sysfs, "class/net", upper);
    if (master) link(join(dir, "master"), target);
    link(join(dir, `upper_${upper}`), target);
  };
  nic(NIC, "eth0");
  nic(BONDED, "eth1");
  virtualNet("bond0");
  stack("eth1", "bond0", true);
  nic(VLAN_BRIDGED, "eth2");
  virtualNet("eth2.100");
  virtualNet("br0");
  stack("eth2", "eth2.100", false);
  stack("eth2.100", "br0", true);
  nic(IDLE, "eth3");
  nic(IDLE_BONDED, "eth4");
  virtualNet("bond1");
  stack("eth4", "bond1", true);
  // A device vfio-pci holds: group 12, cdev vfio0.
  link(join(pci(VFIO), "iommu_group"), join(sysfs, "kernel/iommu_groups/12"));
  mkdirSync(join(pci(VFIO), "vfio-dev/vfio0"), { recursive: true });

  mkdirSync(join(proc, "self"), { recursive: true });
  mkdirSync(join(proc, "net"));
  writeFileSync(join(proc, "self/mountinfo"), files.mountinfo ?? "");
  writeFileSync(join(proc, "swaps"), `Filename\tType\tSize\tUsed\tPriority\n${files.swaps ?? ""}`);
  writeFileSync(
    join(proc, "net/route"),
    `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n${files.route ?? ""}`,
  );
  writeFileSync(join(proc, "net/if_inet6"), files.inet6 ?? "");
  const dev = join(root, "dev");
  return { proc, dev, control: new SysfsControl({ sysfs, proc, dev }) };
}

const ROOT_MOUNT = "21 1 0:20 / / rw,relatime shared:1 - tmpfs tmpfs rw\n";

test("a mounted partition of a plain NVMe drive is a host use, found by name or by device number", () => {
  const byName = hostTree({
    mountinfo: `${ROOT_MOUNT}22 21 259:1 / /srv/my\\040data rw,relatime shared:2 - ext4 /dev/nvme0n1p1 rw\n`,
  });
  assert.deepEqual(byName.control.hostUses(NVME), ["block device nvme0n1p1 is mounted on /srv/my data"]);
  // A root mounted by the kernel itself is listed as /dev/root: only MAJ:MIN names it.
  const byNumber = hostTree({ mountinfo: "21 1 259:2 / / rw shared:1 - ext4 /dev/root rw\n" });
  assert.deepEqual(byNumber.control.hostUses(NVME), ["block device nvme0n1p2 is mounted on /"]);
  assert.deepEqual(byNumber.control.hostUses(NVME_MULTIPATH), []);
});

test("NVMe multipath: the root and swap on the head disk nvme1n1 are uses of the controller behind nvme1c2n1", () => {
  const { control } = hostTree({
    // btrfs: an anonymous device number (0:31); only the source names the partition.
    mountinfo: `${ROOT_MOUNT}22 21 0:31 / /home rw,relatime shared:2 - btrfs /dev/nvme1n1p2 rw\n`,
    swaps: "/dev/nvme1n1p1                          partition\t2097148\t0\t-2\n",
  });
  assert.deepEqual(control.hostUses(NVME_MULTIPATH), [
    "block device nvme1n1p1 holds swap",
    "block device nvme1n1p2 is mounted on /home",
  ]);
  assert.deepEqual(control.hostUses(NVME), []);
});

test("network interfaces: an address or route on the NIC, or on a bond, bridge or VLAN above it, is a host use", () => {
  const { control } = hostTree({
    route: [
      "eth0\t0002A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0",
      "bond0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0",
    ].join("\n"),
    inet6: [
      "fe800000000000000000000000000001 03 40 20 80     eth3",
      "20010db8000000000000000000000001 07 40 00 80      br0",
    ].join("\n"),
  });
  assert.deepEqual(control.hostUses(NIC), ["network interface eth0 has IPv4 routes"]);
  assert.deepEqual(control.hostUses(BONDED), [
    "network interface bond0 (above eth1) carries the default route",
  ]);
  assert.deepEqual(control.hostUses(VLAN_BRIDGED), [
    "network interface br0 (above eth2) has a global IPv6 address",
  ]);
  // A link-local address only, and a NIC in a bond that carries nothing.
  assert.deepEqual(control.hostUses(IDLE), []);
  assert.deepEqual(control.hostUses(IDLE_BONDED), []);
});

test("vfioOpenNodes: a process holding the device's /dev/vfio/<group> or its cdev /dev/vfio/devices/vfioN", () => {
  const { proc, dev, control } = hostTree();
  const fd = (pid: number, n: number, target: string) => {
    mkdirSync(join(proc, String(pid), "fd"), { recursive: true });
    symlinkSync(target, join(proc, String(pid), "fd", String(n)));
  };
  fd(1, 0, "/dev/null");
  fd(1, 1, join(dev, "vfio/vfio")); // the container: no particular device
  assert.deepEqual(control.vfioOpenNodes(VFIO), []);
  fd(4242, 23, join(dev, "vfio/12"));
  assert.deepEqual(control.vfioOpenNodes(VFIO), [join(dev, "vfio/12")]);
  fd(4343, 7, join(dev, "vfio/devices/vfio0"));
  assert.deepEqual(control.vfioOpenNodes(VFIO), [join(dev, "vfio/12"), join(dev, "vfio/devices/vfio0")]);
  assert.deepEqual(control.vfioOpenNodes(NIC), []);
});

// The hold (flavour/plan.ts): its placeholder is written as it is, though it is no driver name
// flavourctl would accept from a user (that is why no driver has it); other names are checked.
test("writeOverride writes the hold placeholder; a name no driver can have is refused otherwise", () => {
  const sysfs = join(tempDir("hold"), "sys");
  buildTree(sysfs, [{ address: IDLE, vendor: 0x8086, device: 0x10d3, classCode: 0x020000 }]);
  const control = new SysfsControl({ sysfs, proc: null });
  control.writeOverride(IDLE, HOLD_OVERRIDE);
  assert.equal(readFileSync(join(sysfs, "bus/pci/devices", IDLE, "driver_override"), "utf8"), HOLD_OVERRIDE);
  assert.throws(() => control.writeOverride(IDLE, "(flavourctl-other)"), /invalid driver name/);
});

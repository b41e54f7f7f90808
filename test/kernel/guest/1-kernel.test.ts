// The kernel's binding rules on a real kernel (issue 3): what the core (src/pci/id-entry.ts,
// src/modules/) predicts for each device of the guest is what the kernel and udev do.
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { chooseVfio } from "../../../src/flavour/vfio-choice.ts";
import { SysfsControl } from "../../../src/host/sysfs-control.ts";
import { pciEntryAlias } from "../../../src/modules/file2alias.ts";
import { lookup } from "../../../src/modules/lookup.ts";
import { idEntry, type MatchableDriver, matchDevice } from "../../../src/pci/id-entry.ts";
import { flavouredModalias } from "../../../src/pci/modalias.ts";
import {
  addresses,
  dev,
  driverOf,
  groupOf,
  headerType,
  ids,
  idTableFromAliases,
  kernelAtLeast,
  modprobe,
  moduleLoaded,
  moduleOfDriver,
  modules,
  movableEndpoints,
  one,
  probe,
  read,
  rebind,
  run,
  SYS,
  setOverride,
  tryWrite,
  unbind,
  VIRTIO_BLK_VFIO_DRIVER,
  waitForDriver,
  write,
} from "./support.ts";

const INTEL = 0x8086;
const e1000eIntel = () => one(INTEL, 0x10d3, INTEL);
const e1000eMellanox = () => one(INTEL, 0x10d3, 0x15b3);
const virtioNet = () => one(0x1af4, 0x1041);
const virtioBlk = () => one(0x1af4, 0x1042);
const virtioRng = () => one(0x1af4, 0x1044);
const nvme = () => one(0x1b36, 0x0010);
const legacyE1000 = () => one(INTEL, 0x100e);
const rtl8139 = () => one(0x10ec, 0x8139);
const pciBridge = () => one(0x1b36, 0x000e);

const predicted = (address: string) => [
  ...new Set(lookup(modules, read(dev(address, "modalias"))).matches.map((m) => m.module)),
];

/** A loaded module's driver as the core sees it: its name and the table read from modules.alias. */
function driverTable(driver: string, module: string): MatchableDriver {
  return { name: driver, idTable: idTableFromAliases(module).entries, dynamicIds: [] };
}
const pciStub: MatchableDriver = { name: "pci-stub", idTable: [], dynamicIds: [] };

test("the guest has the issue's device set", () => {
  assert.equal(addresses().filter((a) => ids(a).vendor === 0x1af4 && ids(a).device === 0x1009).length, 2);
  for (const find of [
    e1000eIntel,
    e1000eMellanox,
    virtioNet,
    virtioBlk,
    nvme,
    legacyE1000,
    rtl8139,
    pciBridge,
  ])
    find();
  assert.equal(read(dev(nvme(), "sriov_totalvfs")), "4");
  assert.ok(
    addresses().some((a) => ids(a).vendor === 0x104c && ids(a).device === 0x8232),
    "a PCIe switch",
  );
});

test("the vfio choice for every device: the core's lookup equals kmod's (modprobe -R), variants by vendor:device", () => {
  const aliases = read(join(modules.path, "modules.alias"));
  for (const variant of ["mlx5_vfio_pci", "virtio_vfio_pci", "qat_vfio_pci", "pds_vfio_pci"])
    assert.match(aliases, new RegExp(`^alias vfio_pci:\\S+ ${variant}$`, "m"), `${variant} not installed`);
  const modaliases = [...new Set(addresses().map((a) => read(dev(a, "modalias"))))];
  for (const modalias of modaliases) {
    const flavoured = flavouredModalias(modalias);
    const kmod = run("modprobe", ["-R", flavoured]);
    assert.equal(kmod.status, 0, kmod.stderr);
    const core = [...new Set(lookup(modules, flavoured).matches.map((m) => m.module))].sort();
    assert.deepEqual(core, [...new Set(kmod.stdout.trim().split("\n"))].sort(), flavoured);
    const choice = chooseVfio(modules, modalias);
    const expected =
      modalias.startsWith("pci:v00001AF4d00001041") ||
      (modalias.startsWith("pci:v00001AF4d00001042") && VIRTIO_BLK_VFIO_DRIVER === "virtio_vfio_pci")
        ? "virtio_vfio_pci"
        : "vfio_pci";
    assert.equal(choice.module, expected, `${modalias}: ${choice.reason}`);
  }
  // The Mellanox subsystem vendor does not make an e1000e a ConnectX: mlx5_vfio_pci matches by vendor.
  const mellanox = read(dev(e1000eMellanox(), "modalias"));
  assert.deepEqual(
    chooseVfio(modules, mellanox).candidates.map((c) => c.module),
    ["vfio_pci"],
  );
  assert.ok(modaliases.length >= 15, `${modaliases.length} distinct modaliases`);
});

test("udev loaded, from each device's MODALIAS, every module the core's lookup predicts", () => {
  let checked = 0;
  const blacklisted = modules.config.blacklist;
  for (const address of addresses()) {
    const expected = predicted(address);
    for (const module of expected.filter((m) => !blacklisted.has(m))) {
      assert.ok(moduleLoaded(module), `${address}: ${module} predicted from its modalias, not loaded`);
      checked++;
    }
    const driver = driverOf(address);
    if (driver === null) continue;
    const module = moduleOfDriver(driver);
    const builtIn = module !== null && !existsSync(join("/sys/module", module, "initstate"));
    assert.ok(
      builtIn || (module !== null && expected.includes(module)),
      `${address}: bound to ${driver} (module ${module}), which the core's lookup did not predict (${expected.join(", ")})`,
    );
  }
  assert.ok(checked >= 10, `only ${checked} predicted modules checked`);
});

test("udev loads a removed module again when the device is announced (kmod builtin, MODALIAS)", () => {
  const address = legacyE1000();
  unbind(address);
  modprobe("-r", "e1000");
  assert.equal(moduleLoaded("e1000"), false);
  assert.deepEqual(predicted(address), ["e1000"]);
  const trigger = run("udevadm", ["trigger", "--action=add", "--settle", dev(address)]);
  assert.equal(trigger.status, 0, trigger.stderr);
  run("udevadm", ["settle", "--timeout=30"]);
  assert.equal(moduleLoaded("e1000"), true, "udev did not load e1000");
  assert.equal(waitForDriver(address, "e1000"), "e1000");
});

test("every bound driver's id table, read from modules.alias, matches its device by pci_match_device", () => {
  let checked = 0;
  for (const address of addresses()) {
    const driver = driverOf(address);
    const module = driver === null ? null : moduleOfDriver(driver);
    if (driver === null || module === null) continue;
    const table = idTableFromAliases(module);
    if (table.entries.length === 0) continue; // built in: Debian 6.12 publishes no aliases for those
    for (const entry of table.entries) {
      const alias = pciEntryAlias(entry);
      assert.ok(alias.pattern !== undefined, `${module}: entry without alias`);
    }
    const result = matchDevice(driverTable(driver, module), ids(address), null);
    assert.equal(result.matched, true, `${address} on ${driver}: the core says ${JSON.stringify(result)}`);
    checked++;
  }
  assert.ok(checked >= 8, `only ${checked} devices checked`);
});

test("driver_override: every endpoint (but the 9p root) goes to pci-stub and back to its own driver", () => {
  modprobe("pci-stub");
  const moved: string[] = [];
  for (const address of movableEndpoints()) {
    const original = driverOf(address);
    const theirs = original && moduleOfDriver(original);
    assert.equal(matchDevice(pciStub, ids(address), "pci-stub").matched, true);
    if (original && theirs && idTableFromAliases(theirs).entries.length > 0) {
      assert.equal(matchDevice(driverTable(original, theirs), ids(address), "pci-stub").matched, false);
    }
    assert.equal(rebind(address, "pci-stub"), "pci-stub", `${address}: not bound to pci-stub`);
    assert.equal(read(dev(address, "driver_override")), "pci-stub");
    setOverride(address, null);
    assert.equal(read(dev(address, "driver_override")), "(null)", "writing a newline clears the override");
    unbind(address);
    probe(address);
    assert.equal(waitForDriver(address, original), original, `${address}: did not return to ${original}`);
    moved.push(address);
  }
  assert.ok(moved.length >= 12, `only ${moved.length} endpoints moved`);
});

test("a driver_override naming no registered driver leaves the device unbound; an empty write clears nothing", () => {
  const address = legacyE1000();
  const registered = readdirSync(join(SYS, "drivers"));
  for (const driver of registered) {
    const module = moduleOfDriver(driver) ?? driver;
    assert.equal(matchDevice(driverTable(driver, module), ids(address), "flavourctl_none").matched, false);
  }
  assert.equal(rebind(address, "flavourctl_none"), null);
  assert.equal(tryWrite(dev(address, "driver_override"), ""), "ok");
  assert.equal(read(dev(address, "driver_override")), "flavourctl_none", "a 0-byte write is a no-op");
  setOverride(address, null);
  probe(address);
  assert.equal(waitForDriver(address, "e1000"), "e1000");
});

test("drivers_probe binds an unbound device to a driver the core predicts, and succeeds when nothing binds", () => {
  const address = rtl8139();
  unbind(address);
  assert.equal(driverOf(address), null);
  probe(address);
  const driver = waitForDriver(address);
  assert.ok(
    driver !== null && predicted(address).includes(moduleOfDriver(driver) ?? ""),
    `bound to ${driver}`,
  );
  // From 6.18 the built-in drivers' aliases are in modules.builtin.modinfo, and the Q35 host
  // bridge's modalias names the built-in intel_agp (intel-agp.c's table has Q35_HB); its probe
  // at boot found no graphics device and failed. Before 6.18 nothing names it.
  const hostBridge = one(INTEL, 0x29c0);
  assert.deepEqual(predicted(hostBridge), kernelAtLeast(6, 18) ? ["intel_agp"] : []);
  assert.equal(tryWrite(join(SYS, "drivers_probe"), hostBridge), "ok");
  assert.equal(driverOf(hostBridge), null);
});

test("override_only: virtio_vfio_pci (built out of tree) takes the virtio-net only through driver_override", () => {
  const net = virtioNet();
  const modalias = read(dev(net, "modalias"));
  const choice = chooseVfio(modules, modalias);
  assert.equal(choice.module, "virtio_vfio_pci", choice.reason);
  assert.deepEqual(
    choice.candidates.map((c) => c.module),
    ["virtio_vfio_pci", "vfio_pci"],
  );
  assert.ok(lookup(modules, flavouredModalias(modalias)).matches.some((m) => m.module === "virtio_vfio_pci"));
  modprobe("virtio_vfio_pci");
  assert.deepEqual(readdirSync("/sys/module/virtio_vfio_pci/drivers"), ["pci:virtio_vfio_pci"]);
  const variant = driverTable("virtio_vfio_pci", "virtio_vfio_pci");
  // 1af4:1041, and 1af4:1042 from 6.15: every entry override_only.
  assert.equal(variant.idTable.length, kernelAtLeast(6, 15) ? 2 : 1);
  assert.ok(variant.idTable.every((entry) => entry.overrideOnly));
  // Without an override the variant does not match: a reprobe returns to virtio-pci.
  assert.equal(matchDevice(variant, ids(net), null).matched, false);
  assert.equal(rebind(net, null), "virtio-pci");
  // With it, the override_only entry counts.
  const viaOverride = matchDevice(variant, ids(net), "virtio_vfio_pci");
  assert.equal(viaOverride.matched && viaOverride.via, "static-id");
  assert.equal(rebind(net, "virtio_vfio_pci"), "virtio_vfio_pci");
  const group = groupOf(net);
  assert.ok(readdirSync(dev(net, "vfio-dev"))[0]?.startsWith("vfio"));
  assert.ok(existsSync(`/dev/vfio/${group}`), `/dev/vfio/${group} missing`);
  assert.equal(rebind(net, null), "virtio-pci");
  assert.equal(existsSync(`/dev/vfio/${group}`), false);
});

test("the override names this driver: virtio_vfio_pci binds a virtio-rng that is not in its table", () => {
  // Not the virtio-blk: it is in the table from 6.15.
  const rng = virtioRng();
  const variant = driverTable("virtio_vfio_pci", "virtio_vfio_pci");
  const result = matchDevice(variant, ids(rng), "virtio_vfio_pci");
  assert.equal(result.matched && result.via, "override-any");
  assert.equal(rebind(rng, "virtio_vfio_pci"), "virtio_vfio_pci");
  assert.equal(rebind(rng, null), "virtio-pci");
});

test("new_id adds a dynamic id that binds at once; bind without a match is ENODEV; remove_id takes it away", () => {
  const mellanox = e1000eMellanox();
  const intel = e1000eIntel();
  modprobe("pci-stub");
  const stub = join(SYS, "drivers/pci-stub");
  unbind(mellanox);
  assert.equal(matchDevice(pciStub, ids(mellanox), null).matched, false);
  assert.equal(tryWrite(join(stub, "bind"), mellanox), "ENODEV");
  // new_id with the subsystem: only the Mellanox-branded e1000e matches.
  write(join(stub, "new_id"), "8086 10d3 15b3 0001");
  const dynamic = {
    ...pciStub,
    dynamicIds: [idEntry({ vendor: INTEL, device: 0x10d3, subvendor: 0x15b3, subdevice: 1 })],
  };
  assert.equal(matchDevice(dynamic, ids(mellanox), null).matched, true);
  assert.equal(matchDevice(dynamic, ids(intel), null).matched, false);
  assert.equal(waitForDriver(mellanox, "pci-stub"), "pci-stub", "new_id attaches unbound matching devices");
  unbind(intel);
  assert.equal(tryWrite(join(stub, "bind"), intel), "ENODEV");
  probe(intel);
  assert.equal(waitForDriver(intel, "e1000e"), "e1000e");
  write(join(stub, "remove_id"), "8086 10d3 15b3 0001");
  unbind(mellanox);
  assert.equal(tryWrite(join(stub, "bind"), mellanox), "ENODEV");
  probe(mellanox);
  assert.equal(waitForDriver(mellanox, "e1000e"), "e1000e");
});

test("bind to vfio-pci and back: vfio-dev and /dev/vfio/<group> come and go", () => {
  const address = e1000eIntel();
  modprobe("vfio-pci");
  assert.deepEqual(readdirSync("/sys/module/vfio_pci/drivers"), ["pci:vfio-pci"]);
  const group = groupOf(address);
  assert.equal(existsSync(`/dev/vfio/${group}`), false);
  assert.equal(rebind(address, "vfio-pci"), "vfio-pci");
  assert.ok(existsSync(dev(address, "vfio-dev")));
  assert.ok(existsSync(`/dev/vfio/${group}`));
  assert.equal(rebind(address, null), "e1000e");
  assert.equal(existsSync(dev(address, "vfio-dev")), false);
  assert.equal(existsSync(`/dev/vfio/${group}`), false);
});

test("SR-IOV: VFs created with sriov_drivers_autoprobe=0 stay unbound; a VF with driver_override probes to it", () => {
  const pf = nvme();
  assert.equal(driverOf(pf), "nvme");
  write(dev(pf, "sriov_drivers_autoprobe"), "0");
  write(dev(pf, "sriov_numvfs"), "2");
  try {
    const control = new SysfsControl();
    const vfs = control.virtfns(pf);
    assert.equal(vfs.length, 2);
    for (const vf of vfs) {
      assert.equal(control.device(vf).physfn, pf);
      assert.equal(driverOf(vf), null, `${vf} was probed`);
      assert.deepEqual(predicted(vf), ["nvme"], "autoprobe would have offered it to nvme");
      assert.ok(groupOf(vf) >= 0);
    }
    const vf = vfs[0] as string;
    assert.equal(rebind(vf, "vfio-pci"), "vfio-pci");
    assert.ok(existsSync(`/dev/vfio/${groupOf(vf)}`));
    // vfio-pci refuses a PF whose VFs are enabled.
    assert.equal(tryWrite(dev(pf, "driver_override"), "vfio-pci"), "ok");
    unbind(pf);
    probe(pf);
    assert.equal(waitForDriver(pf, "vfio-pci", 1000), null, "vfio-pci took a PF with VFs enabled");
    setOverride(pf, null);
    probe(pf);
    assert.equal(waitForDriver(pf, "nvme"), "nvme");
    setOverride(vf, null);
    unbind(vf);
  } finally {
    write(dev(pf, "sriov_numvfs"), "0");
    write(dev(pf, "sriov_drivers_autoprobe"), "1");
  }
  assert.equal(new SysfsControl().virtfns(pf).length, 0);
});

test("IOMMU groups: every device is in the group its link names; the PCI bridge's legacy devices share one", () => {
  const control = new SysfsControl();
  for (const address of addresses()) {
    const group = groupOf(address);
    assert.ok(readdirSync(`/sys/kernel/iommu_groups/${group}/devices`).includes(address));
    assert.ok(control.groupMembers(group).some((m) => m.address === address));
  }
  const group = groupOf(pciBridge());
  assert.equal(groupOf(legacyE1000()), group);
  assert.equal(groupOf(rtl8139()), group);
  assert.deepEqual(
    control
      .groupMembers(group)
      .map((m) => m.address)
      .sort(),
    [pciBridge(), legacyE1000(), rtl8139()].sort(),
  );
  assert.equal(headerType(pciBridge()), 1);
  for (const address of [e1000eIntel(), e1000eMellanox(), virtioNet(), nvme()]) {
    assert.deepEqual(
      control.groupMembers(groupOf(address)).map((m) => m.address),
      [address],
    );
  }
});

// The simulated kernel's binding rules, each against the kernel function it models.
import assert from "node:assert/strict";
import { test } from "node:test";
import { KernelError } from "../../src/host/sim/kernel.ts";
import { matchDevice } from "../../src/pci/id-entry.ts";
import { driverOf, PCIEPORT, ROOT_PORT, simMachine, VFIO_PCI } from "../support/sim.ts";

const NIC = {
  address: "0000:01:00.0",
  vendor: "8086",
  device: "10d3",
  class: "020000",
  parent: "0000:00:01.0",
  iommuGroup: 10,
};
const E1000E = { name: "e1000e", drivers: [{ name: "e1000e", ids: [{ vendor: "8086", device: "10d3" }] }] };

function machine(extra: { modules?: unknown[]; devices?: unknown[] } = {}) {
  return simMachine({
    modules: [
      PCIEPORT,
      E1000E,
      ...VFIO_PCI,
      { name: "pci_stub", drivers: [{ name: "pci-stub", managedDma: true }] },
      ...(extra.modules ?? []),
    ],
    devices: [ROOT_PORT, NIC, ...(extra.devices ?? [])],
  });
}

const errno = (fn: () => void) => {
  try {
    fn();
  } catch (error) {
    if (error instanceof KernelError) return error.code;
    throw error;
  }
  return "ok";
};

test("boot: a device with no loaded driver gets its module from udev's kmod load, and binds", () => {
  const { sim } = machine();
  assert.equal(driverOf(sim, "0000:01:00.0"), "e1000e");
  assert.equal(driverOf(sim, "0000:00:01.0"), "pcieport");
  const texts = sim.kernel.trace.events.map((e) => e.text);
  const at = (re: RegExp) => texts.findIndex((t) => re.test(t));
  assert.ok(at(/add +\/devices\/.*0000:01:00.0/) < at(/kmod load pci:v00008086d000010D3/));
  assert.ok(at(/kmod load pci:v00008086d000010D3/) < at(/^e1000e: module loaded/));
  assert.ok(at(/^e1000e: module loaded/) < at(/^e1000e 0000:01:00.0: bound/));
});

test("driver_override: cut at newline, a newline clears, an empty write is a no-op, nothing unbinds", () => {
  const { sim, kernel } = machine();
  const path = "/sys/bus/pci/devices/0000:01:00.0/driver_override";
  sim.write(path, "vfio-pci\nrest");
  assert.equal(kernel.devices.get("0000:01:00.0" as never)?.driverOverride, "vfio-pci");
  assert.equal(driverOf(sim, "0000:01:00.0"), "e1000e", "writing the override does not unbind");
  sim.write(path, "");
  assert.equal(
    kernel.devices.get("0000:01:00.0" as never)?.driverOverride,
    "vfio-pci",
    "0-byte write: no-op",
  );
  sim.write(path, "\n");
  assert.equal(kernel.devices.get("0000:01:00.0" as never)?.driverOverride, null);
});

test("bind/unbind/drivers_probe: ENODEV without a match, EBUSY when bound, drivers_probe succeeds binding nothing", () => {
  const { sim } = machine();
  sim.write("/sys/bus/pci/drivers/e1000e/unbind", "0000:01:00.0");
  assert.equal(
    errno(() => sim.write("/sys/bus/pci/drivers/e1000e/unbind", "0000:01:00.0")),
    "ENODEV",
  );
  assert.equal(
    errno(() => sim.write("/sys/bus/pci/drivers/pcieport/bind", "0000:01:00.0")),
    "ENODEV",
  );
  assert.equal(
    errno(() => sim.write("/sys/bus/pci/drivers/nosuch/bind", "0000:01:00.0")),
    "ENOENT",
  );
  sim.write("/sys/bus/pci/devices/0000:01:00.0/driver_override", "no-such-driver");
  assert.equal(
    errno(() => sim.write("/sys/bus/pci/drivers_probe", "0000:01:00.0")),
    "ok",
  );
  assert.equal(driverOf(sim, "0000:01:00.0"), null, "a name that matches no driver leaves it unbound");
  sim.write("/sys/bus/pci/devices/0000:01:00.0/driver_override", "\n");
  sim.write("/sys/bus/pci/drivers_probe", "0000:01:00.0");
  assert.equal(driverOf(sim, "0000:01:00.0"), "e1000e");
  assert.equal(
    errno(() => sim.write("/sys/bus/pci/drivers/e1000e/bind", "0000:01:00.0")),
    "EBUSY",
  );
});

test("new_id binds every unbound device with that id; EEXIST for an id the table has; remove_id ENODEV", () => {
  const { sim } = machine({ devices: [{ ...NIC, address: "0000:01:00.1", device: "10d4" }] });
  sim.write("/sys/bus/pci/drivers_autoprobe", "1");
  assert.equal(driverOf(sim, "0000:01:00.1"), null);
  sim.modprobe.run("pci_stub", { blacklist: false });
  sim.write("/sys/bus/pci/drivers/pci-stub/new_id", "8086 10d4");
  assert.equal(driverOf(sim, "0000:01:00.1"), "pci-stub");
  assert.equal(
    errno(() => sim.write("/sys/bus/pci/drivers/e1000e/new_id", "8086 10d3")),
    "EEXIST",
  );
  assert.equal(
    errno(() => sim.write("/sys/bus/pci/drivers/pci-stub/remove_id", "8086 1234")),
    "ENODEV",
  );
  assert.equal(
    errno(() => sim.write("/sys/bus/pci/drivers/pci-stub/new_id", "8086")),
    "EINVAL",
  );
  sim.write("/sys/bus/pci/drivers/pci-stub/remove_id", "8086 10d4");
  assert.equal(driverOf(sim, "0000:01:00.1"), "pci-stub", "remove_id does not unbind");
});

test("first successful probe wins; a failing probe falls through to the next driver on the list", () => {
  const first = {
    name: "first",
    loaded: true,
    drivers: [{ name: "first", ids: [{ vendor: "8086", device: "10d3" }] }],
  };
  const { sim, kernel } = simMachine({
    modules: [PCIEPORT, first, { ...E1000E, loaded: true }],
    devices: [ROOT_PORT, NIC],
  });
  assert.equal(driverOf(sim, "0000:01:00.0"), "first");
  kernel.faults.add({ kind: "probe-fails", driver: "first" });
  sim.write("/sys/bus/pci/drivers/first/unbind", "0000:01:00.0");
  sim.write("/sys/bus/pci/drivers_probe", "0000:01:00.0");
  assert.equal(driverOf(sim, "0000:01:00.0"), "e1000e");
  assert.ok(kernel.trace.events.some((e) => /first 0000:01:00.0: probe rejects match -6/.test(e.text)));
});

test("deferred probe: retried when another driver binds, once its supplier module is loaded", () => {
  const supplier = {
    name: "supplier",
    drivers: [{ name: "supplier", ids: [{ vendor: "1234", device: "0001" }] }],
  };
  const waiting = {
    name: "e1000e",
    drivers: [{ name: "e1000e", defersUntil: "supplier", ids: [{ vendor: "8086", device: "10d3" }] }],
  };
  const { sim } = simMachine({
    modules: [PCIEPORT, supplier, waiting],
    devices: [ROOT_PORT, NIC, { address: "0000:02:00.0", vendor: "1234", device: "0001", class: "ff0000" }],
  });
  // Coldplug loads e1000e (defers), then supplier binds and the deferred device is retried.
  assert.equal(driverOf(sim, "0000:01:00.0"), "e1000e");
  assert.ok(sim.kernel.trace.events.some((e) => /e1000e 0000:01:00.0: probe deferred/.test(e.text)));
});

test("vfio-pci refuses a device with no IOMMU group (vfio_group_find_or_alloc: EINVAL)", () => {
  const { sim } = machine({
    devices: [{ ...NIC, address: "0000:01:00.1", device: "10d4", iommuGroup: null }],
  });
  sim.modprobe.run("vfio_pci", { blacklist: false });
  sim.write("/sys/bus/pci/devices/0000:01:00.1/driver_override", "vfio-pci");
  assert.equal(
    errno(() => sim.write("/sys/bus/pci/drivers/vfio-pci/bind", "0000:01:00.1")),
    "EINVAL",
  );
  assert.equal(driverOf(sim, "0000:01:00.1"), null);
});

test("vfio-pci refuses bridges (EINVAL), its denylist (EINVAL) and a PF with VFs (EBUSY)", () => {
  const pf = {
    address: "0000:02:00.0",
    vendor: "8086",
    device: "1572",
    class: "020000",
    iommuGroup: 20,
    sriov: { totalVfs: 4, vfDevice: "154c" },
  };
  const i40e = {
    name: "i40e",
    drivers: [{ name: "i40e", sriov: true, ids: [{ vendor: "8086", device: "1572" }] }],
  };
  const qat = { address: "0000:03:00.0", vendor: "8086", device: "37c8", class: "0b4000", iommuGroup: 30 };
  const { sim } = machine({ modules: [i40e], devices: [pf, qat] });
  sim.modprobe.run("vfio_pci", { blacklist: false });
  for (const address of ["0000:00:01.0", "0000:03:00.0", "0000:02:00.0"]) {
    sim.write(`/sys/bus/pci/devices/${address}/driver_override`, "vfio-pci");
  }
  sim.write("/sys/bus/pci/devices/0000:02:00.0/sriov_numvfs", "2");
  assert.equal(sim.kernel.devices.get("0000:02:00.0" as never)?.sriov?.vfs.length, 2);
  sim.write("/sys/bus/pci/drivers/pcieport/unbind", "0000:00:01.0");
  assert.equal(
    errno(() => sim.write("/sys/bus/pci/drivers/vfio-pci/bind", "0000:00:01.0")),
    "EINVAL",
  );
  assert.equal(
    errno(() => sim.write("/sys/bus/pci/drivers/vfio-pci/bind", "0000:03:00.0")),
    "EINVAL",
  );
  // The PF's own driver can't be swapped while it has VFs; with i40e gone the VFs are gone too.
  assert.equal(
    errno(() => sim.write("/sys/bus/pci/devices/0000:02:00.0/sriov_numvfs", "3")),
    "EBUSY",
  );
});

test("VFs: sriov_drivers_autoprobe=0 keeps new VFs unbound unless they carry a driver_override", () => {
  const pf = {
    address: "0000:02:00.0",
    vendor: "8086",
    device: "1572",
    class: "020000",
    iommuGroup: 20,
    sriov: { totalVfs: 4, vfDevice: "154c" },
  };
  const i40e = {
    name: "i40e",
    drivers: [{ name: "i40e", sriov: true, ids: [{ vendor: "8086", device: "1572" }] }],
  };
  const iavf = { name: "iavf", drivers: [{ name: "iavf", ids: [{ vendor: "8086", device: "154c" }] }] };
  const { sim, kernel } = machine({ modules: [i40e, iavf], devices: [pf] });
  sim.modprobe.run("iavf", { blacklist: false });
  sim.write("/sys/bus/pci/devices/0000:02:00.0/sriov_drivers_autoprobe", "0");
  sim.write("/sys/bus/pci/devices/0000:02:00.0/sriov_numvfs", "2");
  const vfs = kernel.devices.get("0000:02:00.0" as never)?.sriov?.vfs ?? [];
  assert.deepEqual(vfs, ["0000:02:00.1", "0000:02:00.2"]);
  assert.deepEqual(
    vfs.map((v) => driverOf(sim, v)),
    [null, null],
  );
  sim.write("/sys/bus/pci/drivers_probe", "0000:02:00.1");
  assert.equal(driverOf(sim, "0000:02:00.1"), null, "pci_device_can_probe: -ENODEV for every driver");
  sim.write("/sys/bus/pci/devices/0000:02:00.1/driver_override", "iavf");
  sim.write("/sys/bus/pci/drivers_probe", "0000:02:00.1");
  assert.equal(driverOf(sim, "0000:02:00.1"), "iavf");
  assert.equal(
    errno(() => sim.write("/sys/bus/pci/devices/0000:02:00.0/sriov_numvfs", "9")),
    "ERANGE",
  );
  sim.write("/sys/bus/pci/devices/0000:02:00.0/sriov_numvfs", "0");
  assert.equal(kernel.devices.has("0000:02:00.1" as never), false);
});

test("IOMMU group ownership: a claim fails while a member uses a host driver; a host driver can't bind into an owned group", () => {
  const audio = {
    address: "0000:01:00.1",
    vendor: "8086",
    device: "abcd",
    class: "040300",
    parent: "0000:00:01.0",
    iommuGroup: 10,
  };
  const hda = {
    name: "snd_hda_intel",
    drivers: [{ name: "snd_hda_intel", ids: [{ vendor: "8086", device: "abcd" }] }],
  };
  const later = {
    name: "later",
    drivers: [{ name: "later", managedDma: true, ids: [{ vendor: "8086", device: "abcd" }] }],
  };
  const { sim, kernel } = machine({ modules: [hda, later], devices: [audio] });
  sim.modprobe.run("vfio_pci", { blacklist: false });
  sim.write("/sys/bus/pci/devices/0000:01:00.0/driver_override", "vfio-pci");
  sim.write("/sys/bus/pci/drivers/e1000e/unbind", "0000:01:00.0");
  sim.write("/sys/bus/pci/drivers_probe", "0000:01:00.0");
  assert.equal(driverOf(sim, "0000:01:00.0"), "vfio-pci");
  assert.equal(kernel.vfioGroupNode(10), true);
  assert.equal(
    errno(() => kernel.openVfioGroup(10)),
    "EBUSY",
  );
  sim.write("/sys/bus/pci/drivers/snd_hda_intel/unbind", "0000:01:00.1");
  kernel.openVfioGroup(10);
  assert.equal(
    errno(() => sim.write("/sys/bus/pci/drivers/snd_hda_intel/bind", "0000:01:00.1")),
    "EBUSY",
  );
  // drivers_probe: snd_hda_intel's dma_configure fails (-EBUSY, which really_probe returns as
  // it is), and that ends the walk: "later" (loaded at boot, after snd_hda_intel on the list),
  // which manages its DMA and matches too, is not tried
  sim.write("/sys/bus/pci/drivers_probe", "0000:01:00.1");
  assert.equal(driverOf(sim, "0000:01:00.1"), null, "the walk stopped at snd_hda_intel's EBUSY");
  // pci-stub has driver_managed_dma: it may bind inside the owned group.
  sim.modprobe.run("pci_stub", { blacklist: false });
  sim.write("/sys/bus/pci/drivers/pci-stub/new_id", "8086 abcd");
  assert.equal(driverOf(sim, "0000:01:00.1"), "pci-stub");
});

test("the driver index gives what a walk of every driver would: first matching driver in list order", () => {
  // 2,000 devices, 100 drivers by id, one by class, one by vendor: the index's choice for each
  // device must equal a linear walk of the driver list with pci_match_device.
  const hex = (n: number, w: number) => n.toString(16).padStart(w, "0");
  const modules = [
    {
      name: "byclass",
      loaded: true,
      drivers: [{ name: "byclass", ids: [{ class: "010000", classMask: "ff0000" }] }],
    },
    ...Array.from({ length: 100 }, (_, i) => ({
      name: `d${i}`,
      loaded: i % 2 === 0,
      drivers: [{ name: `d${i}`, ids: [{ vendor: "1000", device: hex(i, 4) }] }],
    })),
    { name: "byvendor", loaded: true, drivers: [{ name: "byvendor", ids: [{ vendor: "1000" }] }] },
  ];
  const devices = Array.from({ length: 2000 }, (_, j) => ({
    address: `0000:${hex(j >> 8, 2)}:${hex((j >> 3) & 0x1f, 2)}.${j & 7}`,
    vendor: j % 7 === 0 ? "2000" : "1000",
    device: hex(j % 130, 4),
    class: j % 3 === 0 ? "010802" : "020000",
  }));
  const { sim, kernel } = simMachine({ modules, devices });
  const order = [...kernel.drivers.values()];
  for (const d of kernel.devices.values()) {
    const walk = order.find((drv) => matchDevice(drv, d.ids, null).matched)?.name ?? null;
    assert.equal(driverOf(sim, d.address), walk, d.address);
  }
});

test("modprobe: softdep pre: modules load first; a blacklist stops alias loads, not loads by name without -b", () => {
  const { sim } = simMachine({
    modules: [PCIEPORT, { name: "firmware_helper" }, { ...E1000E, softdep: "pre: firmware_helper" }],
    devices: [ROOT_PORT, NIC],
    blacklist: ["e1000e"],
  });
  assert.equal(driverOf(sim, "0000:01:00.0"), null, "udev's kmod load skipped the blacklisted module");
  assert.ok(
    sim.kernel.trace.events.some((e) => /e1000e: blacklisted in modprobe\.d, not loaded/.test(e.text)),
  );
  assert.equal(
    sim.modprobe.run("e1000e", { blacklist: true }).inserted.length,
    0,
    "modprobe -b NAME loads nothing",
  );
  assert.deepEqual(sim.modprobe.run("e1000e", { blacklist: false }).inserted, ["firmware_helper", "e1000e"]);
  sim.udev.settle();
  assert.equal(driverOf(sim, "0000:01:00.0"), "e1000e");
});

test("a sysfs write fault fails the write with its errno, once", () => {
  const { sim, kernel } = machine();
  kernel.faults.add({ kind: "sysfs-write-fails", attribute: "unbind", errno: "EIO", times: 1 });
  assert.equal(
    errno(() => sim.write("/sys/bus/pci/drivers/e1000e/unbind", "0000:01:00.0")),
    "EIO",
  );
  assert.equal(driverOf(sim, "0000:01:00.0"), "e1000e");
  sim.write("/sys/bus/pci/drivers/e1000e/unbind", "0000:01:00.0");
  assert.equal(driverOf(sim, "0000:01:00.0"), null);
});

test("remove takes a bridge and what is below it; a rescan finds them again and they bind", () => {
  const { sim, kernel } = machine();
  sim.write("/sys/bus/pci/devices/0000:00:01.0/remove", "1");
  assert.deepEqual([...kernel.devices.keys()], []);
  assert.equal(
    errno(() => sim.write("/sys/bus/pci/devices/0000:01:00.0/driver_override", "x")),
    "ENOENT",
  );
  sim.write("/sys/bus/pci/rescan", "1");
  assert.equal(driverOf(sim, "0000:00:01.0"), "pcieport");
  assert.equal(driverOf(sim, "0000:01:00.0"), "e1000e");
  const actions = kernel.trace.events
    .filter((e) => e.vars?.PCI_SLOT_NAME === "0000:01:00.0")
    .map((e) => e.vars?.ACTION);
  assert.deepEqual(actions, ["add", "bind", "unbind", "remove", "add", "bind"]);
});

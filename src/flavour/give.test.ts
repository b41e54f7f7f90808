// The policy on the simulated kernel: choosing, applying, verifying, rolling back, saved rules,
// the udev hook's boot pass and VFs born with a flavour. The machine is data (machine JSON),
// its modules tree is generated from the id tables, and faults are injected into its kernel.
import assert from "node:assert/strict";
import { test } from "node:test";
import { driverOf, simMachine, VFIO_PCI } from "../../test/support/sim.ts";
import { tempDir } from "../../test/support/tmp.ts";
import { SimControl } from "../host/sim/control.ts";
import { SimMachine } from "../host/sim/machine.ts";
import type { PciAddress } from "../pci/address.ts";
import { applyRules } from "./apply-rules.ts";
import { giveFlavour, giveGroup } from "./give.ts";
import { runHook } from "./hook.ts";
import { parseSelector, type Rule } from "./rules.ts";
import { saveRule } from "./rules-store.ts";
import { wireSimHooks } from "./sim-hooks.ts";
import { createVfs } from "./vfs.ts";

const NIC = "0000:01:00.0" as PciAddress;
const NIC2 = "0000:02:00.0" as PciAddress;
const VIRTIO_NET = "0000:03:00.0" as PciAddress;
const SMBUS = "0000:00:1f.3" as PciAddress;

const E1000E = {
  name: "e1000e",
  drivers: [{ name: "e1000e", sriov: true, ids: [{ vendor: "8086", device: "10d3" }] }],
};
const MODULES = [
  E1000E,
  { name: "virtio_pci", drivers: [{ name: "virtio-pci", ids: [{ vendor: "1af4" }] }] },
  ...VFIO_PCI,
  {
    name: "virtio_vfio_pci",
    depends: ["vfio_pci_core"],
    drivers: [
      { name: "virtio_vfio_pci", vfio: true, ids: [{ vendor: "1af4", device: "1041", overrideOnly: true }] },
    ],
  },
  { name: "i801_smbus", drivers: [{ name: "i801_smbus", ids: [{ vendor: "8086", device: "2930" }] }] },
];
const nic = (address: string, group: number) => ({
  address,
  vendor: "8086",
  device: "10d3",
  class: "020000",
  iommuGroup: group,
  sriov: { totalVfs: 4, vfDevice: "10d3", vfGroupBase: 100 + group * 10 },
});
const DEVICES = [
  nic(NIC, 1),
  {
    address: VIRTIO_NET,
    vendor: "1af4",
    device: "1041",
    subvendor: "1af4",
    subdevice: "1100",
    class: "020000",
    iommuGroup: 3,
  },
];

function machine(options: { blacklist?: string[]; devices?: unknown[] } = {}) {
  const { sim, control, modules } = simMachine({
    modules: MODULES,
    devices: options.devices ?? DEVICES,
    blacklist: options.blacklist,
  });
  return { sim, host: control, modules };
}

/** Every bind of a device, in order, read from the kernel's trace. */
function binds(sim: SimMachine, address: string): string[] {
  return sim.kernel.trace.events
    .map((e) => new RegExp(`^(\\S+) ${address.replaceAll(".", "\\.")}: bound`).exec(e.text)?.[1])
    .filter((d): d is string => d !== undefined);
}

const sysfsWrites = (sim: SimMachine, from: number) =>
  sim.kernel.trace.events.slice(from).filter((e) => e.source === "sysfs");

test("set vfio: vfio-pci is loaded, its driver name read, the device rebound and verified", () => {
  const m = machine();
  const give = giveFlavour(m, NIC, { flavour: "vfio" });
  assert.equal(give.result?.outcome, "done");
  assert.equal(m.host.device(NIC).driver, "vfio-pci");
  assert.equal(m.host.device(NIC).driverOverride, "vfio-pci");
  assert.equal(m.host.device(NIC).vfioDevice, true);
  assert.deepEqual(give.result?.log, [
    "loaded module vfio_pci",
    "module vfio_pci registered driver vfio-pci",
    "driver_override = vfio-pci",
    "unbound from e1000e",
    "drivers_probe",
    "verified: bound to vfio-pci",
  ]);
});

test("set vfio picks the variant with fewer wildcards, and unset gives the device back", () => {
  const m = machine();
  const give = giveFlavour(m, VIRTIO_NET, { flavour: "vfio" });
  assert.equal(give.plan.target.module, "virtio_vfio_pci");
  assert.equal(m.host.device(VIRTIO_NET).driver, "virtio_vfio_pci");
  const back = giveFlavour(m, VIRTIO_NET, { flavour: "default" });
  assert.equal(back.result?.outcome, "done");
  assert.deepEqual(
    [m.host.device(VIRTIO_NET).driver, m.host.device(VIRTIO_NET).driverOverride],
    ["virtio-pci", null],
  );
});

test("unset leaves out a blacklisted module, as udev's kmod load does; one already loaded still counts", () => {
  const m = machine({ blacklist: ["e1000e", "virtio_pci"] });
  assert.equal(m.host.device(NIC).driver, null, "udev's kmod load skipped the blacklisted e1000e at boot");
  assert.equal(giveFlavour(m, NIC, { flavour: "vfio" }).result?.outcome, "done");
  const back = giveFlavour(m, NIC, { flavour: "default" });
  assert.equal(
    back.plan.target.reason,
    "no override; every matching module is blacklisted, so only a built-in or loaded driver can take it; " +
      "e1000e: blacklisted, not loaded",
  );
  assert.deepEqual(back.plan.target.modules, []);
  assert.equal(back.result?.outcome, "done", back.result?.log.join("\n"));
  assert.deepEqual([m.host.device(NIC).driver, m.host.device(NIC).driverOverride], [null, null]);
  assert.equal(m.host.moduleLoaded("e1000e"), false);

  // Loaded by name despite the blacklist: its driver is registered, so it is the kernel's choice.
  m.sim.modprobe.run("virtio_pci", { blacklist: false });
  assert.equal(m.host.device(VIRTIO_NET).driver, "virtio-pci");
  assert.equal(giveFlavour(m, VIRTIO_NET, { flavour: "vfio" }).result?.outcome, "done");
  const virtio = giveFlavour(m, VIRTIO_NET, { flavour: "default" });
  assert.deepEqual(virtio.plan.target.modules, ["virtio_pci"]);
  assert.equal(virtio.result?.outcome, "done");
  assert.equal(m.host.device(VIRTIO_NET).driver, "virtio-pci");
});

test("a probe that fails is rolled back: the device ends on its original driver", () => {
  const m = machine();
  m.sim.kernel.faults.add({ kind: "probe-fails", driver: "vfio-pci", address: NIC });
  const give = giveFlavour(m, NIC, { flavour: "vfio" });
  assert.equal(give.result?.outcome, "rolled-back");
  assert.match(give.result?.error ?? "", /verification failed: bound to no driver, expected vfio-pci/);
  assert.deepEqual([m.host.device(NIC).driver, m.host.device(NIC).driverOverride], ["e1000e", null]);
});

test("rollback says what really bound when the starting driver's bind fails", () => {
  const m = machine();
  m.sim.kernel.faults.add({ kind: "probe-fails", driver: "vfio-pci", address: NIC });
  m.sim.kernel.faults.add({ kind: "probe-fails", driver: "e1000e", address: NIC });
  const give = giveFlavour(m, NIC, { flavour: "vfio" });
  assert.equal(give.result?.outcome, "not-rolled-back");
  const log = give.result?.log ?? [];
  assert.ok(!log.some((line) => line.includes("rebound")), log.join("\n"));
  assert.ok(
    log.some((line) =>
      /^rollback: bind to e1000e failed \(.+\), then drivers_probe: no driver bound it$/.test(line),
    ),
    log.join("\n"),
  );
  assert.equal(m.host.device(NIC).driver, null);
});

test("a missing module changes nothing; a blacklisted one is reported as blacklisted", () => {
  const m = machine();
  m.sim.kernel.faults.add({ kind: "module-missing", module: "vfio_pci" });
  const from = m.sim.kernel.trace.events.length;
  const missing = giveFlavour(m, NIC, { flavour: "vfio" });
  assert.equal(missing.result?.outcome, "rolled-back");
  assert.match(missing.result?.error ?? "", /Module vfio_pci not found/);
  assert.deepEqual(sysfsWrites(m.sim, from), []);

  const b = machine({ blacklist: ["virtio_vfio_pci"] });
  const blacklisted = giveFlavour(b, VIRTIO_NET, { flavour: "vfio" });
  assert.match(blacklisted.result?.error ?? "", /blacklisted in modprobe\.d/);
  assert.equal(b.host.device(VIRTIO_NET).driver, "virtio-pci");
});

test("an explicit driver whose tables do not list the device is refused without --force", () => {
  const m = machine();
  const give = giveFlavour(m, NIC, { flavour: "driver", driver: "virtio-pci" });
  assert.match(give.refused.join(), /id tables do not include 0000:01:00.0/);
  assert.equal(give.result, undefined);
  assert.equal(m.host.device(NIC).driver, "e1000e");
});

const rule = (name: string, selector: string): Rule => ({
  name,
  selector: parseSelector(selector) as Rule["selector"],
  flavour: "vfio",
});

test("apply brings devices to their saved flavour, and a second run has nothing to do", () => {
  const m = machine();
  const rules = [rule("nic", "id 8086:10d3")];
  const first = applyRules(m, rules, m.host.addresses());
  assert.deepEqual(
    first.map((o) => [o.address, o.give?.result?.outcome]),
    [[NIC, "done"]],
  );
  const second = applyRules(m, rules, m.host.addresses());
  assert.deepEqual(
    second.map((o) => [o.address, o.give?.plan.done]),
    [[NIC, true]],
  );
});

test("the hook's boot pass flavours every device before a host driver module loads", () => {
  // A real boot order: the kernel enumerates both NICs, then udev handles the first add event:
  // 60-flavourctl's hook runs before 80-drivers' kmod load of e1000e.
  const rulesDir = tempDir("rules");
  const runDir = `${tempDir("run")}/run`;
  saveRule(rulesDir, rule("second-nic", `address ${NIC2}`));
  const base = machine({ devices: [nic(NIC, 1), nic(NIC2, 2)] });
  const sim = new SimMachine(base.sim.spec, base.sim.modules);
  const host = new SimControl(sim);
  wireSimHooks(sim, host, base.sim.modules, { rulesDir, runDir });
  sim.boot();
  assert.equal(driverOf(sim, NIC), "e1000e");
  assert.equal(driverOf(sim, NIC2), "vfio-pci");
  assert.deepEqual(binds(sim, NIC2), ["vfio-pci"], "the second NIC was never bound to e1000e");
  assert.ok(
    sim.kernel.trace.events.some((e) =>
      /hook: 0000:02:00.0: rule second-nic: done -> vfio-pci \(boot pass\)/.test(e.text),
    ),
  );
  // Later events handle only their own device.
  assert.equal(
    runHook({ modules: base.sim.modules, host }, () => [rule("second-nic", `address ${NIC2}`)], NIC, runDir)
      .bootPass,
    false,
  );
});

test("vfs: VFs are created with autoprobe off and bind straight to their flavour", () => {
  const m = machine();
  const pf = NIC;
  const created = createVfs(m, pf, 2, undefined, [rule("vfs", `vfs-of ${pf}`)]);
  assert.equal(created.vfs.length, 2);
  for (const vf of created.vfs) {
    assert.equal(m.host.device(vf).driver, "vfio-pci");
    assert.deepEqual(binds(m.sim, vf), ["vfio-pci"]);
  }
  assert.equal(m.host.sriovAutoprobe(pf), true, "autoprobe is put back");
  createVfs(m, pf, 0, undefined, []);
  assert.deepEqual(m.host.virtfns(pf), []);
});

test("vfs: VFs without a flavour are probed once autoprobe is back, and get the kernel's own driver", () => {
  const m = machine();
  const from = m.sim.kernel.trace.events.length;
  const created = createVfs(m, NIC, 2, undefined, []);
  assert.equal(created.vfs.length, 2);
  for (const vf of created.vfs) assert.equal(m.host.device(vf).driver, "e1000e", vf);
  assert.deepEqual(
    created.outcomes.map((o) => [o.address, o.give?.result?.outcome, o.give?.result?.final.driver]),
    created.vfs.map((vf) => [vf, "done", "e1000e"]),
  );
  // pci_device_can_probe: nothing binds a VF before sriov_drivers_autoprobe is 1 again.
  const writes = sysfsWrites(m.sim, from).map((e) => e.text);
  const restored = writes.findIndex((w) => /echo "1" > .*sriov_drivers_autoprobe/.test(w));
  const firstProbe = writes.findIndex((w) => w.includes("drivers_probe"));
  assert.ok(restored >= 0 && restored < firstProbe, writes.join("\n"));
  createVfs(m, NIC, 0, undefined, []);

  // Autoprobe off before: it stays off, no driver may probe the VFs, and the log says so.
  m.host.setSriovAutoprobe(NIC, false);
  const off = createVfs(m, NIC, 1, undefined, []);
  assert.equal(m.host.device(off.vfs[0] as PciAddress).driver, null);
  assert.deepEqual(off.outcomes, []);
  assert.match(off.log.join("\n"), /no flavour; sriov_drivers_autoprobe is 0, so no driver may probe it/);
  assert.equal(m.host.sriovAutoprobe(NIC), false);
});

test("a device a VM holds through its vfio group is not unbound without --force", () => {
  const m = machine();
  const held = () => giveFlavour(m, NIC, { flavour: "default" }, { dryRun: true }).plan.checks;
  // On a host driver there is no vfio node to hold: no check.
  const toVfio = giveFlavour(m, NIC, { flavour: "vfio" });
  assert.equal(
    toVfio.plan.checks.find((c) => c.name === "vfio-in-use"),
    undefined,
  );
  assert.equal(toVfio.result?.outcome, "done");
  assert.deepEqual(
    held().find((c) => c.name === "vfio-in-use"),
    { name: "vfio-in-use", ok: true, message: "no process holds 0000:01:00.0's vfio nodes open" },
  );
  m.sim.kernel.openVfioGroup(1);
  assert.equal(held().find((c) => c.name === "vfio-in-use")?.ok, false);
  const from = m.sim.kernel.trace.events.length;
  const unset = giveFlavour(m, NIC, { flavour: "default" });
  assert.deepEqual(unset.refused, [
    "0000:01:00.0 is in use: a process holds /dev/vfio/1 open (a VM?); unbinding it would wait until that process lets go: stop it first",
  ]);
  assert.equal(unset.result, undefined);
  assert.deepEqual(sysfsWrites(m.sim, from), []);
  // Keeping the driver it has needs no unbind: no check, nothing refused.
  const same = giveFlavour(m, NIC, { flavour: "vfio" });
  assert.equal(same.plan.done, true);
  assert.equal(
    same.plan.checks.find((c) => c.name === "vfio-in-use"),
    undefined,
  );
  // --force goes ahead; e1000e then cannot bind into the group the VM owns (EBUSY), so it is
  // rolled back onto vfio-pci.
  const forced = giveFlavour(m, NIC, { flavour: "default" }, { force: true });
  assert.deepEqual(forced.refused, []);
  assert.equal(forced.result?.outcome, "rolled-back");
  assert.ok(forced.result?.log.includes("unbound from vfio-pci"), forced.result?.log.join("\n"));
  assert.equal(m.host.device(NIC).driver, "vfio-pci");
});

test("vfs PF 0 is refused while a VM holds a VF's vfio group, unless --force", () => {
  const m = machine();
  const created = createVfs(m, NIC, 1, { flavour: "vfio" }, []);
  const vf = created.vfs[0] as PciAddress;
  const group = m.host.device(vf).iommuGroup as number;
  m.sim.kernel.openVfioGroup(group);
  assert.throws(
    () => createVfs(m, NIC, 0, undefined, []),
    new RegExp(`${vf.replaceAll(".", "\\.")} is in use: a process holds /dev/vfio/${group} \\(a VM\\?\\)`),
  );
  assert.deepEqual(m.host.virtfns(NIC), [vf]);
  createVfs(m, NIC, 0, undefined, [], { force: true });
  assert.deepEqual(m.host.virtfns(NIC), []);
});

test("--group moves every member of the group, or none when one fails", () => {
  const m = machine({
    devices: [...DEVICES, { address: SMBUS, vendor: "8086", device: "2930", class: "0c0500", iommuGroup: 1 }],
  });
  // Alone, the NIC's group would not be viable.
  assert.match(
    giveFlavour(m, NIC, { flavour: "vfio" }).refused.join(),
    /0000:00:1f\.3 is bound to host driver i801_smbus/,
  );
  // The SMBus controller moves first (bus order), then the NIC's probe fails: both are put back.
  m.sim.kernel.faults.add({ kind: "probe-fails", driver: "vfio-pci", address: NIC, times: 1 });
  const failed = giveGroup(m, SMBUS, { flavour: "vfio" });
  assert.equal(failed.failedAt, NIC);
  assert.ok(binds(m.sim, SMBUS).includes("vfio-pci"), "the SMBus controller had moved");
  assert.equal(failed.restored, true);
  assert.deepEqual([driverOf(m.sim, SMBUS), driverOf(m.sim, NIC)], ["i801_smbus", "e1000e"]);
  const moved = giveGroup(m, SMBUS, { flavour: "vfio" });
  assert.equal(moved.failedAt, undefined);
  assert.deepEqual([driverOf(m.sim, SMBUS), driverOf(m.sim, NIC)], ["vfio-pci", "vfio-pci"]);
});

test("vfs: a flavour every VF would refuse (vfio with a non-vfio driver) is refused before any VF exists", () => {
  const m = machine();
  assert.throws(
    () => createVfs(m, NIC, 1, { flavour: "vfio", driver: "pci-stub" }, []),
    /pci-stub is not a vfio driver \(no VF was created\)/,
  );
  assert.deepEqual(m.host.virtfns(NIC), []);
  assert.equal(m.host.sriovAutoprobe(NIC), true);
});

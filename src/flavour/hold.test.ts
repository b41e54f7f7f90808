// The hold: a variant's module depends on its host driver's module (virtio_vfio_pci needs
// virtio_pci's virtio_pci_admin_legacy_* exports, drivers/virtio/virtio_pci_admin_legacy_io.c;
// mlx5_vfio_pci needs mlx5_core), and loading it binds every unbound device the host driver
// matches. An unbound device is held (a driver_override no driver has) while modules load, so
// the host driver never gets it. On the simulated kernel, whose modprobe inserts dependencies
// first and whose driver_register attaches unbound devices, as the real ones do.
import assert from "node:assert/strict";
import { test } from "node:test";
import { driverOf, simMachine, VFIO_PCI } from "../../test/support/sim.ts";
import { tempDir } from "../../test/support/tmp.ts";
import { HOLD_OVERRIDE } from "../host/control.ts";
import { SimControl } from "../host/sim/control.ts";
import { SimMachine } from "../host/sim/machine.ts";
import { readMachine } from "../host/sim/machine-format.ts";
import demo from "../host/sim/machines/demo.json" with { type: "json" };
import { machineModules } from "../host/sim/modules-tree.ts";
import type { PciAddress } from "../pci/address.ts";
import { applyPlan } from "./apply.ts";
import { giveFlavour } from "./give.ts";
import { planFlavour } from "./plan.ts";
import { parseSelector, type Rule } from "./rules.ts";
import { saveRule } from "./rules-store.ts";
import { wireSimHooks } from "./sim-hooks.ts";
import { chooseTarget } from "./target.ts";

const NIC = "0000:01:00.0" as PciAddress;
const VIRTIO_NET = "0000:03:00.0" as PciAddress;

const MODULES = [
  { name: "e1000e", drivers: [{ name: "e1000e", ids: [{ vendor: "8086", device: "10d3" }] }] },
  { name: "virtio_pci", drivers: [{ name: "virtio-pci", ids: [{ vendor: "1af4" }] }] },
  ...VFIO_PCI,
  {
    name: "virtio_vfio_pci",
    depends: ["vfio_pci_core", "virtio_pci"],
    drivers: [
      { name: "virtio_vfio_pci", vfio: true, ids: [{ vendor: "1af4", device: "1041", overrideOnly: true }] },
    ],
  },
];
const DEVICES = [
  { address: NIC, vendor: "8086", device: "10d3", class: "020000", iommuGroup: 1 },
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

/** Every bind of a device, in order, read from the kernel's trace. */
function binds(sim: SimMachine, address: string, from = 0): string[] {
  return sim.kernel.trace.events
    .slice(from)
    .map((e) => new RegExp(`^(\\S+) ${address.replaceAll(".", "\\.")}: bound`).exec(e.text)?.[1])
    .filter((d): d is string => d !== undefined);
}

const netRule: Rule = {
  name: "net",
  selector: parseSelector(`address ${VIRTIO_NET}`) as Rule["selector"],
  flavour: "vfio",
};

/** A machine whose virtio-net is unbound and virtio_pci unloaded (modprobe -r after boot). */
function unboundVirtio() {
  const m = simMachine({ modules: MODULES, devices: DEVICES });
  const removed = m.sim.modprobe.remove("virtio_pci");
  assert.ok(removed.ok, removed.message);
  assert.equal(driverOf(m.sim, VIRTIO_NET), null);
  return { ...m, host: m.control, mark: m.kernel.trace.events.length };
}

test("boot pass: a virtio_vfio_pci rule on an unbound virtio-net; virtio-pci, loaded as a dependency, never binds it", () => {
  const rulesDir = tempDir("rules");
  saveRule(rulesDir, netRule);
  const base = simMachine({ modules: MODULES, devices: DEVICES });
  for (const seed of [1, 2, 3, 4, 5]) {
    const sim = new SimMachine(base.sim.spec, base.sim.modules, seed);
    wireSimHooks(sim, new SimControl(sim), base.sim.modules, { rulesDir, runDir: `${tempDir("run")}/run` });
    sim.boot();
    const lines = sim.kernel.trace.events.map((e) => e.text);
    assert.ok(
      lines.includes("hook: 0000:03:00.0: rule net: done -> virtio_vfio_pci (boot pass)"),
      `seed ${seed}:\n${lines.join("\n")}`,
    );
    assert.equal(driverOf(sim, VIRTIO_NET), "virtio_vfio_pci");
    assert.deepEqual(binds(sim, VIRTIO_NET), ["virtio_vfio_pci"], `seed ${seed}: virtio-pci never bound it`);
    // virtio_pci was loaded by the boot pass itself (a dependency), while the device was held.
    const hold = lines.indexOf(`echo "${HOLD_OVERRIDE}" > /sys/bus/pci/devices/0000:03:00.0/driver_override`);
    const insmod = lines.findIndex((l) => /insmod .*\/virtio_pci\.ko$/.test(l));
    assert.ok(hold >= 0 && hold < insmod, `seed ${seed}: held before virtio_pci loaded`);
  }
});

test("boot pass: every device a rule names is held before the first module loads, the later ones in bus order too", () => {
  const NET2 = "0000:04:00.0" as PciAddress;
  const BLK = "0000:05:00.0" as PciAddress;
  const devices = [
    ...DEVICES,
    { ...DEVICES[1], address: NET2, iommuGroup: 4 },
    { address: BLK, vendor: "1af4", device: "1042", class: "010000", iommuGroup: 5 },
  ];
  const rulesDir = tempDir("rules");
  saveRule(rulesDir, {
    ...netRule,
    name: "nets",
    selector: parseSelector("id 1af4:1041") as Rule["selector"],
  });
  const base = simMachine({ modules: MODULES, devices });
  for (const seed of [1, 2, 3]) {
    const sim = new SimMachine(base.sim.spec, base.sim.modules, seed);
    sim.kernel.faults.add({ kind: "probe-fails", driver: "virtio_vfio_pci", address: NET2, times: 1 });
    wireSimHooks(sim, new SimControl(sim), base.sim.modules, { rulesDir, runDir: `${tempDir("run")}/run` });
    sim.boot();
    const lines = sim.kernel.trace.events.map((e) => e.text);
    const context = `seed ${seed}:\n${lines.join("\n")}`;
    assert.ok(lines.includes("hook: 0000:03:00.0: rule nets: done -> virtio_vfio_pci (boot pass)"), context);
    // The second net's variant probe fails: rolled back to no driver and no override, and
    // virtio-pci, loaded for the first one, never had it.
    assert.ok(lines.includes("hook: 0000:04:00.0: rule nets: rolled-back -> no driver (boot pass)"), context);
    assert.deepEqual(binds(sim, VIRTIO_NET), ["virtio_vfio_pci"], context);
    assert.deepEqual(binds(sim, NET2), [], context);
    // udev's kmod load for its own add event (after the boot pass) finds virtio_pci loaded
    // and probes nothing: the device stays as the rollback left it.
    assert.equal(sim.kernel.devices.get(NET2)?.driverOverride, null);
    // The device no rule names gets its host driver, as udev would have given it.
    assert.deepEqual(binds(sim, BLK), ["virtio-pci"], context);
  }
});

test("boot pass on the demo machine: its virtio-net (rule address 0000:03:00.0) ends on virtio_vfio_pci on every seed", () => {
  const spec = readMachine(demo, "demo");
  const modules = machineModules(spec);
  const rulesDir = tempDir("rules");
  saveRule(rulesDir, netRule);
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    const sim = new SimMachine(spec, modules, seed);
    wireSimHooks(sim, new SimControl(sim), modules, { rulesDir, runDir: `${tempDir("run")}/run` });
    sim.boot();
    const lines = sim.kernel.trace.events.map((e) => e.text);
    assert.ok(
      lines.includes("hook: 0000:03:00.0: rule net: done -> virtio_vfio_pci (boot pass)"),
      `seed ${seed}:\n${lines.filter((l) => l.includes("hook:")).join("\n")}`,
    );
    assert.deepEqual(binds(sim, VIRTIO_NET), ["virtio_vfio_pci"], `seed ${seed}`);
  }
});

test("set vfio on an unbound device whose host module is unloaded: held, loaded, bound to the variant", () => {
  const m = unboundVirtio();
  const give = giveFlavour(m, VIRTIO_NET, { flavour: "vfio" });
  assert.deepEqual(give.plan.steps, [
    { action: "hold", override: HOLD_OVERRIDE },
    { action: "load-module", module: "virtio_vfio_pci" },
    { action: "find-driver", module: "virtio_vfio_pci" },
    { action: "write-override", driver: "target" },
    { action: "probe" },
    { action: "verify" },
  ]);
  assert.equal(give.result?.outcome, "done", give.result?.log.join("\n"));
  assert.deepEqual(give.result?.final, { driver: "virtio_vfio_pci", driverOverride: "virtio_vfio_pci" });
  assert.deepEqual(binds(m.sim, VIRTIO_NET, m.mark), ["virtio_vfio_pci"]);
  assert.ok(m.host.moduleLoaded("virtio_pci"), "virtio_pci came in as a dependency");
});

/** The booted machine: both devices on their host drivers. */
function booted() {
  const m = simMachine({ modules: MODULES, devices: DEVICES });
  return { ...m, host: m.control };
}

test("a bound device is not held: the module loads while it is bound, then override, unbind, probe", () => {
  const m = booted();
  const give = giveFlavour(m, VIRTIO_NET, { flavour: "vfio" });
  assert.deepEqual(
    give.plan.steps.map((s) => s.action),
    ["load-module", "find-driver", "write-override", "unbind", "probe", "verify"],
  );
  assert.equal(give.result?.outcome, "done");
});

test("a failure between the hold and the final override puts the starting override back: no hold is left", () => {
  const m = unboundVirtio();
  m.host.writeOverride(VIRTIO_NET, "pci-stub"); // an override of its own, to be restored
  m.kernel.faults.add({ kind: "module-load-fails", module: "virtio_vfio_pci", times: 1 });
  const give = giveFlavour(m, VIRTIO_NET, { flavour: "vfio" });
  assert.equal(give.plan.steps[0]?.action, "hold");
  assert.equal(give.result?.outcome, "rolled-back", give.result?.log.join("\n"));
  assert.deepEqual(give.result?.final, { driver: null, driverOverride: "pci-stub" });
  assert.deepEqual(m.host.device(VIRTIO_NET).driverOverride, "pci-stub");
  assert.ok(m.host.moduleLoaded("virtio_pci"), "the dependency had loaded");
  assert.deepEqual(binds(m.sim, VIRTIO_NET, m.mark), [], "nothing bound it meanwhile");

  // Failing at verification (the variant's probe fails): the override is put back too.
  m.host.writeOverride(VIRTIO_NET, null);
  m.sim.modprobe.remove("virtio_vfio_pci");
  m.sim.modprobe.remove("virtio_pci");
  m.kernel.faults.add({ kind: "probe-fails", driver: "virtio_vfio_pci", times: 1 });
  const failed = giveFlavour(m, VIRTIO_NET, { flavour: "vfio" });
  assert.equal(failed.plan.steps[0]?.action, "hold");
  assert.equal(failed.result?.outcome, "rolled-back", failed.result?.log.join("\n"));
  assert.deepEqual(failed.result?.final, { driver: null, driverOverride: null });
  assert.deepEqual(binds(m.sim, VIRTIO_NET, m.mark), []);
});

test("a driver that took the device after the plan was made is unbound before drivers_probe", () => {
  const m = booted();
  m.sim.modprobe.run("virtio_vfio_pci", { blacklist: true });
  m.host.unbind(VIRTIO_NET, "virtio-pci");
  const device = m.host.device(VIRTIO_NET);
  const target = chooseTarget(m.modules, m.host, device, { flavour: "vfio" });
  const plan = planFlavour(device, target, []);
  assert.deepEqual(
    plan.steps.map((s) => s.action),
    ["load-module", "write-override", "probe", "verify"],
    "the variant is loaded (its driver known): nothing to hold",
  );
  // Between the plan and its execution, something probes the device (a udev worker's kmod load).
  m.host.probe(VIRTIO_NET);
  assert.equal(driverOf(m.sim, VIRTIO_NET), "virtio-pci");
  const result = applyPlan(m.host, plan);
  assert.equal(result.outcome, "done", result.log.join("\n"));
  assert.ok(
    result.log.includes("unbound from virtio-pci, which had bound it meanwhile"),
    result.log.join("\n"),
  );
  assert.equal(driverOf(m.sim, VIRTIO_NET), "virtio_vfio_pci");
});

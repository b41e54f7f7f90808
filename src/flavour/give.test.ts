// The policy on a small in-memory host (test/support/fake-host.ts): choosing, applying,
// verifying, rolling back, saved rules, the udev hook's boot pass and VFs born with a flavour.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { FakeHost } from "../../test/support/fake-host.ts";
import { tempDir } from "../../test/support/tmp.ts";
import { ModulesDir } from "../modules/modules-dir.ts";
import type { PciAddress } from "../pci/address.ts";
import { applyRules } from "./apply-rules.ts";
import { giveFlavour, giveGroup } from "./give.ts";
import { runHook } from "./hook.ts";
import { parseSelector, type Rule } from "./rules.ts";
import { createVfs } from "./vfs.ts";

const NIC = "0000:01:00.0" as PciAddress;
const NIC2 = "0000:02:00.0" as PciAddress;
const VIRTIO_NET = "0000:03:00.0" as PciAddress;

function modules(): ModulesDir {
  const dir = tempDir("give");
  writeFileSync(
    join(dir, "modules.alias"),
    [
      "alias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e",
      "alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci",
      "alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci",
      "alias vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i* virtio_vfio_pci",
      "",
    ].join("\n"),
  );
  writeFileSync(
    join(dir, "modules.dep"),
    "kernel/e1000e.ko:\nkernel/virtio_pci.ko:\nkernel/vfio-pci.ko:\nupdates/virtio-vfio-pci.ko:\n",
  );
  return new ModulesDir(dir, { configPaths: ["/dev/null"] });
}

function machine() {
  const host = new FakeHost();
  host.available.set("e1000e", [
    { name: "e1000e", module: "e1000e", matches: (d) => d.vendor === 0x8086 && d.device === 0x10d3 },
  ]);
  host.available.set("virtio_pci", [
    { name: "virtio-pci", module: "virtio_pci", matches: (d) => d.vendor === 0x1af4 },
  ]);
  host.available.set("vfio_pci", [
    { name: "vfio-pci", module: "vfio_pci", matches: () => false, vfio: true },
  ]);
  host.available.set("virtio_vfio_pci", [
    { name: "virtio_vfio_pci", module: "virtio_vfio_pci", matches: () => false, vfio: true },
  ]);
  host.loaded.add("e1000e").add("virtio_pci");
  host.addDevice({
    address: NIC,
    vendor: 0x8086,
    device: 0x10d3,
    classCode: 0x020000,
    driver: "e1000e",
    group: 1,
  });
  host.addDevice({
    address: VIRTIO_NET,
    vendor: 0x1af4,
    device: 0x1041,
    classCode: 0x020000,
    driver: "virtio-pci",
    group: 3,
  });
  return { host, modules: modules() };
}

test("set vfio: vfio-pci is loaded, its driver name read, the device rebound and verified", () => {
  const m = machine();
  const give = giveFlavour(m, NIC, { flavour: "vfio" });
  assert.equal(give.result?.outcome, "done");
  assert.equal(m.host.device(NIC).driver, "vfio-pci");
  assert.equal(m.host.device(NIC).driverOverride, "vfio-pci");
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

test("a probe that fails is rolled back: the device ends on its original driver", () => {
  const m = machine();
  const vfio = m.host.available.get("vfio_pci")?.[0];
  if (vfio) vfio.failsOn = new Set([NIC]);
  const give = giveFlavour(m, NIC, { flavour: "vfio" });
  assert.equal(give.result?.outcome, "rolled-back");
  assert.match(give.result?.error ?? "", /verification failed: bound to no driver, expected vfio-pci/);
  assert.deepEqual([m.host.device(NIC).driver, m.host.device(NIC).driverOverride], ["e1000e", null]);
});

test("a missing module changes nothing; a blacklisted one is reported as blacklisted", () => {
  const m = machine();
  m.host.available.delete("vfio_pci");
  const missing = giveFlavour(m, NIC, { flavour: "vfio" });
  assert.equal(missing.result?.outcome, "rolled-back");
  assert.match(missing.result?.error ?? "", /Module vfio_pci not found/);
  assert.deepEqual(m.host.writes, []);

  const b = machine();
  b.host.blacklisted.add("virtio_vfio_pci");
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
  const m = machine();
  // A boot: no host driver loaded yet, both NICs unbound; a rule names the second one.
  m.host.loaded.delete("e1000e");
  const nic = m.host.devices.get(NIC);
  if (nic) nic.driver = null;
  m.host.addDevice({
    address: NIC2,
    vendor: 0x8086,
    device: 0x10d3,
    classCode: 0x020000,
    driver: null,
    group: 2,
  });
  const runDir = tempDir("run");
  // udev handles NIC's add event first: the hook runs, then the kmod builtin loads e1000e.
  const run = runHook(m, [rule("second-nic", `address ${NIC2}`)], NIC, runDir);
  assert.equal(run.bootPass, true);
  m.host.modprobe("e1000e");
  assert.equal(m.host.device(NIC).driver, "e1000e");
  assert.equal(m.host.device(NIC2).driver, "vfio-pci");
  assert.deepEqual(
    m.host.binds.filter((b) => b.startsWith(NIC2)),
    [`${NIC2}:vfio-pci`],
    "the second NIC was never bound to e1000e",
  );
  // Later events handle only their own device.
  assert.equal(runHook(m, [rule("second-nic", `address ${NIC2}`)], NIC, runDir).bootPass, false);
});

test("vfs: VFs are created with autoprobe off and bind straight to their flavour", () => {
  const m = machine();
  const pf = NIC;
  const created = createVfs(m, pf, 2, undefined, [rule("vfs", `vfs-of ${pf}`)]);
  assert.equal(created.vfs.length, 2);
  for (const vf of created.vfs) {
    assert.equal(m.host.device(vf).driver, "vfio-pci");
    assert.deepEqual(
      m.host.binds.filter((b) => b.startsWith(vf)),
      [`${vf}:vfio-pci`],
    );
  }
  assert.equal(m.host.sriovAutoprobe(pf), true, "autoprobe is put back");
  createVfs(m, pf, 0, undefined, []);
  assert.deepEqual(m.host.virtfns(pf), []);
});

test("--group moves every member of the group, or none when one fails", () => {
  const m = machine();
  const SMBUS = "0000:00:1f.3" as PciAddress;
  m.host.available.set("i801_smbus", [
    { name: "i801_smbus", module: "i801_smbus", matches: (d) => d.device === 0x2930 },
  ]);
  m.host.loaded.add("i801_smbus");
  m.host.addDevice({
    address: SMBUS,
    vendor: 0x8086,
    device: 0x2930,
    classCode: 0x0c0500,
    driver: "i801_smbus",
    group: 1,
  });
  // Alone, the NIC's group would not be viable.
  assert.match(
    giveFlavour(m, NIC, { flavour: "vfio" }).refused.join(),
    /0000:00:1f\.3 is bound to host driver i801_smbus/,
  );
  const failing = m.host.available.get("vfio_pci")?.[0];
  // The NIC moves first, then the SMBus controller's probe fails: the NIC is put back too.
  if (failing) failing.failsOn = new Set([SMBUS]);
  const failed = giveGroup(m, SMBUS, { flavour: "vfio" });
  assert.equal(failed.failedAt, SMBUS);
  assert.ok(m.host.binds.includes(`${NIC}:vfio-pci`), "the NIC had moved");
  assert.equal(failed.restored, true);
  assert.deepEqual([m.host.device(SMBUS).driver, m.host.device(NIC).driver], ["i801_smbus", "e1000e"]);
  if (failing) failing.failsOn = new Set();
  const moved = giveGroup(m, SMBUS, { flavour: "vfio" });
  assert.equal(moved.failedAt, undefined);
  assert.deepEqual([m.host.device(SMBUS).driver, m.host.device(NIC).driver], ["vfio-pci", "vfio-pci"]);
});

// The read side (Host) of a simulated machine: what list/show will show for the demo server.
import assert from "node:assert/strict";
import { test } from "node:test";
import { bundledMachine } from "../../src/host/sim/bundled.ts";
import { SimMachine } from "../../src/host/sim/machine.ts";
import { readMachine } from "../../src/host/sim/machine-format.ts";
import { machineModules } from "../../src/host/sim/modules-tree.ts";
import { SimHost } from "../../src/host/sim/read-host.ts";
import type { PciAddress } from "../../src/pci/address.ts";

test("demo machine through Host: topology, SR-IOV, groups, drivers and modules", async () => {
  const spec = readMachine(await bundledMachine("demo"), "demo");
  const host = new SimHost(new SimMachine(spec, machineModules(spec)).boot());
  const gpu = host.device("0000:0a:00.0" as PciAddress);
  assert.deepEqual(gpu.parents, ["0000:00:08.0", "0000:08:00.0", "0000:09:08.0"]);
  assert.equal(gpu.driver, null, "nouveau is blacklisted");
  assert.deepEqual(host.groupMembers(90), ["0000:0a:00.0", "0000:0a:00.1"]);
  const pf = host.device("0000:01:00.0" as PciAddress);
  assert.deepEqual(pf.virtfns, ["0000:01:00.1", "0000:01:00.2"]);
  assert.deepEqual(pf.sriov, { totalVfs: 8, numVfs: 2, driversAutoprobe: true });
  assert.equal(host.device("0000:01:00.1" as PciAddress).physfn, "0000:01:00.0");
  assert.equal(
    host.device("0000:02:00.0" as PciAddress).modalias,
    "pci:v00001AF4d00001042sv000015B3sd00000051bc01sc00i00",
  );
  assert.equal(host.driverModule("virtio-pci"), "virtio_pci");
  assert.deepEqual(host.moduleDrivers("mlx5_core"), ["mlx5_core"]);
  assert.equal(host.moduleDrivers("mlx5_vfio_pci"), null, "not loaded");
  assert.ok(host.drivers().includes("pcieport"));
  assert.equal(
    host.device("0000:05:00.1" as PciAddress).driver,
    null,
    "no host driver for a QAT 4xxx VF in 6.12",
  );
});

test("demo boot: one seed, one trace; other seeds interleave udev's events differently and end the same", async () => {
  const spec = readMachine(await bundledMachine("demo"), "demo");
  const boot = (seed: number) => {
    const machine = new SimMachine(spec, machineModules(spec), seed).boot();
    const host = new SimHost(machine);
    return {
      trace: machine.kernel.trace.events.map((e) => `${e.t} ${e.source} ${e.text}`),
      bindings: host.devices().map((a) => host.device(a).driver),
    };
  };
  const [a, again, b] = [boot(1), boot(1), boot(2)];
  assert.deepEqual(again, a);
  assert.notDeepEqual(b.trace, a.trace);
  assert.deepEqual(b.bindings, a.bindings);
});

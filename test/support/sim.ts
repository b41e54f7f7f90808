// Small simulated machines for tests, written as machine JSON (the documented format).
import { SimControl } from "../../src/host/sim/control.ts";
import { SimMachine } from "../../src/host/sim/machine.ts";
import { readMachine } from "../../src/host/sim/machine-format.ts";
import { machineModules } from "../../src/host/sim/modules-tree.ts";

export const ROOT_PORT = {
  address: "0000:00:01.0",
  vendor: "8086",
  device: "347a",
  class: "060400",
  headerType: 1,
  iommuGroup: 1,
};

export const PCIEPORT = {
  name: "pcieport",
  builtin: true,
  drivers: [{ name: "pcieport", managedDma: true, ids: [{ class: "060400", classMask: "ffffff" }] }],
};

export const VFIO_PCI = [
  { name: "vfio_pci_core" },
  {
    name: "vfio_pci",
    depends: ["vfio_pci_core"],
    drivers: [{ name: "vfio-pci", vfio: true, denylist: true, ids: [{ overrideOnly: true }] }],
  },
];

export function simMachine(
  machine: { modules: unknown[]; devices: unknown[]; blacklist?: string[] },
  seed = 1,
) {
  const spec = readMachine({ format: "flavourctl-machine/1", name: "test", ...machine }, "test machine");
  const sim = new SimMachine(spec, machineModules(spec), seed).boot();
  return { sim, control: new SimControl(sim), kernel: sim.kernel, modules: sim.modules };
}

export function driverOf(sim: SimMachine, address: string): string | null {
  return sim.kernel.devices.get(address as never)?.driver?.name ?? null;
}

// The read side (Host, what list/show use) of a simulated machine.
import type { PciAddress } from "../../pci/address.ts";
import { formatModalias } from "../../pci/modalias.ts";
import type { DeviceInfo, Host } from "../host.ts";
import { AbsentDevice } from "../host.ts";
import type { SimMachine } from "./machine.ts";

export class SimHost implements Host {
  readonly description: string;

  private readonly machine: SimMachine;

  constructor(machine: SimMachine) {
    this.machine = machine;
    this.description = `simulated machine ${machine.spec.name}`;
  }

  devices(): PciAddress[] {
    return [...this.machine.kernel.devices.keys()].sort();
  }

  device(address: PciAddress): DeviceInfo {
    const kernel = this.machine.kernel;
    const d = kernel.devices.get(address);
    if (!d) throw new AbsentDevice(address, "the machine's devices");
    const parents: PciAddress[] = [];
    for (let p = d.parent; p !== null; p = kernel.devices.get(p)?.parent ?? null) parents.unshift(p);
    return {
      address,
      vendor: d.ids.vendor,
      device: d.ids.device,
      subsystemVendor: d.ids.subvendor,
      subsystemDevice: d.ids.subdevice,
      classCode: d.ids.classCode,
      revision: d.revision,
      modalias: formatModalias(d.ids),
      driver: d.driver?.name ?? null,
      driverOverride: d.driverOverride,
      iommuGroup: d.iommuGroup,
      headerType: d.headerType,
      numaNode: null,
      physfn: d.physfn,
      virtfns: d.sriov ? [...d.sriov.vfs] : [],
      sriov: d.sriov
        ? {
            totalVfs: d.sriov.spec.totalVfs,
            numVfs: d.sriov.numVfs,
            driversAutoprobe: d.sriov.driversAutoprobe,
          }
        : null,
      parents,
      vfioBound: d.vfioMinor !== null,
    };
  }

  groupMembers(group: number): PciAddress[] {
    return this.machine.kernel.groupMembers(group).map((d) => d.address);
  }

  drivers(): string[] {
    return [...this.machine.kernel.drivers.keys()].sort();
  }

  driverModule(driver: string): string | null {
    return this.machine.kernel.drivers.get(driver)?.module ?? null;
  }

  moduleDrivers(module: string): string[] | null {
    const m = this.machine.kernel.modules.get(module);
    return m?.loaded ? m.spec.drivers.map((d) => d.name) : null;
  }
}

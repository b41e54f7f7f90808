// The machine behind one interface. pciutils' lib/ is the model: one operations table
// (struct pci_methods) that each access method fills in its own file (sysfs.c, proc.c,
// dump.c). Here a live sysfs and a captured tree are one method (sysfs.ts, rooted at /sys or
// at a copy); the simulated kernel is another. This is the read side. The levers
// (driver_override, unbind, drivers_probe, bind, new_id, modprobe) are the write side: today
// HostControl in control.ts, meant to extend this interface.
import type { PciAddress } from "../pci/address.ts";

/** SR-IOV state of a PF (sriov_* attributes, drivers/pci/iov.c). */
export interface SriovInfo {
  totalVfs: number;
  numVfs: number;
  /** sriov_drivers_autoprobe: whether VFs created from now on are probed by drivers. */
  driversAutoprobe: boolean;
}

/** What one device shows in sysfs. A value that could not be read is null (and was reported). */
export interface DeviceInfo {
  address: PciAddress;
  vendor: number;
  device: number;
  subsystemVendor: number | null;
  subsystemDevice: number | null;
  /** 24 bits: base class << 16 | subclass << 8 | prog-if. */
  classCode: number;
  revision: number | null;
  /** The `modalias` attribute as the kernel wrote it (pci-sysfs.c modalias_show). */
  modalias: string | null;
  /** The bound driver's name: the last component of the `driver` link. */
  driver: string | null;
  /** driver_override; null when it reads `(null)` (none set). */
  driverOverride: string | null;
  iommuGroup: number | null;
  /** Config byte 0x0e without the multi-function bit: 0 normal, 1 bridge, 2 CardBus. */
  headerType: number | null;
  /** numa_node; null when the kernel reports -1 (no affinity) or has no such attribute. */
  numaNode: number | null;
  /** The PF of a VF (the `physfn` link). */
  physfn: PciAddress | null;
  /** The VFs of a PF (virtfnN links), in N order. */
  virtfns: PciAddress[];
  sriov: SriovInfo | null;
  /** The PCI devices above this one in the device tree (its bridges), root first. */
  parents: PciAddress[];
  /** `vfio-dev/` exists: a vfio driver (vfio-pci or a variant) holds the device. */
  vfioBound: boolean;
}

/** The device's identity (vendor, device, class) cannot be read, so nothing else means much. */
export class UnreadableDevice extends Error {
  readonly address: PciAddress;
  constructor(address: PciAddress, why: string) {
    super(`${address}: ${why}`);
    this.name = "UnreadableDevice";
    this.address = address;
  }
}

/**
 * The device is not in bus/pci/devices: an address the user typed wrong, a group member a
 * capture left out, or a VF removed while the listing ran. A listing leaves it out like any
 * unreadable device; `show` of that address is a usage error.
 */
export class AbsentDevice extends UnreadableDevice {
  readonly devicesDir: string;
  constructor(address: PciAddress, devicesDir: string) {
    super(address, `not in ${devicesDir}`);
    this.name = "AbsentDevice";
    this.devicesDir = devicesDir;
  }
}

export interface Host {
  /** Where the machine is, for messages: "/sys", a captured tree's path, … */
  readonly description: string;
  /** Every PCI device, in bus order. Entries that are not devices are reported and left out. */
  devices(): PciAddress[];
  /** One device. Throws UnreadableDevice when its identity cannot be read. */
  device(address: PciAddress): DeviceInfo;
  /** The members of IOMMU group `group`, in bus order. */
  groupMembers(group: number): PciAddress[];
  /** The registered PCI drivers (/sys/bus/pci/drivers), sorted. */
  drivers(): string[];
  /** The module that registered a driver; null when the host does not say (some built-ins). */
  driverModule(driver: string): string | null;
  /** The PCI drivers a module registered (/sys/module/<m>/drivers/pci:<d>); null when it is not loaded. */
  moduleDrivers(module: string): string[] | null;
}

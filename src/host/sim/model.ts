// The objects of the simulated PCI core: devices on the bus, drivers on the bus's driver list,
// modules that register them. Plain data; kernel.ts gives them their rules.
import type { PciAddress } from "../../pci/address.ts";
import type { MatchableDriver, PciDeviceId } from "../../pci/id-entry.ts";
import type { PciIds } from "../../pci/ids.ts";
import type { DriverSpec, ModuleSpec, SriovSpec } from "./machine-format.ts";

export interface SimDevice {
  address: PciAddress;
  ids: PciIds;
  /** modalias_show's string (the ids never change, so it is made once). */
  modalias: string;
  revision: number;
  headerType: number;
  parent: PciAddress | null;
  iommuGroup: number | null;
  name: string | null;
  /** Position on the bus's device list (klist order: the order devices were added). */
  order: number;
  driver: SimDriver | null;
  driverOverride: string | null;
  /** The proposed driver_flavour attribute (README "driver_flavour"); null when unset. */
  flavour: string | null;
  physfn: PciAddress | null;
  sriov: { spec: SriovSpec; numVfs: number; driversAutoprobe: boolean; vfs: PciAddress[] } | null;
  /** N of vfio-dev/vfioN while a vfio driver holds the device. */
  vfioMinor: number | null;
}

export interface SimDriver extends MatchableDriver {
  module: string;
  spec: DriverSpec;
  /** Position on the bus's driver list (registration order). */
  order: number;
  dynamicIds: PciDeviceId[];
}

export interface SimModule {
  spec: ModuleSpec;
  loaded: boolean;
}

export function hex4(n: number): string {
  return n.toString(16).toUpperCase().padStart(4, "0");
}

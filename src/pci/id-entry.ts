// `struct pci_device_id` and the kernel's matching rules (drivers/pci/pci-driver.c).
import { PCI_ANY_ID, type PciIds } from "./ids.ts";

export interface PciDeviceId {
  vendor: number;
  device: number;
  subvendor: number;
  subdevice: number;
  /** 24-bit class the entry wants, compared under classMask. */
  classCode: number;
  classMask: number;
  driverData: number;
  /** Set by PCI_DRIVER_OVERRIDE_DEVICE_VFIO & co: counts only when driver_override names the driver. */
  overrideOnly: boolean;
}

/** An id entry with the defaults of a C designated initialiser (everything zero). */
export function idEntry(fields: Partial<PciDeviceId>): PciDeviceId {
  return {
    vendor: 0,
    device: 0,
    subvendor: 0,
    subdevice: 0,
    classCode: 0,
    classMask: 0,
    driverData: 0,
    overrideOnly: false,
    ...fields,
  };
}

/** pci_match_one_device: each id field equal or PCI_ANY_ID, and the class equal under the mask. */
export function matchOneDevice(id: PciDeviceId, dev: PciIds): boolean {
  return (
    (id.vendor === PCI_ANY_ID || id.vendor === dev.vendor) &&
    (id.device === PCI_ANY_ID || id.device === dev.device) &&
    (id.subvendor === PCI_ANY_ID || id.subvendor === dev.subvendor) &&
    (id.subdevice === PCI_ANY_ID || id.subdevice === dev.subdevice) &&
    ((id.classCode ^ dev.classCode) & id.classMask) === 0
  );
}

/** A driver as the PCI core sees it when matching: its name and its two id tables. */
export interface MatchableDriver {
  /** The driver name (`pci_driver.name`), which driver_override is compared with. */
  name: string;
  /** Static id table, without the all-zero terminator. */
  idTable: readonly PciDeviceId[];
  /** Ids added through new_id, in the order they were added. */
  dynamicIds: readonly PciDeviceId[];
}

export type MatchResult =
  | { matched: false; reason: string }
  | { matched: true; via: "dynamic-id" | "static-id" | "override-any"; id: PciDeviceId | undefined };

/**
 * pci_match_device: driver_override set to another driver → no match; dynamic ids first;
 * static entries in table order, override_only ones only while driver_override is set (the
 * caller already knows it names this driver); and when driver_override names this driver but
 * nothing matched, it still matches with the "any" id.
 */
export function matchDevice(
  driver: MatchableDriver,
  dev: PciIds,
  driverOverride: string | null,
): MatchResult {
  if (driverOverride !== null && driverOverride !== driver.name) {
    return { matched: false, reason: `driver_override is '${driverOverride}', not '${driver.name}'` };
  }
  const dynamic = driver.dynamicIds.find((id) => matchOneDevice(id, dev));
  if (dynamic) return { matched: true, via: "dynamic-id", id: dynamic };
  for (const id of driver.idTable) {
    if (!matchOneDevice(id, dev)) continue;
    if (!id.overrideOnly || driverOverride !== null) return { matched: true, via: "static-id", id };
  }
  if (driverOverride !== null) return { matched: true, via: "override-any", id: undefined };
  return { matched: false, reason: `no entry of ${driver.name}'s id tables matches` };
}

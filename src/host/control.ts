// The levers flavourctl pulls on a machine, and what it reads to decide and to verify: the
// write side of the host layer. One implementation drives a sysfs root with the system's
// modprobe (sysfs-control.ts); the simulated kernel implements the same interface.
import type { PciAddress } from "../pci/address.ts";
import type { PciIds } from "../pci/ids.ts";

/** What the policy needs to know about one device, read fresh before planning. */
export interface DeviceState {
  address: PciAddress;
  ids: PciIds;
  modalias: string;
  /** The bound driver's name (the `driver` link), or null. */
  driver: string | null;
  /** driver_override, null when it reads `(null)`. */
  driverOverride: string | null;
  iommuGroup: number | null;
  /** PCI header type without the multi-function bit: 0 normal, 1 bridge, 2 CardBus. */
  headerType: number | null;
  sriovNumVfs: number;
  /** The PF of a VF (the `physfn` link), else null. */
  physfn: PciAddress | null;
  /** `vfio-dev/vfioN` exists: a vfio driver holds the device. */
  vfioDevice: boolean;
}

/**
 * The driver_override flavourctl writes to hold an unbound device while modules load: a name
 * no driver has (no pci_driver of Linux 6.12 has parentheses in its name; some have spaces),
 * so pci_match_device matches nothing and the device stays unbound until the real override.
 * It reads like the `(null)` of an unset override; a device left with it was held by a
 * flavourctl run that was killed (`flavourctl apply` or `unset` replaces it).
 */
export const HOLD_OVERRIDE = "(flavourctl-hold)";

export interface GroupMember {
  address: PciAddress;
  driver: string | null;
  headerType: number | null;
}

export type ModprobeOutcome = { ok: true } | { ok: false; message: string };

export interface HostControl {
  /** Where this host is, for messages: "/sys", "demo machine", … */
  readonly description: string;
  /** Every PCI device, in bus order. */
  addresses(): PciAddress[];
  device(address: PciAddress): DeviceState;
  groupMembers(group: number): GroupMember[];
  /** Why the host needs this device (mounted filesystems, addresses, routes, boot display). */
  hostUses(address: PciAddress): string[];
  /** `modprobe MODULE` honouring modprobe.d (blacklist included). */
  modprobe(module: string): ModprobeOutcome;
  /** /sys/module/<module> exists. */
  moduleLoaded(module: string): boolean;
  /** The PCI drivers a loaded module registered: /sys/module/<module>/drivers/pci:<driver>. */
  moduleDrivers(module: string): string[];
  /** The module behind a registered driver (/sys/bus/pci/drivers/<driver>/module), if any. */
  driverModule(driver: string): string | null;
  driverRegistered(driver: string): boolean;
  /**
   * The files a plan for this device writes (driver_override, drivers_probe, the bind and
   * unbind of `drivers`) that lead out of the host's tree: a captured tree's planted links.
   */
  escapingWrites(address: PciAddress, drivers: readonly string[]): string[];
  /** Writes driver_override; null clears it (a newline: an empty write is a no-op in the kernel). */
  writeOverride(address: PciAddress, driver: string | null): void;
  unbind(address: PciAddress, driver: string): void;
  bind(address: PciAddress, driver: string): void;
  /** /sys/bus/pci/drivers_probe: attaches an unbound device; reports success even when nothing bound. */
  probe(address: PciAddress): void;
  /** /dev/vfio/<group> exists. */
  vfioGroupNode(group: number): boolean;
  /**
   * The vfio nodes of this device some process holds open (a VM is using it): its group's
   * /dev/vfio/<group>, its cdev /dev/vfio/devices/vfioN.
   */
  vfioOpenNodes(address: PciAddress): string[];
  /** The VFs of a PF (virtfnN links), in N order. */
  virtfns(pf: PciAddress): PciAddress[];
  /** sriov_totalvfs of a PF: how many VFs it can have; null when it is not SR-IOV capable. */
  sriovTotalVfs(pf: PciAddress): number | null;
  /** sriov_drivers_autoprobe of a PF. */
  sriovAutoprobe(pf: PciAddress): boolean;
  setSriovAutoprobe(pf: PciAddress, on: boolean): void;
  /** Writes sriov_numvfs (0 removes the VFs). */
  setNumVfs(pf: PciAddress, count: number): void;
  /** Waits a little (binding can be asynchronous). */
  pause(ms: number): void;
  /** Takes the per-host lock, waiting up to timeoutMs; returns the release function. */
  lock(timeoutMs: number): () => void;
}

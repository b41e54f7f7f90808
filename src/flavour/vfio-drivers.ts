// Facts about drivers the policy relies on, each from the kernel source it cites.
import type { PciIds } from "../pci/ids.ts";

/**
 * The PCI drivers besides vfio's that leave an IOMMU group viable for vfio: those that manage
 * their own DMA (`driver_managed_dma`, Linux 6.12: pci-stub.c, pcie/portdrv.c). Since 5.19 a
 * group is viable when no bound driver holds its default DMA domain (pci_dma_configure,
 * drivers/pci/pci-driver.c, calls iommu_device_use_default_domain for every other driver, and
 * vfio's iommu_group_claim_dma_owner then fails): a bridge bound to shpchp or yenta_socket
 * blocks its group too. (Kernels before 5.19 exempted every bridge: the check is stricter
 * there, never looser.)
 */
const HARMLESS_IN_GROUP = new Set(["pci-stub", "pcieport"]);

/** A driver that hands the device to userspace through vfio: vfio-pci or one of its variants. */
export function isVfioDriver(driver: string): boolean {
  // driver names (vfio-pci, virtio-vfio-pci, mlx5_vfio_pci) and module names (vfio_pci, …) alike
  const name = driver.replaceAll("-", "_");
  return name === "vfio_pci" || name.endsWith("_vfio_pci");
}

/** Why a group member with this driver keeps the group from being viable, or undefined. */
export function groupBlocker(member: { driver: string | null }): string | undefined {
  if (member.driver === null) return undefined;
  if (isVfioDriver(member.driver) || HARMLESS_IN_GROUP.has(member.driver)) return undefined;
  return `bound to host driver ${member.driver}`;
}

/**
 * vfio_pci_dev_in_denylist (drivers/vfio/pci/vfio_pci.c): Intel QAT C3XXX, C62X, DH895XCC and
 * their VFs, DSA and IAX SPR0. vfio-pci refuses them unless loaded with disable_denylist=1.
 */
const DENYLIST = new Set([0x19e2, 0x19e3, 0x37c8, 0x37c9, 0x0435, 0x0443, 0x0b25, 0x0cfe]);

export function inVfioPciDenylist(ids: PciIds): boolean {
  return ids.vendor === 0x8086 && DENYLIST.has(ids.device);
}

/** Drivers meant to take any device through driver_override or new_id (they have no id table). */
export const GENERIC_DRIVERS = new Map([
  ["pci-stub", "pci_stub"],
  ["vfio-pci", "vfio_pci"],
]);

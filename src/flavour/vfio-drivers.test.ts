// The vfio facts the policy relies on: which names are vfio drivers, and which bound drivers
// keep an IOMMU group from being viable (Linux 6.12: driver_managed_dma, pci_dma_configure).
import assert from "node:assert/strict";
import { test } from "node:test";
import { groupBlocker, isVfioDriver } from "./vfio-drivers.ts";

test("vfio drivers by driver or module name; nothing else", () => {
  for (const name of [
    "vfio-pci",
    "vfio_pci",
    "mlx5_vfio_pci",
    "virtio-vfio-pci",
    "virtio_vfio_pci",
    "hisi-acc-vfio-pci",
  ])
    assert.equal(isVfioDriver(name), true, name);
  for (const name of ["pci-stub", "virtio-pci", "vfio", "vfio_pci_core", "xvfio_pci"])
    assert.equal(isVfioDriver(name), false, name);
});

test("group viability: only vfio drivers, pci-stub and pcieport (driver_managed_dma) leave a group usable", () => {
  for (const driver of [null, "vfio-pci", "mlx5_vfio_pci", "pci-stub", "pcieport"])
    assert.equal(groupBlocker({ driver }), undefined, String(driver));
  // shpchp and yenta_socket bind bridges but do not manage their DMA: the group is not viable
  for (const driver of ["shpchp", "yenta_socket", "snd_hda_intel", "e1000e"])
    assert.equal(groupBlocker({ driver }), `bound to host driver ${driver}`, driver);
});

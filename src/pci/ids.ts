// The identity a PCI device presents to drivers: what `pci_match_one_device` and the
// modalias are made of (include/linux/mod_devicetable.h, drivers/pci/pci-sysfs.c).

export interface PciIds {
  vendor: number;
  device: number;
  subvendor: number;
  subdevice: number;
  /** 24 bits: base class << 16 | subclass << 8 | prog-if. */
  classCode: number;
}

/** PCI_ANY_ID: the value an id entry uses for "any" in vendor/device/subvendor/subdevice. */
export const PCI_ANY_ID = 0xffffffff;

export function hex(value: number, width: number): string {
  return value.toString(16).padStart(width, "0");
}

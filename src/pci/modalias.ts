// Modalias strings, as drivers/pci/pci-sysfs.c (modalias_show) and pci_uevent write them:
// `pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X`. The flavoured form swaps the prefix for
// `vfio_pci:`, the prefix file2alias gives override_only entries.
import type { PciIds } from "./ids.ts";

export type ModaliasPrefix = "pci" | "vfio_pci";

const upper = (value: number, width: number) => value.toString(16).toUpperCase().padStart(width, "0");

export function formatModalias(ids: PciIds, prefix: ModaliasPrefix = "pci"): string {
  const c = ids.classCode;
  return (
    `${prefix}:v${upper(ids.vendor, 8)}d${upper(ids.device, 8)}` +
    `sv${upper(ids.subvendor, 8)}sd${upper(ids.subdevice, 8)}` +
    `bc${upper((c >> 16) & 0xff, 2)}sc${upper((c >> 8) & 0xff, 2)}i${upper(c & 0xff, 2)}`
  );
}

const MODALIAS =
  /^(pci|vfio_pci):v([0-9A-F]{8})d([0-9A-F]{8})sv([0-9A-F]{8})sd([0-9A-F]{8})bc([0-9A-F]{2})sc([0-9A-F]{2})i([0-9A-F]{2})$/;

/** Whether TEXT is a pci/vfio_pci modalias of the kernel's exact form. */
export function isModalias(text: string): boolean {
  return MODALIAS.test(text);
}

/** Parses a canonical pci/vfio_pci modalias; undefined for anything else. */
export function parseModalias(text: string): { prefix: ModaliasPrefix; ids: PciIds } | undefined {
  const m = MODALIAS.exec(text);
  if (!m) return undefined;
  const n = (i: number) => Number.parseInt(m[i] as string, 16);
  return {
    prefix: m[1] as ModaliasPrefix,
    ids: {
      vendor: n(2),
      device: n(3),
      subvendor: n(4),
      subdevice: n(5),
      classCode: (n(6) << 16) | (n(7) << 8) | n(8),
    },
  };
}

/** The vfio flavour of a device's modalias (the kernel's rule from commit cc6711b0bf36). */
export function flavouredModalias(modalias: string): string {
  return modalias.startsWith("pci:") ? `vfio_${modalias}` : modalias;
}

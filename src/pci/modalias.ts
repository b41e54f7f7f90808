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
  return readModaliasFields(text, scratchFields);
}

const scratchFields = [0, 0, 0, 0, 0, 0, 0];

/** The field markers after the bus's `:`, in order, and each field's width in hex digits. */
const MARKERS = ["v", "d", "sv", "sd", "bc", "sc", "i"];
const WIDTHS = [8, 8, 8, 8, 2, 2, 2];
/** Length of a canonical modalias after its bus's `:`. */
const FIELDS_LENGTH = MARKERS.join("").length + WIDTHS.reduce((a, b) => a + b, 0);

/**
 * Whether TEXT is a pci/vfio_pci modalias of the kernel's exact form, reading its seven fields
 * (v, d, sv, sd, bc, sc, i) into INTO when it is: one pass over the characters, for the
 * lookups of a batch (resolve of 200,000 names), where a regular expression per name and a
 * second pass for the numbers cost more than the lookup itself.
 */
export function readModaliasFields(text: string, into: number[]): boolean {
  const colon = text.charCodeAt(3) === 0x3a ? 3 : text.charCodeAt(8) === 0x3a ? 8 : -1;
  if (colon < 0 || text.length !== colon + 1 + FIELDS_LENGTH) return false;
  if (colon === 3 ? !text.startsWith("pci") : !text.startsWith("vfio_pci")) return false;
  let at = colon + 1;
  for (let f = 0; f < 7; f++) {
    const marker = MARKERS[f] as string;
    if (!text.startsWith(marker, at)) return false;
    at += marker.length;
    let value = 0;
    for (const end = at + (WIDTHS[f] as number); at < end; at++) {
      const c = text.charCodeAt(at);
      // upper-case hex only: the kernel prints %X
      if (c >= 0x30 && c <= 0x39) value = value * 16 + (c - 0x30);
      else if (c >= 0x41 && c <= 0x46) value = value * 16 + (c - 0x37);
      else return false;
    }
    into[f] = value;
  }
  return true;
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

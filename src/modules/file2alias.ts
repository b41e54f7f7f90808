// The alias modpost writes for a PCI id entry (scripts/mod/file2alias.c, do_pci_entry).

import type { PciDeviceId } from "../pci/id-entry.ts";
import { hex, PCI_ANY_ID } from "../pci/ids.ts";

export type PciAliasResult =
  | { pattern: string }
  /** modpost drops the entry with a warning ("Can't handle masks", "Unknown PCI driver_override alias"). */
  | { pattern: undefined; warning: string };

const field = (value: number, width: number, exact: boolean) =>
  exact ? hex(value, width).toUpperCase() : "*";

/**
 * `pci:` (or `vfio_pci:` for override_only entries), then v, d, sv, sd as %08X or `*` for
 * PCI_ANY_ID, then bc, sc, i as %02X when their mask byte is 0xFF and `*` when it is 0; any
 * other mask byte drops the entry. A `*` is appended unless the alias already ends in one.
 * `overrideOnly` is the struct's u32 as stored: 0 is `pci:`, PCI_ID_F_VFIO_DRIVER_OVERRIDE (1)
 * `vfio_pci:`, and do_pci_entry drops any other value with a warning.
 */
export function pciEntryAlias(id: PciDeviceId, overrideOnly = id.overrideOnly ? 1 : 0): PciAliasResult {
  if (overrideOnly !== 0 && overrideOnly !== 1) {
    return {
      pattern: undefined,
      warning: `unknown driver_override value ${overrideOnly} in .override_only (modpost drops this entry)`,
    };
  }
  const masks = [(id.classMask >> 16) & 0xff, (id.classMask >> 8) & 0xff, id.classMask & 0xff];
  if (masks.some((mask) => mask !== 0 && mask !== 0xff)) {
    return {
      pattern: undefined,
      warning: `can't handle class mask ${hex(id.classMask, 6)} (modpost drops this entry)`,
    };
  }
  const [bcMask, scMask, iMask] = masks as [number, number, number];
  const c = id.classCode;
  let alias =
    `${overrideOnly === 1 ? "vfio_pci" : "pci"}:` +
    `v${field(id.vendor, 8, id.vendor !== PCI_ANY_ID)}` +
    `d${field(id.device, 8, id.device !== PCI_ANY_ID)}` +
    `sv${field(id.subvendor, 8, id.subvendor !== PCI_ANY_ID)}` +
    `sd${field(id.subdevice, 8, id.subdevice !== PCI_ANY_ID)}` +
    `bc${field((c >> 16) & 0xff, 2, bcMask === 0xff)}` +
    `sc${field((c >> 8) & 0xff, 2, scMask === 0xff)}` +
    `i${field(c & 0xff, 2, iMask === 0xff)}`;
  if (!alias.endsWith("*")) alias += "*";
  return { pattern: alias };
}

// Canonical PCI patterns filed by vendor and device, for batches of canonical PCI modaliases.
//
// file2alias writes every pci: and vfio_pci: pattern field by field (do_pci_entry,
// scripts/mod/file2alias.c): each of v, d, sv, sd, bc, sc, i is either its full width of
// upper-case hex digits or `*`. Such a pattern matches a canonical modalias exactly when every
// field that is not `*` is equal (AliasIndex's field comparison). Nearly every pattern names
// its vendor and device, so filing them under those two numbers leaves a handful of candidates
// per modalias, where the trie walk of literal prefixes visits a node per matching character.

/** What the index files: a pattern's fields as numbers, -1 for `*` (v, d, sv, sd, bc, sc, i). */
export interface PciFields {
  pciValues: number[] | undefined;
}

export class PciFieldIndex<T extends PciFields> {
  /** vendor → device → patterns naming both. */
  private readonly byVendorDevice = new Map<number, Map<number, T[]>>();
  /** vendor → patterns with a vendor and `*` for the device. */
  private readonly byVendor = new Map<number, T[]>();
  /** Patterns with `*` for the vendor. */
  private readonly anyVendor: T[] = [];

  /** Files ENTRY (one with pciValues), keeping the order entries are added in. */
  add(entry: T): void {
    const [vendor, device] = entry.pciValues as number[];
    if (vendor === undefined || device === undefined || vendor < 0) {
      this.anyVendor.push(entry);
      return;
    }
    if (device < 0) {
      const list = this.byVendor.get(vendor);
      if (list) list.push(entry);
      else this.byVendor.set(vendor, [entry]);
      return;
    }
    let devices = this.byVendorDevice.get(vendor);
    if (!devices) {
      devices = new Map();
      this.byVendorDevice.set(vendor, devices);
    }
    const list = devices.get(device);
    if (list) list.push(entry);
    else devices.set(device, [entry]);
  }

  /** Calls VISIT with each filed pattern whose every field matches MODALIAS's (read by readPciValues). */
  forEachMatch(modalias: readonly number[], visit: (entry: T) => void): void {
    const vendor = modalias[0] as number;
    const exact = this.byVendorDevice.get(vendor)?.get(modalias[1] as number);
    if (exact) visitMatching(exact, modalias, visit);
    const vendorOnly = this.byVendor.get(vendor);
    if (vendorOnly) visitMatching(vendorOnly, modalias, visit);
    if (this.anyVendor.length > 0) visitMatching(this.anyVendor, modalias, visit);
  }
}

function visitMatching<T extends PciFields>(
  entries: readonly T[],
  modalias: readonly number[],
  visit: (entry: T) => void,
): void {
  for (let e = 0; e < entries.length; e++) {
    const entry = entries[e] as T;
    if (fieldsMatch(entry.pciValues as number[], modalias)) visit(entry);
  }
}

/** Whether a canonical PCI pattern's fields (-1: `*`) match a modalias's. */
export function fieldsMatch(pattern: readonly number[], modalias: readonly number[]): boolean {
  for (let f = 0; f < 7; f++) {
    const value = pattern[f] as number;
    if (value >= 0 && value !== modalias[f]) return false;
  }
  return true;
}

// The patterns of a pci: or vfio_pci: group filed by the vendor and device their literal
// prefix fixes, for batches of canonical PCI modaliases.
//
// A pattern can match a string only if the string starts with the pattern's literal prefix
// (the part before its first wildcard: AliasIndex). In a canonical modalias the vendor and
// device are the 8 hex digits after `v` and after `d`, at fixed places, so a prefix that holds
// them all can match only modaliases of that vendor and device; one that holds the vendor only
// those of that vendor. file2alias writes nearly every pattern with both (do_pci_entry,
// scripts/mod/file2alias.c), so a modalias meets the few patterns filed under its own ids, its
// vendor's with no device, and those with no vendor: a handful, where the trie walk of literal
// prefixes visits a node per character. Filing reads only the prefixes (no line is parsed);
// whether a candidate matches is for the caller to decide.

/** A pattern filed: its line's reference and its literal prefix. */
export interface PrefixedRef {
  ref: number;
  prefix: string;
}

export class PciPrefixIndex<T extends PrefixedRef> {
  /** vendor → device → patterns whose prefix fixes both. */
  private readonly byVendorDevice = new Map<number, Map<number, T[]>>();
  /** vendor → patterns whose prefix fixes the vendor only. */
  private readonly byVendor = new Map<number, T[]>();
  /** Patterns whose prefix does not fix the vendor. */
  private readonly others: T[] = [];

  /** Files ITEM, whose prefix starts with its bus and `:`; items keep the order they come in. */
  add(item: T): void {
    const prefix = item.prefix;
    const fields = prefix.indexOf(":") + 1;
    const vendor = fields > 0 && prefix.charCodeAt(fields) === V ? hexAt(prefix, fields + 1, 8) : undefined;
    const device =
      vendor !== undefined && prefix.charCodeAt(fields + 9) === D ? hexAt(prefix, fields + 10, 8) : undefined;
    if (vendor === undefined) this.others.push(item);
    else if (device === undefined) push(this.byVendor, vendor, item);
    else {
      let devices = this.byVendorDevice.get(vendor);
      if (!devices) {
        devices = new Map();
        this.byVendorDevice.set(vendor, devices);
      }
      push(devices, device, item);
    }
  }

  /**
   * Calls VISIT with every filed pattern that a modalias of VENDOR and DEVICE may match (every
   * one it can match is among them): those of its ids, of its vendor alone, and the others.
   */
  forEachCandidate(vendor: number, device: number, visit: (item: T) => void): void {
    // as 32-bit integers, the keys' form
    const vendorKey = vendor | 0;
    const exact = this.byVendorDevice.get(vendorKey)?.get(device | 0);
    if (exact) for (let i = 0; i < exact.length; i++) visit(exact[i] as T);
    const vendorOnly = this.byVendor.get(vendorKey);
    if (vendorOnly) for (let i = 0; i < vendorOnly.length; i++) visit(vendorOnly[i] as T);
    const others = this.others;
    for (let i = 0; i < others.length; i++) visit(others[i] as T);
  }
}

const V = 0x76;
const D = 0x64;

function push<T>(map: Map<number, T[]>, key: number, item: T): void {
  const list = map.get(key);
  if (list) list.push(item);
  else map.set(key, [item]);
}

/**
 * The number written as COUNT upper-case hex digits at AT (the kernel prints %X), as a 32-bit
 * integer (the map keys: a small integer, where a number over 2^31 would be a boxed double at
 * every lookup); undefined if they are not such digits.
 */
export function hexAt(text: string, at: number, count: number): number | undefined {
  if (text.length < at + count) return undefined;
  let value = 0;
  for (let i = at; i < at + count; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) value = (value << 4) | (c - 0x30);
    else if (c >= 0x41 && c <= 0x46) value = (value << 4) | (c - 0x37);
    else return undefined;
  }
  return value;
}

/** Whether a canonical PCI pattern's fields (-1: `*`) match a modalias's. */
export function fieldsMatch(pattern: readonly number[], modalias: readonly number[]): boolean {
  for (let f = 0; f < 7; f++) {
    const value = pattern[f] as number;
    if (value >= 0 && value !== modalias[f]) return false;
  }
  return true;
}

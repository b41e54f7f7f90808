// One lookup stage's PCI patterns for a batch (pci-batch.ts), as typed arrays only: built once
// per modules.alias and kept in the cache directory (pci-table-cache.ts), where reading it back
// is a handful of views on one buffer — no map to refill, no object per pattern. V8 runs a
// first pass over 9,566 lines in its interpreter: making the tables takes 60–80 ms, more than
// answering 200,000 names.
//
// Lines are numbered in the order lookup() prints them; a name's candidates are the lines filed
// under its vendor and device, under its vendor alone, and under neither (by the name's base
// class: those with that class or `*` there), each list in line order.

/** The seven fields of a PCI modalias, in order: v, d, sv, sd, bc, sc, i. */
export const FIELD_COUNT = 7;
/** The base class's field (bc). */
export const BASE_CLASS = 4;
/** PciTable.literal's mark of a line compared field by field (else: as text, PciLines.textMatch). */
export const FIELDS = 0x80;

/** A stage's lines before filing, in answer order (pci-batch.ts makes them). */
export interface PciLines {
  /** Per line: FIELDS and which fields are literal (bit f); 0 for a line compared as text. */
  masks: number[];
  /** Per line FIELD_COUNT values (32-bit integers) where its mask says. */
  values: number[];
  /** Per line: its module's name (latin1). */
  modules: string[];
  /** Per line: the vendor, and the device, its literal prefix fixes (undefined: none). */
  vendors: (number | undefined)[];
  devices: (number | undefined)[];
}

export interface PciTable {
  /** Per line: PciLines.masks. */
  literal: Uint8Array;
  values: Int32Array;
  /** Per line: its module's bytes, [moduleStart, moduleEnd) of moduleBytes. */
  moduleStart: Int32Array;
  moduleEnd: Int32Array;
  moduleBytes: Uint8Array;
  /** Per line: its module's name length, unescaped (libkmod's key limit: pci-batch.ts). */
  moduleLength: Int32Array;
  /**
   * Open-addressing hash of (vendor, device) pairs: slot s holds the key at pairKeys[2s, 2s+1]
   * and its list at lists[pairLists[2s], pairLists[2s+1]); an empty slot's list ends at 0.
   */
  pairKeys: Int32Array;
  pairLists: Int32Array;
  /** The same for vendors alone. */
  vendorKeys: Int32Array;
  vendorLists: Int32Array;
  /** Lines filed under no vendor for base class c: lists[classLists[c], classLists[c + 1]). */
  classLists: Int32Array;
  lists: Int32Array;
}

/** The members of a table, in the order a cache file holds them. */
export const TABLE_PARTS = [
  ["literal", Uint8Array],
  ["values", Int32Array],
  ["moduleStart", Int32Array],
  ["moduleEnd", Int32Array],
  ["moduleBytes", Uint8Array],
  ["moduleLength", Int32Array],
  ["pairKeys", Int32Array],
  ["pairLists", Int32Array],
  ["vendorKeys", Int32Array],
  ["vendorLists", Int32Array],
  ["classLists", Int32Array],
  ["lists", Int32Array],
] as const;

/** The slot of (VENDOR, DEVICE) in a pair hash, or -1. */
export function findPair(keys: Int32Array, lists: Int32Array, vendor: number, device: number): number {
  const mask = (lists.length >> 1) - 1;
  for (let slot = hash(vendor, device) & mask; ; slot = (slot + 1) & mask) {
    if (lists[2 * slot + 1] === 0) return -1;
    if (keys[2 * slot] === vendor && keys[2 * slot + 1] === device) return slot;
  }
}

/** The slot of VENDOR in a vendor hash, or -1. */
export function findVendor(keys: Int32Array, lists: Int32Array, vendor: number): number {
  const mask = (lists.length >> 1) - 1;
  for (let slot = hash(vendor, 0) & mask; ; slot = (slot + 1) & mask) {
    if (lists[2 * slot + 1] === 0) return -1;
    if (keys[slot] === vendor) return slot;
  }
}

function hash(vendor: number, device: number): number {
  const h = Math.imul(vendor ^ Math.imul(device, 0x9e3779b1), 0x85ebca6b);
  return h ^ (h >>> 16);
}

/**
 * LINES filed; their modules' bytes are ESCAPEMODULE of their names (what would steer a terminal,
 * escaped by the caller's rules), none when every name is plain.
 */
export function buildPciTable(lines: PciLines, escapeModule?: (name: string) => string): PciTable {
  const count = lines.masks.length;
  const moduleStart = new Int32Array(count);
  const moduleEnd = new Int32Array(count);
  const moduleLength = new Int32Array(count);
  // each module's bytes once: thousands of lines share a few hundred modules
  const placed = new Map<string, number>();
  const moduleEnds = new Map<string, number>();
  let bytes = "";
  const pairs = new Map<string, { vendor: number; device: number; lines: number[] }>();
  const vendors = new Map<number, number[]>();
  const anyVendor: number[] = [];
  for (let n = 0; n < count; n++) {
    const module = lines.modules[n] as string;
    let start = placed.get(module);
    if (start === undefined) {
      start = bytes.length;
      placed.set(module, start);
      bytes += escapeModule ? escapeModule(module) : module;
      moduleEnds.set(module, bytes.length);
    }
    moduleStart[n] = start;
    moduleEnd[n] = moduleEnds.get(module) as number;
    moduleLength[n] = module.length;
    const vendor = lines.vendors[n];
    const device = lines.devices[n];
    if (vendor === undefined) anyVendor.push(n);
    else if (device === undefined) push(vendors, vendor, n);
    else {
      const key = `${vendor} ${device}`;
      const pair = pairs.get(key);
      if (pair) pair.lines.push(n);
      else pairs.set(key, { vendor, device, lines: [n] });
    }
  }
  const lists: number[] = [];
  const pairCapacity = capacityFor(pairs.size);
  const pairKeys = new Int32Array(2 * pairCapacity);
  const pairLists = new Int32Array(2 * pairCapacity);
  for (const { vendor, device, lines: filed } of pairs.values()) {
    let slot = hash(vendor, device) & (pairCapacity - 1);
    while (pairLists[2 * slot + 1] !== 0) slot = (slot + 1) & (pairCapacity - 1);
    pairKeys[2 * slot] = vendor;
    pairKeys[2 * slot + 1] = device;
    pairLists[2 * slot] = lists.length;
    lists.push(...filed);
    pairLists[2 * slot + 1] = lists.length;
  }
  const vendorCapacity = capacityFor(vendors.size);
  const vendorKeys = new Int32Array(vendorCapacity);
  const vendorLists = new Int32Array(2 * vendorCapacity);
  for (const [vendor, filed] of vendors) {
    let slot = hash(vendor, 0) & (vendorCapacity - 1);
    while (vendorLists[2 * slot + 1] !== 0) slot = (slot + 1) & (vendorCapacity - 1);
    vendorKeys[slot] = vendor;
    vendorLists[2 * slot] = lists.length;
    lists.push(...filed);
    vendorLists[2 * slot + 1] = lists.length;
  }
  const classLists = new Int32Array(257);
  for (let baseClass = 0; baseClass < 256; baseClass++) {
    classLists[baseClass] = lists.length;
    for (const n of anyVendor) {
      const mask = lines.masks[n] as number;
      const literalClass = (mask & FIELDS) !== 0 && (mask & (1 << BASE_CLASS)) !== 0;
      if (!literalClass || lines.values[n * FIELD_COUNT + BASE_CLASS] === baseClass) lists.push(n);
    }
  }
  classLists[256] = lists.length;
  return {
    literal: Uint8Array.from(lines.masks),
    values: Int32Array.from(lines.values),
    moduleStart,
    moduleEnd,
    moduleBytes: Uint8Array.from(bytes, (c) => c.charCodeAt(0)),
    moduleLength,
    pairKeys,
    pairLists,
    vendorKeys,
    vendorLists,
    classLists,
    lists: Int32Array.from(lists),
  };
}

/** Slots for COUNT keys: a power of two at least twice as many (short probes), at least 2. */
function capacityFor(count: number): number {
  let capacity = 2;
  while (capacity < 2 * count) capacity *= 2;
  return capacity;
}

function push(map: Map<number, number[]>, key: number, value: number): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

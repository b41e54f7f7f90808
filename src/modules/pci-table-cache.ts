// modules.alias's PCI tables (pci-table.ts) and the file's warnings, kept in the cache directory
// for the next batch: made from one modules.alias, valid while that file's identity is the one
// recorded (cache-file.ts). The payload is the tables' typed arrays one after the other, each at
// a multiple of 8 bytes; the JSON header says where each lies. Read back as views on the file's
// bytes, checked for shape and for every index pointing inside its table; a file that fails
// that is made again (its numbers are the cache's own: the same user made them).
import { cachePath, readCacheBytes, writeCacheBytes } from "../cache-file.ts";
import type { AliasFile } from "./alias-file.ts";
import { FIELD_COUNT, FIELDS, type PciTable, TABLE_PARTS } from "./pci-table.ts";

const FORMAT = "flavourctl pci tables 1";

/** Per bus (pci-batch.ts PCI_BUSES) its table, null where modules.alias is not all of file2alias's form. */
export interface CachedPciTables {
  tables: (PciTable | null)[];
  warnings: string[];
}

/** Where each part of a table lies in the payload: [byte offset, element count], in TABLE_PARTS order. */
type Layout = [number, number][];

interface Header {
  source: string;
  identity: string;
  warnings: string[];
  tables: (Layout | null)[];
}

export function pciTablesPath(cacheDir: string, source: string): string {
  return cachePath(cacheDir, source, "pci-tables");
}

/** The tables made from these bytes of FILE, or undefined (absent, other bytes, damaged). */
export function readPciTables(cacheDir: string, file: AliasFile): CachedPciTables | undefined {
  if (file.identity === undefined) return undefined;
  const read = readCacheBytes<Header>(pciTablesPath(cacheDir, file.path), FORMAT, file.path, file.identity);
  if (!read) return undefined;
  const { header, payload } = read;
  if (!Array.isArray(header.warnings) || !header.warnings.every((w) => typeof w === "string"))
    return undefined;
  if (!Array.isArray(header.tables)) return undefined;
  const tables: (PciTable | null)[] = [];
  for (const layout of header.tables) {
    const table = layout === null ? null : tableIn(payload, layout);
    if (table === undefined) return undefined;
    tables.push(table);
  }
  return { tables, warnings: header.warnings };
}

export function writePciTables(cacheDir: string, file: AliasFile, made: CachedPciTables): void {
  if (file.identity === undefined) return;
  const parts: Uint8Array[] = [];
  let length = 0;
  const layouts = made.tables.map((table) => {
    if (table === null) return null;
    return TABLE_PARTS.map(([name]): [number, number] => {
      const part = table[name];
      const at = length;
      parts.push(new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
      length = Math.ceil((at + part.byteLength) / 8) * 8;
      return [at, part.length];
    });
  });
  const payload = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    payload.set(part, at);
    at = Math.ceil((at + part.byteLength) / 8) * 8;
  }
  const header: Header = {
    source: file.path,
    identity: file.identity,
    warnings: made.warnings,
    tables: layouts,
  };
  writeCacheBytes(pciTablesPath(cacheDir, file.path), FORMAT, { ...header }, payload);
}

/** A table's parts as views on PAYLOAD, if LAYOUT fits it and the parts fit together. */
function tableIn(payload: Uint8Array, layout: unknown): PciTable | undefined {
  if (!Array.isArray(layout) || layout.length !== TABLE_PARTS.length) return undefined;
  const table: Record<string, Uint8Array | Int32Array> = {};
  for (let p = 0; p < TABLE_PARTS.length; p++) {
    const [name, Type] = TABLE_PARTS[p] as (typeof TABLE_PARTS)[number];
    const place = layout[p];
    if (!Array.isArray(place) || !Number.isInteger(place[0]) || !Number.isInteger(place[1])) return undefined;
    const [offset, count] = place as [number, number];
    const bytes = count * Type.BYTES_PER_ELEMENT;
    if (offset < 0 || count < 0 || offset % 8 !== 0 || offset + bytes > payload.length) return undefined;
    table[name] = new Type(payload.buffer as ArrayBuffer, payload.byteOffset + offset, count);
  }
  return fits(table as unknown as PciTable) ? (table as unknown as PciTable) : undefined;
}

/** Whether every count agrees and every index points inside its table: no lookup can leave it. */
function fits(t: PciTable): boolean {
  const lines = t.literal.length;
  const power = (n: number) => n >= 2 && (n & (n - 1)) === 0;
  if (
    t.values.length !== lines * FIELD_COUNT ||
    t.moduleStart.length !== lines ||
    t.moduleEnd.length !== lines ||
    t.moduleLength.length !== lines ||
    t.pairKeys.length !== t.pairLists.length ||
    !power(t.pairLists.length >> 1) ||
    t.vendorKeys.length * 2 !== t.vendorLists.length ||
    !power(t.vendorKeys.length) ||
    t.classLists.length !== 257
  ) {
    return false;
  }
  // plain loops, no closure per check: V8 runs this once, in its interpreter
  const moduleBytes = t.moduleBytes.length;
  for (let n = 0; n < lines; n++) {
    // a cached table holds only lines compared field by field
    if (((t.literal[n] as number) & FIELDS) === 0) return false;
    const start = t.moduleStart[n] as number;
    const end = t.moduleEnd[n] as number;
    if (start < 0 || start > end || end > moduleBytes || (t.moduleLength[n] as number) < 0) return false;
  }
  const lists = t.lists;
  for (let i = 0; i < lists.length; i++) {
    const line = lists[i] as number;
    if (line < 0 || line >= lines) return false;
  }
  // every list inside `lists`, and a hash with an empty slot (where a probe for an absent key stops)
  return (
    listsFit(t.pairLists, lists.length) &&
    listsFit(t.vendorLists, lists.length) &&
    classesFit(t.classLists, lists.length)
  );
}

/** Whether every (start, end) pair of SPANS lies in [0, length], and one of them is empty. */
function listsFit(spans: Int32Array, length: number): boolean {
  let empty = false;
  for (let s = 0; s < spans.length; s += 2) {
    const start = spans[s] as number;
    const end = spans[s + 1] as number;
    if (start < 0 || start > end || end > length) return false;
    if (end === 0) empty = true;
  }
  return empty;
}

/** Whether the base classes' lists follow one another inside [0, length]. */
function classesFit(starts: Int32Array, length: number): boolean {
  if ((starts[0] as number) < 0) return false;
  for (let c = 0; c < 256; c++) if ((starts[c] as number) > (starts[c + 1] as number)) return false;
  return (starts[256] as number) <= length;
}

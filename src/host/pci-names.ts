// Human names from the PCI ID database (pci.ids, as lspci shows them; pciutils lib/names*.c).
// The file is 1.3 MB and optional. Its top-level lines (vendors, classes) are found once, by one
// regular expression over the text, and that index is kept in the cache directory
// (cache-file.ts): a command then reads only the blocks of the vendors and classes it names.
//
// Format (pci.ids header): `vvvv  vendor`, then `\tdddd  device`, `\t\tssss ssss  subsystem`
// lines; classes at the end as `C cc  class`, `\tss  subclass`, `\t\tpp  prog-if`. `#` starts
// a comment line. Ids are lower-case hex. Names are UTF-8.
import { closeSync, fstatSync } from "node:fs";
import {
  type CacheHeader,
  cachePath,
  identityOf,
  readCacheFile,
  removeQuietly,
  writeCacheFile,
} from "../cache-file.ts";
import { closeWhenCollected, readAt } from "../descriptor.ts";
import { hex } from "../pci/ids.ts";
import { openRegular, readOpened, readRegularFile } from "../safe-read.ts";

export const PCI_IDS_PATHS = ["/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids"];

const FORMAT = "flavourctl pci.ids index 4";

/** Every line that starts with neither a tab nor `#`: a vendor, a class (or the unknown). */
const TOP_LEVEL = /^[^\t#\n][^\n]*/gm;

/**
 * The top-level lines, one `KEY<tab>OFFSET` line each in file order: the key is the text before
 * two spaces, the offset where the line starts. A key is found with one native search, and its
 * block ends where the next line's starts. A big vendor's block is cut into parts at device
 * lines, each a `VENDOR/DEVICE<tab>OFFSET` line after the vendor's (OFFSET: the newline before
 * that device's line): a device is read from its part (Intel's block is 370 kB, a part 16 kB).
 */
type Index = string;

/** A vendor block is cut into parts of about this many bytes once it is twice as long. */
const PART_BYTES = 16384;
const VENDOR_KEY = /^[0-9a-f]{4}$/;
/** A one-tab device line, its id in group 1. */
const DEVICE_LINE = /\n\t([0-9a-f]{4}) {2}/g;

/** A vendor's or class's lines, from its own line up to the next top-level one. */
interface Block {
  name: string;
  /** Its bytes as latin1 text (one character a byte; names are UTF-8, decoded when taken). */
  text: string;
  /** The children's names found so far (devices of one model are asked for again). */
  children: Map<string, string | undefined>;
}

interface Database {
  path: string;
  /** Of the bytes the index describes (cache-file.ts identityOf). */
  identity: string;
  size: number;
  index: Index;
  /** The whole file, when it was read to make the index. */
  bytes: Buffer | undefined;
  /** Else the file, open: blocks are read from the bytes whose identity the index was made of. */
  fd: number | undefined;
  /** Where the index came from, to drop it if it proves wrong. */
  cacheFile: string | undefined;
}

function indexOf(text: string): Index {
  const tops = [...text.matchAll(TOP_LEVEL)];
  const lines: string[] = [];
  for (const [i, match] of tops.entries()) {
    const separator = match[0].indexOf("  ");
    const key = separator < 0 ? match[0] : match[0].slice(0, separator);
    lines.push(`${key}\t${match.index}\n`);
    const end = tops[i + 1]?.index ?? text.length;
    if (!VENDOR_KEY.test(key) || end - match.index < 2 * PART_BYTES) continue;
    let part = match.index;
    DEVICE_LINE.lastIndex = match.index;
    for (
      let device = DEVICE_LINE.exec(text);
      device !== null && device.index < end;
      device = DEVICE_LINE.exec(text)
    ) {
      if (device.index - part < PART_BYTES) continue;
      lines.push(`${key}/${device[1]}\t${device.index}\n`);
      part = device.index;
    }
  }
  return lines.join("");
}

/**
 * The blocks a vendor's devices are in: its own, then its parts in order (none for most
 * vendors). pci.ids lists a vendor's devices in ascending order, so a device is in the last part
 * whose first device is at most its id (partFor); where that order does not hold, in another.
 */
function partsOf(index: Index, vendor: string): string[] {
  const all = [vendor];
  const line = `\n${vendor}/`;
  let at = index.indexOf(`\n${vendor}\t`) + 1;
  if (at === 0 && !index.startsWith(`${vendor}\t`)) return all;
  for (at = index.indexOf("\n", at); index.startsWith(line, at); at = index.indexOf("\n", at + 1)) {
    all.push(index.slice(at + 1, index.indexOf("\t", at)));
  }
  return all;
}

function partFor(parts: string[], device: string): string {
  let best = parts[0] as string;
  for (const part of parts) {
    const slash = part.indexOf("/");
    if (slash >= 0 && part.slice(slash + 1) <= device) best = part;
  }
  return best;
}

/** Where the block of `key` starts and ends; undefined when the index has no such key. */
function blockRange(index: Index, key: string, size: number): [number, number] | undefined {
  const line = `${key}\t`;
  const at = index.startsWith(line) ? 0 : index.indexOf(`\n${line}`) + 1;
  if (at === 0 && !index.startsWith(line)) return undefined;
  const offsetEnd = index.indexOf("\n", at);
  if (offsetEnd < 0) return undefined;
  const start = Number(index.slice(at + line.length, offsetEnd));
  const next = index.indexOf("\t", offsetEnd);
  const end = next < 0 ? size : Number(index.slice(next + 1, index.indexOf("\n", next)));
  return [start, end];
}

export class PciNames {
  private readonly paths: readonly string[];
  private readonly cacheDir: string | undefined;
  private database: Database | null | undefined;
  private readonly blocks = new Map<string, Block | null>();
  /** partsOf each vendor asked for, in the current index. */
  private readonly vendorParts = new Map<string, string[]>();

  /** `cacheDir`: where the index of pci.ids is kept (host/cache-dir.ts); none: made every time. */
  constructor(paths: readonly string[] = PCI_IDS_PATHS, cacheDir?: string) {
    this.paths = paths;
    this.cacheDir = cacheDir;
  }

  /** The database, opened on first use; null when no file can be read (names are optional). */
  private data(): Database | null {
    if (this.database === undefined) {
      this.database = null;
      for (const path of this.paths) {
        try {
          this.database = this.open(path);
          break;
        } catch {
          // try the next place
        }
      }
    }
    return this.database;
  }

  private open(path: string): Database {
    const { fd, stat } = openRegular(path, "names");
    let keep = false;
    try {
      const identity = identityOf(stat);
      const size = Number(stat.size);
      const cacheFile = this.cacheDir === undefined ? undefined : cachePath(this.cacheDir, path, "pci-ids");
      const cached = cacheFile === undefined ? undefined : readIndex(cacheFile, path, identity);
      if (cached) {
        const database = { path, identity, size, index: cached, bytes: undefined, fd, cacheFile };
        closeWhenCollected(database, fd);
        keep = true;
        return database;
      }
      const bytes = readOpened(fd, path, "names", size);
      const index = indexOf(bytes.toString("latin1"));
      if (cacheFile !== undefined) {
        writeCacheFile(cacheFile, FORMAT, { source: path, identity, length: index.length }, index);
      }
      return { path, identity, size, index, bytes, fd: undefined, cacheFile };
    } finally {
      if (!keep) closeSync(fd);
    }
  }

  /** The top-level line `key  name` and the lines under it. */
  private block(key: string): Block | null {
    const known = this.blocks.get(key);
    if (known !== undefined) return known;
    const found = this.readBlock(key);
    this.blocks.set(key, found);
    return found;
  }

  private readBlock(key: string): Block | null {
    const data = this.data();
    if (data === null) return null;
    const range = blockRange(data.index, key, data.size);
    if (range === undefined) return null;
    const [start, end] = range;
    const text = data.bytes ? data.bytes.toString("latin1", start, end) : readRange(data, start, end);
    // a vendor's part starts at the newline before its first device's line
    const slash = key.indexOf("/");
    const head = slash < 0 ? `${key}  ` : `\n\t${key.slice(slash + 1)}  `;
    if (text === undefined || !text.startsWith(head)) {
      if (data.bytes) return null; // a top-level line that is not `key  name`
      // A cached index that does not fit the file: dropped, and the file read and indexed again.
      if (data.cacheFile !== undefined) removeQuietly(data.cacheFile);
      let whole: Buffer;
      try {
        whole = readRegularFile(data.path, "names");
      } catch {
        return null;
      }
      this.database = {
        ...data,
        size: whole.length,
        index: indexOf(whole.toString("latin1")),
        bytes: whole,
        fd: undefined,
      };
      this.blocks.clear();
      this.vendorParts.clear();
      return this.readBlock(key);
    }
    if (slash >= 0) return { name: "", text, children: new Map() };
    let lineEnd = text.indexOf("\n");
    if (lineEnd < 0) lineEnd = text.length;
    return { name: utf8(text.slice(head.length, lineEnd)), text, children: new Map() };
  }

  /**
   * The name on the one-tab line `id  name` of a block. pci.ids lists a vendor's devices and a
   * class's subclasses in ascending order, so the line is found by bisection (Intel's block is
   * 370 kB); where that order does not hold (an edited file), the plain search answers.
   */
  private child(block: Block | null, id: string): string | undefined {
    if (block === null) return undefined;
    if (block.children.has(id)) return block.children.get(id);
    const text = block.text;
    const at = bisectChild(text, id) ?? text.indexOf(`\n\t${id}  `);
    let name: string | undefined;
    if (at >= 0) {
      let end = text.indexOf("\n", at + 1);
      if (end < 0) end = text.length;
      name = utf8(text.slice(at + id.length + 4, end));
    }
    block.children.set(id, name);
    return name;
  }

  vendor(vendor: number): string | undefined {
    return this.block(hex(vendor, 4))?.name;
  }

  device(vendor: number, device: number): string | undefined {
    const data = this.data();
    if (data === null) return undefined;
    const key = hex(vendor, 4);
    const id = hex(device, 4);
    const found = this.deviceIn(data.index, key, id);
    // a cached index found wrong meanwhile is made again from the file: asked once more
    const now = this.database;
    return found === undefined && now && now.index !== data.index ? this.deviceIn(now.index, key, id) : found;
  }

  /** The device's name from its part of the vendor's block, else from the vendor's other parts. */
  private deviceIn(index: Index, vendor: string, id: string): string | undefined {
    let parts = this.vendorParts.get(vendor);
    if (parts === undefined) {
      parts = partsOf(index, vendor);
      this.vendorParts.set(vendor, parts);
    }
    const best = partFor(parts, id);
    const found = this.child(this.block(best), id);
    if (found !== undefined) return found;
    for (const part of parts) {
      const elsewhere = part === best ? undefined : this.child(this.block(part), id);
      if (elsewhere !== undefined) return elsewhere;
    }
    return undefined;
  }

  /**
   * The subclass's name, else the base class's with the class number, as lspci names it
   * (pciutils lib/names.c, PCI_LOOKUP_CLASS: "Unclassified device [0002]").
   */
  className(classCode: number): string | undefined {
    const block = this.block(`C ${hex(classCode >> 16, 2)}`);
    const subclass = this.child(block, hex((classCode >> 8) & 0xff, 2));
    return subclass ?? (block ? `${block.name} [${hex(classCode >> 8, 4)}]` : undefined);
  }
}

/** A one-tab line (a device, a subclass): two-tab lines are subsystems or programming interfaces. */
const CHILD_LINE = /\n\t[^\t]/g;

/**
 * Where the one-tab line of `id` starts (at its newline) in a block's text whose one-tab lines
 * are in ascending order; undefined when not found. Each step takes the first one-tab line at or
 * after the middle (two-tab lines and comments lie between them).
 */
export function bisectChild(text: string, id: string): number | undefined {
  const line = `\n\t${id}  `;
  let low = 0;
  let high = text.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    CHILD_LINE.lastIndex = mid;
    const at = CHILD_LINE.exec(text)?.index ?? -1;
    if (at < 0 || at >= high) {
      high = mid;
      continue;
    }
    const found = text.slice(at, at + line.length);
    if (found === line) return at;
    if (found < line) low = at + 1;
    else high = mid;
  }
  return undefined;
}

/**
 * The index of a cache file, if it is one for these bytes and whole: a cut index would stretch
 * its last block to the end of pci.ids (a wrong offset is found when its block is read).
 */
function readIndex(cacheFile: string, path: string, identity: string): Index | undefined {
  const read = readCacheFile<CacheHeader & { length?: unknown }>(cacheFile, FORMAT, path, identity);
  return read && read.header.length === read.payload.length ? read.payload : undefined;
}

/**
 * Characters (bytes) [start, end) of the open file, if it still holds the bytes `identity` names
 * (pci.ids rewritten in place while a command runs would put the index's offsets on other
 * lines); else undefined.
 */
function readRange(data: Database, start: number, end: number): string | undefined {
  if (data.fd === undefined || !(start >= 0 && end > start)) return undefined;
  try {
    if (identityOf(fstatSync(data.fd, { bigint: true })) !== data.identity) return undefined;
    const text = readAt(data.fd, start, end - start);
    return text.length === end - start ? text : undefined;
  } catch {
    return undefined;
  }
}

const NON_ASCII = /[\x80-\xff]/;

/** A name: pci.ids is UTF-8, read here as latin1 (one character a byte); most names are ASCII. */
function utf8(latin1: string): string {
  return NON_ASCII.test(latin1) ? Buffer.from(latin1, "latin1").toString("utf8") : latin1;
}

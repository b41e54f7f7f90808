// A persistent copy of the one costly pass over a modules.alias: the literal prefix of every
// pattern, by bus (AliasSource.scanAll), sorted. libkmod has depmod's modules.alias.bin for
// this; we may not write in /lib/modules, so the copy lives in a cache directory of our own,
// one file per modules.alias, valid while that file's identity (fstat: device, inode, size,
// times) is the one recorded. The lines themselves are still read from modules.alias.
//
// A command that looks up a few devices (list, show, set, the udev hook) then finds a prefix by
// bisection in the file's sorted keys, building nothing; a batch (resolve) scans modules.alias
// and goes on with maps and a trie, as without a cache.
//
// The file (latin1): a line naming the format, a JSON header line, then per bus two lists — of
// patterns that are all literal, of the literal parts PREFIX of patterns that go on with a
// wildcard — each a block of lines `KEY REF,REF,…` sorted by KEY in byte order, REF being a
// line's offset in modules.alias, in file order. The header says where each list lies and, for
// a long one, where its pages of PAGE_LINES lines start and their first keys: a lookup reads the
// page its key would be on and bisects it where it lies, by character offsets (no split). A
// pattern holds no space and no newline (a line's fields are separated by spaces), though it
// may hold a tab.
//
// Written and read as every cache file (cache-file.ts). Every line a cached reference leads to is
// checked against its key: a damaged file is deleted and the bus is read from modules.alias.
import {
  type CacheHeader,
  cachePath,
  openCacheFile,
  type Payload,
  payloadOf,
  removeQuietly,
  writeCacheFile,
} from "../cache-file.ts";
import type {
  AliasFile,
  AliasLine,
  AliasSource,
  KeyVisitor,
  PrefixVisitor,
  SortedPrefixes,
} from "./alias-file.ts";
import { KEY_MAX, prefixLengths } from "./alias-index.ts";

const FORMAT = "flavourctl alias prefixes 5";

/** Where a list's lines are in the text after the header: [start, end), `end` at its last newline. */
interface ListBlocks {
  lines: [number, number];
  /**
   * A long list's pages: the first key of every PAGE_LINES-th line and where that line starts.
   * A lookup reads the one page its key would be on (pci's list is 310 kB, a page 4 kB).
   */
  pages?: [string, number][];
}

const PAGE_LINES = 128;

interface BusBlocks {
  exact: ListBlocks;
  prefixed: ListBlocks;
  lengths: number[];
}

interface Header extends CacheHeader {
  buses: Record<string, BusBlocks>;
  busless: BusBlocks | null;
}

type Blocks = Pick<Header, "buses" | "busless">;

/** The cache file for a modules.alias. */
export function aliasCachePath(cacheDir: string, source: string): string {
  return cachePath(cacheDir, source, "aliases");
}

/**
 * `file` with its prefixes from the cache in `cacheDir`, or found now (one pass over every line)
 * and written there for the next command. Undefined when the file has no identity (in memory).
 */
export function cachedPrefixes(file: AliasFile, cacheDir: string): AliasSource | undefined {
  if (file.identity === undefined) return undefined;
  const path = aliasCachePath(cacheDir, file.path);
  const found = readCache(path, file.path, file.identity);
  if (found) return new CachedPrefixes(file, path, found.blocks, found.payload);
  const built = buildBlocks(file);
  writeCacheFile(
    path,
    FORMAT,
    { source: file.path, identity: file.identity, ...built.blocks },
    built.payload,
  );
  return new CachedPrefixes(file, path, built.blocks, payloadOf(built.payload));
}

/**
 * The header and the blocks, or undefined when the file is absent, damaged or stale. A command
 * reads the lists it searches (pci's is half of the file), not the whole file.
 */
function readCache(
  path: string,
  source: string,
  identity: string,
): { blocks: Blocks; payload: Payload } | undefined {
  const read = openCacheFile<Header>(path, FORMAT, source, identity);
  if (!read || typeof read.header.buses !== "object" || read.header.buses === null) return undefined;
  const { header, payload } = read;
  const inside = (span: unknown) =>
    Array.isArray(span) && span[0] >= 0 && span[0] <= span[1] && span[1] <= payload.length;
  // pages in order, within their list, the first at its start
  const paged = (list: ListBlocks) =>
    list.pages === undefined ||
    (Array.isArray(list.pages) &&
      list.pages.every(
        (page, i, all) =>
          Array.isArray(page) &&
          typeof page[0] === "string" &&
          (i === 0 ? page[1] === list.lines[0] : page[1] > (all[i - 1] as [string, number])[1]) &&
          page[1] <= list.lines[1],
      ));
  const fits = (blocks: BusBlocks | null) =>
    blocks === null ||
    (Array.isArray(blocks.lengths) &&
      [blocks.exact, blocks.prefixed].every((list) => inside(list?.lines) && paged(list)));
  if (!Object.values(header.buses).every(fits) || !fits(header.busless)) return undefined;
  return { blocks: { buses: header.buses, busless: header.busless }, payload };
}

type PrefixMaps = { exact: Map<string, number[]>; prefixed: Map<string, number[]> };

/** What a scan visits, by bus: the references of each all-literal pattern and of each prefix. */
function prefixMaps(scan: (visit: PrefixVisitor) => void): Map<string | null, PrefixMaps> {
  const byBus = new Map<string | null, PrefixMaps>();
  scan((bus, prefix, ref, literal) => {
    // As the index files it (addToGroup): depmod cuts a key, and what is left is all literal.
    if (prefix.length > KEY_MAX) {
      prefix = prefix.slice(0, KEY_MAX);
      literal = true;
    }
    let maps = byBus.get(bus);
    if (!maps) {
      maps = { exact: new Map(), prefixed: new Map() };
      byBus.set(bus, maps);
    }
    const map = literal ? maps.exact : maps.prefixed;
    const refs = map.get(prefix);
    if (refs) refs.push(ref);
    else map.set(prefix, [ref]);
  });
  return byBus;
}

/** Every bus's blocks, from one pass over the file. */
function buildBlocks(file: AliasFile): { blocks: Blocks; payload: string } {
  const byBus = prefixMaps((visit) => file.scanAll(visit));
  const parts: string[] = [];
  let length = 0;
  // Default sort: UTF-16 code units, which for latin1 text is byte order.
  const list = (map: Map<string, number[]>): ListBlocks => {
    const start = length;
    const pages: [string, number][] = [];
    const keys = [...map.keys()].sort();
    for (const [i, key] of keys.entries()) {
      if (keys.length > PAGE_LINES && i % PAGE_LINES === 0) pages.push([key, length]);
      const line = `${key} ${(map.get(key) as number[]).join(",")}\n`;
      parts.push(line);
      length += line.length;
    }
    // an empty list's end is its start; a list's last line ends at `end`
    const lines: [number, number] = [start, map.size === 0 ? start : length - 1];
    return pages.length > 0 ? { lines, pages } : { lines };
  };
  // keyed by the buses modules.alias names: `__proto__` is one like another
  const blocks: Blocks = { buses: Object.create(null), busless: null };
  for (const [bus, maps] of byBus) {
    const lengths = prefixLengths(maps.prefixed.keys());
    const busBlocks: BusBlocks = { exact: list(maps.exact), prefixed: list(maps.prefixed), lengths };
    if (bus === null) blocks.busless = busBlocks;
    else blocks.buses[bus] = busBlocks;
  }
  return { blocks, payload: parts.join("") };
}

/** A list, read whole or, when it has pages, a page at a time, and searched where its lines lie. */
class SortedList {
  private readonly payload: Payload;
  private readonly blocks: ListBlocks;
  /** What was read, by where it starts; null: the file is shorter than its header said. */
  private readonly texts = new Map<number, string | null>();

  constructor(payload: Payload, blocks: ListBlocks) {
    this.payload = payload;
    this.blocks = blocks;
  }

  /** The references of `key`: undefined when absent, null when the list is damaged. */
  find(key: string): number[] | undefined | null {
    const [start, end] = this.blocks.lines;
    if (start === end) return undefined;
    const pages = this.blocks.pages;
    if (pages === undefined) {
      const text = this.read(start, end + 1);
      return text === null ? null : findIn(text, key);
    }
    // the last page whose first key is at most `key`
    let low = 0;
    let high = pages.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((pages[mid] as [string, number])[0] <= key) low = mid + 1;
      else high = mid;
    }
    if (low === 0) return undefined;
    const [first, from] = pages[low - 1] as [string, number];
    const text = this.read(from, low < pages.length ? (pages[low] as [string, number])[1] : end + 1);
    // a page that does not start with its key: the header and the lists disagree
    if (text === null || !text.startsWith(`${first} `)) return null;
    return findIn(text, key);
  }

  private read(from: number, to: number): string | null {
    let text = this.texts.get(from);
    if (text === undefined) {
      text = this.payload.text(from, to) ?? null;
      this.texts.set(from, text);
    }
    return text;
  }
}

/**
 * The references of `key` in `text` (lines `KEY REFS`, each ending with a newline) by bisection
 * over the characters: each step takes the line around the middle. Undefined when absent, null
 * when a line is damaged.
 */
function findIn(text: string, key: string): number[] | undefined | null {
  const end = text.length - 1; // the last newline
  // low and high are always line starts (or the end)
  let low = 0;
  let high = end;
  while (low < high) {
    const mid = (low + high) >>> 1;
    const lineStart = mid === low ? low : Math.max(low, text.lastIndexOf("\n", mid - 1) + 1);
    let lineEnd = text.indexOf("\n", lineStart);
    if (lineEnd < 0 || lineEnd > end) lineEnd = end;
    const space = text.indexOf(" ", lineStart);
    if (space < 0 || space > lineEnd) return null;
    const found = text.slice(lineStart, space);
    if (found === key) return refsOf(text.slice(space + 1, lineEnd));
    if (found < key) low = lineEnd + 1;
    else high = lineStart;
  }
  return undefined;
}

/** `REF,REF,…`; null when one is not an offset. */
function refsOf(text: string): number[] | null {
  const refs = text.split(",").map((ref) => (/^\d{1,15}$/.test(ref) ? Number(ref) : Number.NaN));
  return refs.every(Number.isSafeInteger) ? refs : null;
}

/** An AliasSource whose prefixes come from the cache file and whose lines from modules.alias. */
class CachedPrefixes implements AliasSource {
  private readonly file: AliasFile;
  private readonly path: string;
  private readonly blocks: Blocks;
  private readonly payload: Payload;
  private readonly lists = new Map<ListBlocks, SortedList>();
  /** Set once a cached reference led to the wrong line: everything comes from the file. */
  private damaged = false;
  private readonly checkedLines = new Map<number, AliasLine>();

  constructor(file: AliasFile, path: string, blocks: Blocks, payload: Payload) {
    this.file = file;
    this.path = path;
    this.blocks = blocks;
    this.payload = payload;
  }

  private busBlocks(bus: string | null): BusBlocks | null | undefined {
    if (bus === null) return this.blocks.busless;
    return Object.hasOwn(this.blocks.buses, bus) ? this.blocks.buses[bus] : undefined;
  }

  // A batch reads every line of a bus anyway: it scans modules.alias itself, trusting the cache
  // only where each reference it gives is checked (sorted()).
  scan(buses: readonly string[], busless: boolean, visit: PrefixVisitor): void {
    this.file.scan(buses, busless, visit);
  }

  scanAll(visit: PrefixVisitor): void {
    this.file.scanAll(visit);
  }

  /** A list, read from the file as it is searched. */
  list(blocks: ListBlocks): SortedList {
    let list = this.lists.get(blocks);
    if (list === undefined) {
      list = new SortedList(this.payload, blocks);
      this.lists.set(blocks, list);
    }
    return list;
  }

  sorted(bus: string | null): SortedPrefixes | undefined {
    if (this.damaged) return undefined;
    return new SortedBus(this, bus, this.busBlocks(bus) ?? null);
  }

  /** Whether the line at `ref` exists and `belongs`. */
  lineBelongs(ref: number, belongs: (line: AliasLine) => boolean): boolean {
    const line = this.file.load(ref);
    if (line === undefined) return false;
    this.checkedLines.set(ref, line);
    return belongs(line);
  }

  /** A damaged cache file: deleted, and from now on everything is read from modules.alias. */
  markDamaged(): void {
    this.damaged = true;
    removeQuietly(this.path);
  }

  isDamaged(): boolean {
    return this.damaged;
  }

  /** A bus's prefixes found by scanning modules.alias itself. */
  scanBus(bus: string | null): PrefixMaps {
    const maps = prefixMaps((visit) =>
      bus === null ? this.file.scan([], true, visit) : this.file.scan([bus], false, visit),
    ).get(bus);
    return maps ?? { exact: new Map(), prefixed: new Map() };
  }

  /** A line; one the check read is handed over (the index keeps the lines it loads). */
  load(ref: number): AliasLine | undefined {
    const checked = this.checkedLines.get(ref);
    if (checked === undefined) return this.file.load(ref);
    this.checkedLines.delete(ref);
    return checked;
  }

  keys(visit: KeyVisitor): void {
    this.file.keys(visit);
  }
}

const DAMAGED = Symbol("damaged");
const WILDCARDS = "*?[";

/**
 * One bus's blocks, searched in place. Every reference found is checked: the line it leads to
 * must be one its key stands for. A mismatch means a damaged file: it is deleted, and this bus
 * is answered from modules.alias itself, scanned as without a cache.
 */
class SortedBus implements SortedPrefixes {
  private readonly owner: CachedPrefixes;
  private readonly bus: string | null;
  private readonly blocks: BusBlocks | null;
  private fallback: (PrefixMaps & { lengths: number[] }) | undefined;
  /** Prefixes the list does not hold: a few lookups ask for the same ones again and again. */
  private readonly absent = new Set<string>();

  constructor(owner: CachedPrefixes, bus: string | null, blocks: BusBlocks | null) {
    this.owner = owner;
    this.bus = bus;
    this.blocks = blocks;
  }

  exact(key: string): readonly number[] | undefined {
    if (this.blocks === null) return undefined;
    // A key of KEY_MAX characters may be a longer pattern's, cut (prefixMaps).
    const belongs = (line: AliasLine) =>
      line.key === key || (key.length === KEY_MAX && line.key.startsWith(key));
    const found = this.search(this.blocks.exact, key, belongs);
    return found === DAMAGED ? this.fromFile().exact.get(key) : found;
  }

  prefixed(prefix: string): readonly number[] | undefined {
    if (this.blocks === null) return undefined;
    // The line's literal part is this prefix exactly: a wildcard follows it.
    const belongs = (line: AliasLine) =>
      line.key.startsWith(prefix) && WILDCARDS.includes(line.key.charAt(prefix.length));
    // an absence the list gave is not kept once the file proved damaged (search answers DAMAGED)
    const found =
      this.absent.has(prefix) && !this.fallback && !this.owner.isDamaged()
        ? undefined
        : this.search(this.blocks.prefixed, prefix, belongs);
    if (found === DAMAGED) return this.fromFile().prefixed.get(prefix);
    if (found === undefined) this.absent.add(prefix);
    return found;
  }

  get lengths(): readonly number[] {
    if (this.blocks === null) return [];
    return this.fallback ? this.fallback.lengths : this.blocks.lengths;
  }

  /** The checked references of `key`, undefined when none, DAMAGED when the file cannot answer. */
  private search(
    blocks: ListBlocks,
    key: string,
    belongs: (line: AliasLine) => boolean,
  ): readonly number[] | undefined | typeof DAMAGED {
    if (this.fallback || this.owner.isDamaged()) return DAMAGED;
    const refs = this.owner.list(blocks).find(key);
    if (refs === undefined) return undefined;
    // Each line its key stands for, once, in file order: a wrong reference either leads to a line
    // of another key or repeats one that is listed already.
    if (
      refs?.every(
        (ref, i) => (i === 0 || ref > (refs[i - 1] as number)) && this.owner.lineBelongs(ref, belongs),
      )
    ) {
      return refs;
    }
    this.owner.markDamaged();
    return DAMAGED;
  }

  private fromFile() {
    if (!this.fallback) {
      const maps = this.owner.scanBus(this.bus);
      const lengths = prefixLengths(maps.prefixed.keys());
      this.fallback = { ...maps, lengths };
    }
    return this.fallback;
  }
}

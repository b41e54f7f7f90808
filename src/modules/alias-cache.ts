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
// wildcard — each as two blocks of as many lines: the keys sorted in byte order, then on the
// same line numbers their references `REF,REF,…`, REF being a line's offset in modules.alias,
// in file order. A few lookups split a bus's key block (one native call) and search it by
// bisection. Patterns never hold a newline (they are lines).
//
// Written and read as every cache file (cache-file.ts). Every line a cached reference leads to is
// checked against its key: a damaged file is deleted and the bus is read from modules.alias.
import { type CacheHeader, cachePath, readCacheFile, removeQuietly, writeCacheFile } from "../cache-file.ts";
import type {
  AliasFile,
  AliasLine,
  AliasSource,
  KeyVisitor,
  PrefixVisitor,
  SortedPrefixes,
} from "./alias-file.ts";
import { KEY_MAX, prefixLengths } from "./alias-index.ts";

const FORMAT = "flavourctl alias prefixes 2";

/** Where a list's blocks are in the text after the header: [start, end) each, no final newline. */
interface ListBlocks {
  /** How many keys (a block of one empty key and an empty block look alike). */
  count: number;
  keys: [number, number];
  refs: [number, number];
}

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
  return new CachedPrefixes(file, path, built.blocks, built.payload);
}

/** The header and the blocks' text, or undefined when the file is absent, damaged or stale. */
function readCache(
  path: string,
  source: string,
  identity: string,
): { blocks: Blocks; payload: string } | undefined {
  const read = readCacheFile<Header>(path, FORMAT, source, identity);
  if (!read || typeof read.header.buses !== "object" || read.header.buses === null) return undefined;
  const { header, payload } = read;
  const inside = (span: unknown) =>
    Array.isArray(span) && span[0] >= 0 && span[0] <= span[1] && span[1] <= payload.length;
  const fits = (blocks: BusBlocks | null) =>
    blocks === null ||
    (Array.isArray(blocks.lengths) &&
      [blocks.exact, blocks.prefixed].every((list) => inside(list?.keys) && inside(list?.refs)));
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
  const add = (text: string): [number, number] => {
    parts.push(text, "\n");
    length += text.length + 1;
    return [length - text.length - 1, length - 1];
  };
  // Default sort: UTF-16 code units, which for latin1 text is byte order.
  const list = (map: Map<string, number[]>): ListBlocks => {
    const keys = [...map.keys()].sort();
    return {
      count: keys.length,
      keys: add(keys.join("\n")),
      refs: add(keys.map((key) => (map.get(key) as number[]).join(",")).join("\n")),
    };
  };
  const blocks: Blocks = { buses: {}, busless: null };
  for (const [bus, maps] of byBus) {
    const lengths = prefixLengths(maps.prefixed.keys());
    const busBlocks: BusBlocks = { exact: list(maps.exact), prefixed: list(maps.prefixed), lengths };
    if (bus === null) blocks.busless = busBlocks;
    else blocks.buses[bus] = busBlocks;
  }
  return { blocks, payload: parts.join("") };
}

/** A list's keys and references, split into lines when first searched. */
class SortedList {
  private readonly keys: readonly string[];
  private readonly refs: readonly string[];
  private readonly count: number;

  constructor(payload: string, blocks: ListBlocks) {
    this.count = blocks.count;
    const lines = (span: [number, number]) =>
      blocks.count === 0 ? [] : payload.slice(span[0], span[1]).split("\n");
    this.keys = lines(blocks.keys);
    this.refs = lines(blocks.refs);
  }

  /** The references of `key` by bisection; undefined when absent, null when the list is damaged. */
  find(key: string): number[] | undefined | null {
    if (this.keys.length !== this.refs.length || this.keys.length !== this.count) return null;
    let low = 0;
    let high = this.keys.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const found = this.keys[mid] as string;
      if (found === key) return this.refsAt(mid);
      if (found < key) low = mid + 1;
      else high = mid;
    }
    return undefined;
  }

  private refsAt(index: number): number[] | null {
    const refs = (this.refs[index] as string).split(",").map(Number);
    return refs.every(Number.isSafeInteger) ? refs : null;
  }
}

/** An AliasSource whose prefixes come from the cache file and whose lines from modules.alias. */
class CachedPrefixes implements AliasSource {
  private readonly file: AliasFile;
  private readonly path: string;
  private readonly blocks: Blocks;
  private readonly payload: string;
  /** Set once a cached reference led to the wrong line: everything comes from the file. */
  private damaged = false;
  private readonly lists = new Map<ListBlocks, SortedList>();
  private readonly checkedLines = new Map<number, AliasLine>();

  constructor(file: AliasFile, path: string, blocks: Blocks, payload: string) {
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

  /** A list of the payload, split once. */
  list(blocks: ListBlocks): SortedList {
    let list = this.lists.get(blocks);
    if (!list) {
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
    const found = this.search(this.blocks.prefixed, prefix, belongs);
    return found === DAMAGED ? this.fromFile().prefixed.get(prefix) : found;
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

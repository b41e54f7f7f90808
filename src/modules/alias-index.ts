// The search structure behind a lookup: which alias patterns match a string, and in which
// order libkmod's index walk finds them (libkmod-index.c, index_mm_searchwild).
//
// libkmod walks a radix trie of the patterns along the string's literal characters; wherever
// a pattern's next character is `*`, `?` or `[`, it fnmatch()es the rest of the pattern
// against the rest of the string. So a pattern matches when the part before its first
// wildcard equals the string's start *literally* (a backslash there is just a backslash) and
// fnmatch accepts the rest. We keep that split: each pattern is bucketed under its literal
// prefix, a lookup probes only the prefix lengths that exist for the string's bus, and the
// rest is checked by fnmatch — or, for canonical PCI patterns against a canonical PCI
// modalias, by comparing the seven fields, which is the same test (both are fixed-width hex
// separated by distinct lower-case markers) and far cheaper.

import { readModaliasFields } from "../pci/modalias.ts";
import type { AliasLine, AliasSource, SortedPrefixes } from "./alias-file.ts";
import { compileMatcher, fnmatchBytes } from "./fnmatch.ts";
import { fieldsMatch, PciPrefixIndex } from "./pci-field-index.ts";

interface IndexedAlias {
  alias: AliasLine;
  /** Position of the first `*`, `?` or `[`; the pattern's length when it has none. */
  wildcardAt: number;
  /** The pattern from wildcardAt on, matched with fnmatch against the string from there. */
  suffix: string;
  /**
   * The longest run of plain characters in the suffix: any string the suffix matches contains
   * it, so `includes` rejects most candidates before fnmatch runs. Empty when unusable.
   */
  required: string;
  /** fnmatch(suffix, ·), compiled when first needed. */
  matcher: ((rest: string) => boolean) | undefined;
  /** The search that last collected this entry as a candidate (to collect it once). */
  stamp: number;
  /** For canonical PCI patterns: the fields v, d, sv, sd, bc, sc, i as numbers, -1 for `*`. */
  pciValues: number[] | undefined;
}

/** A pattern of file2alias's PCI form (do_pci_entry), its seven fields in groups 1–7 (undefined or `*`: any). */
export const PCI_PATTERN =
  /^(?:vfio_)?pci:v([0-9A-F]{8}|\*)d([0-9A-F]{8}|\*)sv([0-9A-F]{8}|\*)sd([0-9A-F]{8}|\*)bc([0-9A-F]{2}|\*)sc([0-9A-F]{2}|\*)i(?:([0-9A-F]{2})\*|\*)$/;

/** Three characters (bytes: strings are latin1) as one number. */
function gram(text: string, at: number): number {
  return (text.charCodeAt(at) << 16) | (text.charCodeAt(at + 1) << 8) | text.charCodeAt(at + 2);
}

/** Buckets with at least this many patterns get a trigram index. */
const BIG_BUCKET = 32;

/** The patterns sharing one literal prefix. */
interface Bucket {
  refs: number[];
  /** The parsed lines, once the bucket has been probed. */
  entries: IndexedAlias[] | undefined;
  /** For big buckets: entries by a trigram of their required literal. */
  grams: GramIndex<IndexedAlias> | undefined;
}

/**
 * A node of a group's radix trie of literal prefixes (libkmod's own index is one): the edge
 * into it is `label`, children are keyed by their label's first character, so a lookup walks
 * the string with startsWith and small-integer map probes, allocating nothing.
 */
interface RadixNode {
  label: string;
  children: Map<number, RadixNode> | undefined;
  bucket: Bucket | undefined;
}

/** Every node with the same fields in the same order: one hidden class, fast property reads. */
const radixNode = (label: string, bucket: Bucket | undefined): RadixNode => ({
  label,
  children: undefined,
  bucket,
});
/** The patterns of one bus (or of none): the literal ones by key, the others by literal prefix. */
interface PrefixGroup {
  /** The bus (null: patterns with none). */
  bus: string | null;
  /** Patterns without a wildcard, by key (file order within one key): one probe finds them. */
  exact: Map<string, number[]>;
  byPrefix: Map<string, Bucket>;
  /** Distinct literal-prefix lengths present, ascending. */
  lengths: number[];
  /**
   * Set once the group has served TRIE_AFTER lookups: a batch, for which its patterns are read
   * into maps (from a sorted cache file too) and searched through a trie of their prefixes.
   */
  batch?: boolean;
  /** The radix trie of the prefixes, built for a batch's first name that needs it. */
  root?: RadixNode;
  /** Built for a batch's first canonical PCI modalias: the group's patterns filed by vendor and device. */
  pci?: PciPrefixIndex<PciSlot>;
  searches: number;
  /**
   * The source's sorted prefixes (a cache file), searched in place until the trie is built:
   * `exact` is then unused and `byPrefix` holds only the buckets found so far.
   */
  sorted?: SortedPrefixes;
}

/**
 * Building a group's trie costs about as much as a few hundred lookups save: a command that
 * looks up a few devices probes the prefix map directly, a batch builds the trie.
 */
const TRIE_AFTER = 256;

/**
 * A lookup reads the file for its own bus and for patterns with none, in one pass. The third
 * pass, or the 257th lookup, reads it once for every bus instead (a batch of names, or of odd
 * names with made-up buses, would otherwise read it again for each bus).
 */
const SCANS_BEFORE_ALL = 2;
const SCAN_ALL_AFTER = 256;
/** A batch of names of at most this many buses reads only theirs (prepareBatch). */
const FEW_BUSES = 4;

/**
 * Buses read together: every device is looked up under its modalias and its vfio flavour
 * (vfio_pci:, cc6711b0bf36), so one pass serves both.
 */
const READ_TOGETHER = new Map<string, readonly string[]>([
  ["pci", ["pci", "vfio_pci"]],
  ["vfio_pci", ["pci", "vfio_pci"]],
]);

/** libkmod's alias keys end at PATH_MAX - 1 bytes (alias_normalize). */
export const KEY_MAX = 4095;

function newGroup(bus: string | null): PrefixGroup {
  return { bus, exact: new Map(), byPrefix: new Map(), lengths: [], searches: 0 };
}

function addToGroup(group: PrefixGroup, prefix: string, ref: number, literal: boolean): void {
  if (prefix.length > KEY_MAX) {
    // depmod cuts the key: what is left of it is all literal.
    prefix = prefix.slice(0, KEY_MAX);
    literal = true;
  }
  if (literal) {
    const refs = group.exact.get(prefix);
    if (refs) refs.push(ref);
    else group.exact.set(prefix, [ref]);
    return;
  }
  const bucket = group.byPrefix.get(prefix);
  if (bucket) bucket.refs.push(ref);
  else group.byPrefix.set(prefix, { refs: [ref], entries: undefined, grams: undefined });
}

/** The distinct lengths of some prefixes, ascending. */
export function prefixLengths(prefixes: Iterable<string>): number[] {
  return [...new Set([...prefixes].map((p) => p.length))].sort((a, b) => a - b);
}

function finishGroup(group: PrefixGroup): PrefixGroup {
  group.lengths = prefixLengths(group.byPrefix.keys());
  return group;
}

const EMPTY_GROUP: PrefixGroup = finishGroup(newGroup(null));

function buildTrie(byPrefix: Map<string, Bucket>): RadixNode {
  const root = radixNode("", undefined);
  for (const [prefix, bucket] of byPrefix) {
    let node = root;
    let at = 0;
    for (;;) {
      if (at === prefix.length) {
        node.bucket = bucket;
        break;
      }
      node.children ??= new Map();
      const child = node.children.get(prefix.charCodeAt(at));
      if (!child) {
        node.children.set(prefix.charCodeAt(at), radixNode(prefix.slice(at), bucket));
        break;
      }
      let common = 1;
      while (common < child.label.length && child.label[common] === prefix[at + common]) common++;
      if (common < child.label.length) {
        // Split the edge: a new node for the shared part, the old child below it.
        const middle = radixNode(child.label.slice(0, common), undefined);
        child.label = child.label.slice(common);
        middle.children = new Map([[child.label.charCodeAt(0), child]]);
        node.children.set(middle.label.charCodeAt(0), middle);
        node = middle;
      } else node = child;
      at += common;
    }
  }
  return root;
}

/**
 * The longest literal run before any bracket (where a set begins, glibc's rules for what is a
 * member get subtle); none when a backslash makes escapes matter.
 */
function requiredLiteral(suffix: string): string {
  if (suffix.includes("\\")) return "";
  const bracket = suffix.indexOf("[");
  let longest = "";
  for (const run of (bracket < 0 ? suffix : suffix.slice(0, bracket)).split(/[*?]/)) {
    if (run.length > longest.length) longest = run;
  }
  return longest;
}

function indexed(alias: AliasLine): IndexedAlias {
  const found = alias.key.search(/[*?[]/);
  const wildcardAt = found < 0 ? alias.key.length : found;
  const first = alias.key.charCodeAt(0);
  // Only pci: and vfio_pci: patterns can be canonical PCI ones.
  const fields = first === 0x70 || first === 0x76 ? PCI_PATTERN.exec(alias.key) : null;
  const suffix = alias.key.slice(wildcardAt);
  return {
    alias,
    wildcardAt,
    suffix,
    required: fields ? "" : requiredLiteral(suffix),
    matcher: undefined,
    stamp: 0,
    pciValues: fields
      ? fields
          .slice(1)
          .map((field) => (field === undefined || field === "*" ? -1 : Number.parseInt(field, 16)))
      : undefined,
  };
}

export class AliasIndex {
  private readonly source: AliasSource;
  private readonly groups = new Map<string | null, PrefixGroup>();
  private readonly loaded = new Map<number, IndexedAlias | null>();
  /** Lookups so far, and a counter stamping candidates (see candidates). */
  private searches = 0;
  /** The fields of the canonical PCI modalias being looked up (readModaliasFields). */
  private readonly modaliasValues = [0, 0, 0, 0, 0, 0, 0];
  private stamp = 0;
  private allScanned = false;
  /** A batch said which buses its names have (prepareBatch): no pass over every bus for it. */
  private busesKnown = false;
  /** Passes over the source so far (before allScanned). */
  private scans = 0;
  /** Whether any pattern holds a wildcard (known once allScanned). */
  private anyWildcard = true;
  private walkKeys: WalkKey[] | undefined;
  /** busGroup's last bus and its group, kept once every bus is read. */
  private lastBus = "";
  private lastBusGroup: PrefixGroup | undefined;
  private readonly subtrees = new Map<string, GramIndex<WalkKey>>();

  constructor(source: AliasSource) {
    this.source = source;
  }

  /**
   * A batch of lookups is coming (resolve of many names) for names of BUSES (null: names with no
   * bus). Names of a few buses (devices asking for their driver and their vfio flavour) read
   * those buses' patterns as their first names come, once each, and nothing else: the pci and
   * vfio_pci patterns are a third of modules.alias. Names of many buses read every bus now, in
   * one pass, instead of bus by bus.
   */
  prepareBatch(buses: ReadonlySet<string | null>): void {
    if (this.allScanned) return;
    if (buses.size <= FEW_BUSES && !buses.has(null)) this.busesKnown = true;
    else this.scanAll();
  }

  /**
   * Every line that can match a name of BUS (`BUS:…`), for a batch that matches them its own way
   * (pci-batch.ts), in file order: the bus's lines, and the busless patterns whose literal
   * prefix is a start of BUS (searchGroup reaches those up to the name's `:`; a busless pattern
   * with no wildcard never equals a name holding one). One pass over the source.
   */
  linesFor(bus: string): { line: AliasLine; literal: boolean }[] {
    const found: { ref: number; literal: boolean }[] = [];
    this.source.scan([bus], true, (lineBus, prefix, ref, literal) => {
      if (lineBus === bus || (lineBus === null && !literal && bus.startsWith(prefix)))
        found.push({ ref, literal });
    });
    found.sort((a, b) => a.ref - b.ref);
    const lines: { line: AliasLine; literal: boolean }[] = [];
    for (const { ref, literal } of found) {
      const line = this.source.load(ref);
      if (line) lines.push({ line, literal });
    }
    return lines;
  }

  /** The group of `bus` (null: patterns with no bus), read with the busless one if not yet read. */
  private group(bus: string | null): PrefixGroup {
    const known = this.groups.get(bus);
    if (known) return known;
    const sorted = this.allScanned ? undefined : this.source.sorted?.(bus);
    if (sorted) {
      const group: PrefixGroup = { ...newGroup(bus), sorted };
      this.groups.set(bus, group);
      return group;
    }
    if (!this.allScanned && this.scans >= SCANS_BEFORE_ALL) this.scanAll();
    if (this.allScanned) return this.groups.get(bus) ?? EMPTY_GROUP;
    this.scans++;
    const buses = bus === null ? [] : (READ_TOGETHER.get(bus) ?? [bus]).filter((b) => !this.groups.has(b));
    const busless = !this.groups.has(null);
    const built = new Map<string | null, PrefixGroup>();
    for (const b of buses) built.set(b, newGroup(b));
    if (busless) built.set(null, newGroup(null));
    this.source.scan(buses, busless, (lineBus, prefix, ref, literal) => {
      const group = built.get(lineBus);
      if (group) addToGroup(group, prefix, ref, literal);
    });
    for (const [b, group] of built) this.groups.set(b, finishGroup(group));
    return this.groups.get(bus) as PrefixGroup;
  }

  /**
   * The group of KEY's bus (the part before COLON). Once every bus is read the groups stay as
   * they are, so the last bus's group is kept: a batch asks for the same one 200,000 times.
   */
  private busGroup(key: string, colon: number): PrefixGroup {
    const last = this.lastBusGroup;
    if (last && colon === this.lastBus.length && key.startsWith(this.lastBus)) return last;
    const bus = key.slice(0, colon);
    const group = this.group(bus);
    if (this.allScanned) {
      this.lastBus = bus;
      this.lastBusGroup = group;
    }
    return group;
  }

  /** Every group at once, in one pass over the source; afterwards an unknown bus has no patterns. */
  private scanAll(): void {
    const groups = new Map<string | null, PrefixGroup>();
    this.source.scanAll((bus, prefix, ref, literal) => {
      let group = groups.get(bus);
      if (!group) {
        group = newGroup(bus);
        groups.set(bus, group);
      }
      addToGroup(group, prefix, ref, literal);
    });
    this.groups.clear();
    for (const [bus, group] of groups) this.groups.set(bus, finishGroup(group));
    this.allScanned = true;
    this.anyWildcard = [...groups.values()].some((group) => group.byPrefix.size > 0);
  }

  /**
   * Every distinct key of the source in byte order, with its lines in file order: libkmod's
   * radix trie, kept implicit. The keys below a trie node are a run of this array, a node sits
   * where a key ends or the run's keys part ways, and a key that is a prefix of others comes
   * first in its run. Built on the first walk.
   */
  private sortedKeys(): WalkKey[] {
    if (!this.walkKeys) {
      const refsByKey = new Map<string, number[]>();
      this.source.keys((key, ref) => {
        const refs = refsByKey.get(key);
        if (refs) refs.push(ref);
        else refsByKey.set(key, [ref]);
      });
      const keys = [...refsByKey.keys()].sort();
      this.walkKeys = keys.map(
        (key): WalkKey => ({
          key,
          refs: refsByKey.get(key) as number[],
          aliases: undefined,
          runs: undefined,
          stamp: 0,
        }),
      );
    }
    return this.walkKeys;
  }

  /** The lines of a walk key, read when it first matches. */
  private linesOf(k: WalkKey): AliasLine[] {
    k.aliases ??= k.refs.map((ref) => this.source.load(ref)).filter((a): a is AliasLine => a !== undefined);
    return k.aliases;
  }

  /**
   * The exact emulation of index_mm_searchwild_node for a string that itself holds `*`, `?` or
   * `[`: the walk follows the string's characters literally, so it can step into a pattern's
   * wildcard child and find a pattern a second time (modprobe -R 'a:x*' lists a module twice).
   * Where the trie has a node depends on every key (`dmi` is one because of `dmi:` and `dmi*`
   * patterns), so this walks all of them: the run [low, high) of keys that start with the
   * string's first `depth` characters, narrowed by binary search one character at a time.
   */
  private walk(text: string): AliasLine[][] {
    // With no wildcard pattern (modules.symbols) the walk can only end on a key equal to the
    // string, and no such key exists: patterns without wildcards hold no `*`, `?` or `[`.
    if (!this.allScanned) this.scanAll();
    if (!this.anyWildcard) return [];
    const keys = this.sortedKeys();
    const out: AliasLine[][] = [];
    let low = 0;
    let high = keys.length;
    for (let depth = 0; low < high; depth++) {
      const first = (keys[low] as WalkKey).key;
      const endsHere = first.length === depth;
      const isNode =
        depth === 0 ||
        endsHere ||
        first.charCodeAt(depth) !== (keys[high - 1] as WalkKey).key.charCodeAt(depth);
      if (!isNode) {
        // Inside a node's prefix: one way on. A wildcard there sends the whole subtree to fnmatch.
        const c = first.charCodeAt(depth);
        if (c === STAR || c === QUESTION || c === OPEN) {
          this.visitSubtree(keys, low, high, depth, text, out);
          return out;
        }
        if (c !== text.charCodeAt(depth)) return out;
        continue;
      }
      // A node: its `*`, `?` and `[` children first, then the node itself when the string ends
      // here, else the child of the string's next character.
      // The children's characters run from the first key's (or, when that key ends here, the
      // second's) to the last key's: most nodes have no wildcard child to look for.
      const lowest = charAt(keys[endsHere ? low + 1 : low], depth);
      const highest = charAt(keys[high - 1], depth);
      for (const wildcard of [STAR, QUESTION, OPEN]) {
        if (wildcard < lowest || wildcard > highest) continue;
        const from = firstAtLeast(keys, low, high, depth, wildcard);
        const to = firstAtLeast(keys, from, high, depth, wildcard + 1);
        if (from < to) this.visitSubtree(keys, from, to, depth, text, out);
      }
      if (depth === text.length) {
        if (endsHere) out.push(this.linesOf(keys[low] as WalkKey));
        return out;
      }
      const c = text.charCodeAt(depth);
      // index_mm_readchild takes a (signed) char: a byte above 0x7f finds no child.
      if (c > 0x7f) return out;
      low = firstAtLeast(keys, low, high, depth, c);
      high = firstAtLeast(keys, low, high, depth, c + 1);
    }
    return out;
  }

  /**
   * The subtree visit of index_mm_searchwild_all on the keys [low, high): every key whose rest
   * from `depth` fnmatches the string's rest; children in byte order and a node after its
   * children. A key can match only if the rest holds each of its literal runs from `depth` on;
   * a big subtree (of:N's `*` child holds 1,974 keys) is indexed once by a trigram of each key's
   * runs, and only keys whose trigram occurs in the rest are tried.
   */
  private visitSubtree(
    keys: readonly WalkKey[],
    low: number,
    high: number,
    depth: number,
    text: string,
    out: AliasLine[][],
  ): void {
    const rest = text.slice(depth);
    const matched: WalkKey[] = [];
    const consider = (k: WalkKey) => {
      for (const [at, run] of k.runs as [number, string][]) {
        if (at >= depth && !rest.includes(run)) return;
      }
      if (fnmatchBytes(k.key.slice(depth), rest)) matched.push(k);
    };
    if (high - low < BIG_BUCKET) {
      for (let i = low; i < high; i++) {
        const k = keys[i] as WalkKey;
        k.runs ??= literalRuns(k.key);
        consider(k);
      }
    } else {
      const index = this.subtreeIndex(keys, low, high, depth);
      const stamp = ++this.stamp;
      for (const k of index.always) consider(k);
      for (let i = 0; i + 3 <= rest.length; i++) {
        const list = index.byGram.get(gram(rest, i));
        if (!list) continue;
        for (const k of list) {
          if (k.stamp === stamp) continue;
          k.stamp = stamp;
          consider(k);
        }
      }
    }
    if (matched.length > 1) {
      matched.sort((a, b) => compareVisitOrder({ ...a, wildcardAt: depth }, { ...b, wildcardAt: depth }));
    }
    for (const k of matched) out.push(this.linesOf(k));
  }

  /** The keys [low, high) filed by the rarest trigram of their runs from `depth` on. */
  private subtreeIndex(
    keys: readonly WalkKey[],
    low: number,
    high: number,
    depth: number,
  ): GramIndex<WalkKey> {
    const id = `${low} ${high} ${depth}`;
    let index = this.subtrees.get(id);
    if (!index) {
      const range = keys.slice(low, high);
      for (const k of range) k.runs ??= literalRuns(k.key);
      index = gramIndex(range, (k) =>
        (k.runs as [number, string][]).filter(([at]) => at >= depth).map(([, run]) => run),
      );
      this.subtrees.set(id, index);
    }
    return index;
  }

  /**
   * The entries of a bucket that may match `rest`. A big bucket (of:N holds 1,974 patterns,
   * acpi 769) is indexed once by a trigram of each pattern's required literal, and only entries
   * whose trigram occurs in `rest` are tried.
   */
  private candidates(bucket: Bucket, rest: string | undefined, canonicalPci: boolean): IndexedAlias[] {
    bucket.entries ??= bucket.refs.map((ref) => this.entry(ref)).filter((e): e is IndexedAlias => e !== null);
    // Canonical PCI patterns are compared field by field, which is cheaper than any index.
    if (bucket.entries.length < BIG_BUCKET || canonicalPci || rest === undefined) return bucket.entries;
    bucket.grams ??= gramIndex(bucket.entries, (entry) => [entry.required]);
    const grams = bucket.grams;
    const stamp = ++this.stamp;
    const found: IndexedAlias[] = [];
    for (const entry of grams.always) {
      entry.stamp = stamp;
      found.push(entry);
    }
    for (let i = 0; i + 3 <= rest.length; i++) {
      const list = grams.byGram.get(gram(rest, i));
      if (!list) continue;
      for (const entry of list) {
        if (entry.stamp === stamp) continue; // its trigram occurs twice in rest
        entry.stamp = stamp;
        found.push(entry);
      }
    }
    return found;
  }

  private entry(ref: number): IndexedAlias | null {
    let entry = this.loaded.get(ref);
    if (entry === undefined) {
      const alias = this.source.load(ref);
      entry = alias ? indexed(alias) : null;
      this.loaded.set(ref, entry);
    }
    return entry;
  }

  /**
   * Every pattern that matches `key`, grouped by pattern in the order libkmod's walk visits
   * them (see compareVisitOrder); within a group, in file order.
   */
  search(key: string): AliasLine[][] {
    if (WILDCARD_CHAR.test(key)) return this.walk(key);
    const found: Found[] = [];
    if (++this.searches > SCAN_ALL_AFTER && !this.allScanned && !this.busesKnown) this.scanAll();
    const colon = key.indexOf(":");
    // A canonical PCI modalias: its fields are read once and compared as numbers.
    const canonicalPci = readModaliasFields(key, this.modaliasValues);
    // The bus's group first: reading it reads the busless one in the same pass.
    const busGroup = colon >= 0 ? this.busGroup(key, colon) : undefined;
    // A busless pattern holds no ':' before its first wildcard: for a key with a bus, only its
    // literal prefixes up to the colon can match, and no busless exact pattern can.
    this.searchGroup(this.group(null), key, colon < 0 ? key.length : colon, canonicalPci, found);
    if (busGroup) this.searchGroup(busGroup, key, key.length, canonicalPci, found);
    // most names of a batch match nothing, or one pattern: nothing to sort then
    if (found.length === 0) return [];
    if (found.length > 1) found.sort(compareVisitOrder);
    // Lines of one pattern in file order (a trigram index yields candidates out of order).
    const groups: AliasLine[][] = [];
    for (const f of found) {
      if (f.aliases.length > 1) f.aliases.sort(byPriority);
      groups.push(f.aliases);
    }
    return groups;
  }

  /** The group's patterns that match `key`, whose literal prefixes are at most `reach` long. */
  private searchGroup(
    group: PrefixGroup,
    key: string,
    reach: number,
    canonicalPci: boolean,
    found: Found[],
  ): void {
    const exact =
      reach < key.length ? undefined : group.sorted ? group.sorted.exact(key) : group.exact.get(key);
    if (exact) {
      const aliases: AliasLine[] = [];
      for (const ref of exact) {
        const entry = this.entry(ref);
        if (entry) aliases.push(entry.alias);
      }
      if (aliases.length > 0) found.push({ key, wildcardAt: key.length, aliases });
    }
    const lengths = group.sorted ? group.sorted.lengths : group.lengths;
    if (lengths.length === 0) return;
    if (!group.batch && ++group.searches > TRIE_AFTER) {
      if (group.sorted) this.fill(group);
      group.batch = true;
    }
    if (!group.batch) {
      for (const length of lengths) {
        if (length > reach) break;
        const bucket = this.bucketOf(group, key.slice(0, length));
        if (bucket) this.searchBucket(bucket, key, length, canonicalPci, found);
      }
      return;
    }
    // (the busless group's prefixes hold no `:`: its trie walk stops at the modalias's first one)
    if (canonicalPci && group.bus !== null) {
      group.pci ??= pciIndex(group.byPrefix);
      this.keyNow = key;
      this.foundNow = found;
      const values = this.modaliasValues;
      group.pci.forEachCandidate(values[0] as number, values[1] as number, this.checkPciSlot);
      return;
    }
    group.root ??= buildTrie(group.byPrefix);
    let node: RadixNode | undefined = group.root;
    let at = 0;
    for (;;) {
      if (node.bucket) this.searchBucket(node.bucket, key, at, canonicalPci, found);
      if (at >= key.length) return;
      node = node.children?.get(key.charCodeAt(at));
      if (!node || !key.startsWith(node.label, at)) return;
      at += node.label.length;
    }
  }

  /** The bucket of a literal prefix; for a sorted group, looked up in place and kept. */
  private bucketOf(group: PrefixGroup, prefix: string): Bucket | undefined {
    const known = group.byPrefix.get(prefix);
    if (known || !group.sorted) return known;
    const refs = group.sorted.prefixed(prefix);
    if (!refs) return undefined;
    const bucket: Bucket = { refs: [...refs], entries: undefined, grams: undefined };
    group.byPrefix.set(prefix, bucket);
    return bucket;
  }

  /**
   * A sorted group that serves a batch gets its maps, from one read of the source's list for
   * its bus (the buckets already found, with their parsed lines, are kept).
   */
  private fill(group: PrefixGroup): void {
    const found = group.byPrefix;
    group.byPrefix = new Map();
    group.sorted = undefined;
    const visit = (_bus: string | null, prefix: string, ref: number, literal: boolean) => {
      const bucket = literal ? undefined : found.get(prefix);
      if (bucket) group.byPrefix.set(prefix, bucket);
      else addToGroup(group, prefix, ref, literal);
    };
    if (group.bus === null) this.source.scan([], true, visit);
    else this.source.scan([group.bus], false, visit);
    finishGroup(group);
  }

  private searchBucket(
    bucket: Bucket,
    key: string,
    length: number,
    canonicalPci: boolean,
    found: Found[],
  ): void {
    // A canonical PCI modalias is compared field by field in place: no rest to cut then.
    let rest = canonicalPci ? undefined : key.slice(length);
    const candidates = this.candidates(bucket, rest, canonicalPci);
    for (let i = 0; i < candidates.length; i++) {
      const entry = candidates[i] as IndexedAlias;
      let matches: boolean;
      if (canonicalPci && entry.pciValues) matches = fieldsMatch(entry.pciValues, this.modaliasValues);
      else {
        rest ??= key.slice(length);
        matches = rest.includes(entry.required);
        if (matches) {
          entry.matcher ??= compileMatcher(entry.suffix);
          matches = entry.matcher(rest);
        }
      }
      if (matches) addFound(entry, found);
    }
  }

  /** The key being looked up and its `found`, for checkPciSlot (one function for every search). */
  private keyNow = "";
  private foundNow: Found[] = [];

  /** Adds a candidate of the PCI index to `found` when it matches the canonical modalias keyNow. */
  private readonly checkPciSlot = (slot: PciSlot): void => {
    if (slot.entry === undefined) slot.entry = this.entry(slot.ref);
    const entry = slot.entry;
    if (entry === null) return;
    let matches: boolean;
    if (entry.pciValues) matches = fieldsMatch(entry.pciValues, this.modaliasValues);
    else {
      // the literal prefix only fixed some fields: the whole pattern decides
      const key = this.keyNow;
      matches = key.startsWith(slot.prefix) && key.includes(entry.required, entry.wildcardAt);
      if (matches) {
        entry.matcher ??= compileMatcher(entry.suffix);
        matches = entry.matcher(key.slice(entry.wildcardAt));
      }
    }
    if (matches) addFound(entry, this.foundNow);
  };
}

/** A pattern in a group's PCI index: its line, read when it is first a candidate. */
interface PciSlot {
  ref: number;
  prefix: string;
  entry: IndexedAlias | null | undefined;
}

/** The patterns of a group with a wildcard, filed by the vendor and device of their prefix. */
function pciIndex(byPrefix: Map<string, Bucket>): PciPrefixIndex<PciSlot> {
  const index = new PciPrefixIndex<PciSlot>();
  for (const [prefix, bucket] of byPrefix) {
    for (const ref of bucket.refs) index.add({ ref, prefix, entry: undefined });
  }
  return index;
}

const byPriority = (a: AliasLine, b: AliasLine) => a.priority - b.priority;

/** Adds a matching pattern's line to FOUND: lines of one pattern are one trie node, kept together in file order. */
function addFound(entry: IndexedAlias, found: Found[]): void {
  for (const f of found) {
    if (f.key === entry.alias.key) {
      f.aliases.push(entry.alias);
      return;
    }
  }
  found.push({ key: entry.alias.key, wildcardAt: entry.wildcardAt, aliases: [entry.alias] });
}

/** A pattern that matched a lookup: its key, where its first wildcard is, its lines. */
interface Found {
  key: string;
  wildcardAt: number;
  aliases: AliasLine[];
}

/** An index key in the walk: a distinct pattern and its lines in file order. */
interface WalkKey {
  key: string;
  /** Its lines' references, in file order. */
  refs: number[];
  /** Its lines, read when it first matches. */
  aliases: AliasLine[] | undefined;
  /** literalRuns(key), computed when the walk first meets the key. */
  runs: [at: number, run: string][] | undefined;
  /** The visit that last considered this key (see visitSubtree). */
  stamp: number;
}

/** A key's character at `depth`, -1 past its end (or for no key). */
function charAt(k: WalkKey | undefined, depth: number): number {
  return k && depth < k.key.length ? k.key.charCodeAt(depth) : -1;
}

/** Items filed by a trigram that any string they can match contains; `always` for the others. */
interface GramIndex<T> {
  byGram: Map<number, T[]>;
  always: T[];
}

/**
 * Files each item under the rarest trigram of its required runs (any of them must occur in a
 * string it matches): `v00` starts nearly every hid pattern's literal, `52B` almost none.
 */
function gramIndex<T>(items: readonly T[], required: (item: T) => string[]): GramIndex<T> {
  // How common each trigram is, counted under a 16-bit hash (a collision only makes a trigram
  // look commoner than it is; the filing itself uses the exact trigram).
  const counts = new Uint32Array(1 << 16);
  const hash = (key: number) => (key ^ (key >>> 13)) & 0xffff;
  const runsOf = items.map(required);
  for (const runs of runsOf) {
    for (const run of runs) {
      for (let i = 0; i + 3 <= run.length; i++) {
        const at = hash(gram(run, i));
        counts[at] = (counts[at] as number) + 1;
      }
    }
  }
  const index: GramIndex<T> = { byGram: new Map(), always: [] };
  for (let n = 0; n < items.length; n++) {
    let rarest = -1;
    let rarestCount = 0;
    for (const run of runsOf[n] as string[]) {
      for (let i = 0; i + 3 <= run.length; i++) {
        const key = gram(run, i);
        const count = counts[hash(key)] as number;
        if (rarest < 0 || count < rarestCount) {
          rarest = key;
          rarestCount = count;
        }
      }
    }
    const item = items[n] as T;
    if (rarest < 0) index.always.push(item);
    else {
      const list = index.byGram.get(rarest);
      if (list) list.push(item);
      else index.byGram.set(rarest, [item]);
    }
  }
  return index;
}

/**
 * The runs of plain characters after a key's first wildcard, with their positions, up to its
 * first bracket: the part of the key from any depth on matches a string only if that string
 * contains every run that starts at or after that depth. None when a backslash makes escapes
 * matter.
 */
function literalRuns(key: string): [number, string][] {
  const runs: [number, string][] = [];
  const first = key.search(/[*?[]/);
  if (first < 0 || key.includes("\\", first)) return runs;
  let start = -1;
  let i = first;
  for (; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c === OPEN) break;
    if (c === STAR || c === QUESTION) {
      if (start >= 0) runs.push([start, key.slice(start, i)]);
      start = -1;
    } else if (start < 0) start = i;
  }
  if (start >= 0) runs.push([start, key.slice(start, i)]);
  return runs;
}

const WILDCARD_CHAR = /[*?[]/;
const STAR = 0x2a;
const QUESTION = 0x3f;
const OPEN = 0x5b;

/**
 * The first index in [low, high) whose key's character at `depth` is at least `c`, in a run of
 * keys sharing their first `depth` characters (a key that ends at `depth` counts as -1).
 */
function firstAtLeast(keys: readonly WalkKey[], low: number, high: number, depth: number, c: number): number {
  let lo = low;
  let hi = high;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const key = (keys[mid] as WalkKey).key;
    const at = depth < key.length ? key.charCodeAt(depth) : -1;
    if (at < c) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The order of index_mm_searchwild_node: walking down the string, at each depth it visits the
 * subtrees under a `*`, `?` and `[` child before going one character deeper, and the node
 * where the string ends after that node's wildcard children. Inside a subtree
 * (index_mm_searchwild_all) children come in byte order and a node after its children. So the
 * pattern whose first wildcard comes earlier is found first; at the same depth, byte order
 * decides, and a pattern comes after the longer patterns it is a prefix of.
 */
export function compareVisitOrder(
  a: { key: string; wildcardAt: number },
  b: { key: string; wildcardAt: number },
): number {
  if (a.wildcardAt !== b.wildcardAt) return a.wildcardAt - b.wildcardAt;
  for (let j = a.wildcardAt; ; j++) {
    const aEnded = j >= a.key.length;
    const bEnded = j >= b.key.length;
    if (aEnded && bEnded) return 0;
    if (aEnded) return 1;
    if (bEnded) return -1;
    const diff = a.key.charCodeAt(j) - b.key.charCodeAt(j);
    if (diff !== 0) return diff;
  }
}

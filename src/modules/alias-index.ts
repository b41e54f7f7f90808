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
import type { AliasLine, AliasSource } from "./alias-file.ts";
import { fnmatch } from "./fnmatch.ts";

interface IndexedAlias {
  alias: AliasLine;
  /** Position of the first `*`, `?` or `[`; the pattern's length when it has none. */
  wildcardAt: number;
  /** The pattern from wildcardAt on, matched with fnmatch against the string from there. */
  suffix: string;
  /** For canonical PCI patterns: the seven fields, null where the pattern has `*`. */
  pciFields: (string | null)[] | undefined;
}

const PCI_PATTERN =
  /^(?:vfio_)?pci:v([0-9A-F]{8}|\*)d([0-9A-F]{8}|\*)sv([0-9A-F]{8}|\*)sd([0-9A-F]{8}|\*)bc([0-9A-F]{2}|\*)sc([0-9A-F]{2}|\*)i(?:([0-9A-F]{2})\*|\*)$/;
const PCI_MODALIAS =
  /^(?:vfio_)?pci:v([0-9A-F]{8})d([0-9A-F]{8})sv([0-9A-F]{8})sd([0-9A-F]{8})bc([0-9A-F]{2})sc([0-9A-F]{2})i([0-9A-F]{2})$/;

/** The patterns of one bus (or of none), by literal prefix. */
interface PrefixGroup {
  byPrefix: Map<string, number[]>;
  /** Distinct literal-prefix lengths present, ascending. */
  lengths: number[];
}

function indexed(alias: AliasLine): IndexedAlias {
  const found = alias.key.search(/[*?[]/);
  const wildcardAt = found < 0 ? alias.key.length : found;
  const fields = PCI_PATTERN.exec(alias.key);
  return {
    alias,
    wildcardAt,
    suffix: alias.key.slice(wildcardAt),
    pciFields: fields ? fields.slice(1).map((f) => (f === undefined || f === "*" ? null : f)) : undefined,
  };
}

export class AliasIndex {
  private readonly source: AliasSource;
  private readonly groups = new Map<string | null, PrefixGroup>();
  private readonly loaded = new Map<number, IndexedAlias | null>();

  constructor(source: AliasSource) {
    this.source = source;
  }

  private group(bus: string | null): PrefixGroup {
    let group = this.groups.get(bus);
    if (!group) {
      const byPrefix = new Map<string, number[]>();
      const lengths = new Set<number>();
      this.source.scan(bus, (prefix, ref) => {
        const refs = byPrefix.get(prefix);
        if (refs) refs.push(ref);
        else {
          byPrefix.set(prefix, [ref]);
          lengths.add(prefix.length);
        }
      });
      group = { byPrefix, lengths: [...lengths].sort((a, b) => a - b) };
      this.groups.set(bus, group);
    }
    return group;
  }

  /**
   * The exact emulation of index_mm_searchwild_node for a string that itself holds `*`, `?` or
   * `[`: the walk follows the string's characters literally, so it can step into a pattern's
   * wildcard child and find a pattern a second time (modprobe -R 'a:x*' lists a module twice).
   * Where the radix trie has a node depends on all the keys, so this works on all of them;
   * such strings are rare and this path is slow.
   */
  private walk(text: string): AliasLine[][] {
    const byKey = new Map<string, AliasLine[]>();
    const colon = text.indexOf(":");
    for (const group of colon < 0
      ? [this.group(null)]
      : [this.group(null), this.group(text.slice(0, colon))]) {
      for (const refs of group.byPrefix.values()) {
        for (const ref of refs) {
          const entry = this.entry(ref);
          if (!entry) continue;
          const list = byKey.get(entry.alias.key);
          if (list) list.push(entry.alias);
          else byKey.set(entry.alias.key, [entry.alias]);
        }
      }
    }
    let keys: WalkKey[] = [...byKey].map(([key, aliases]) => ({ key, aliases }));
    const out: AliasLine[][] = [];
    for (let depth = 0; ; depth++) {
      keys = keys.filter((k) => k.key.startsWith(text.slice(0, depth)));
      if (keys.length === 0) return out;
      const endsHere = keys.some((k) => k.key.length === depth);
      const next = new Set(keys.filter((k) => k.key.length > depth).map((k) => k.key[depth]));
      const isNode = depth === 0 || endsHere || next.size > 1;
      if (!isNode) {
        // Inside a node's prefix: one way on. A wildcard there sends the whole subtree to fnmatch.
        const c = [...next][0];
        if (isWildcard(c)) {
          visitSubtree(keys, depth, text, out);
          return out;
        }
        if (c !== text[depth]) return out;
        continue;
      }
      for (const wildcard of ["*", "?", "["]) {
        const child = keys.filter((k) => k.key[depth] === wildcard);
        if (child.length > 0) visitSubtree(child, depth, text, out);
      }
      if (depth === text.length) {
        const here = keys.find((k) => k.key.length === depth);
        if (here) out.push(here.aliases);
        return out;
      }
    }
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
    const found: { key: string; wildcardAt: number; aliases: AliasLine[] }[] = [];
    const colon = key.indexOf(":");
    const groups = colon < 0 ? [this.group(null)] : [this.group(null), this.group(key.slice(0, colon))];
    const pciFields = colon === 3 || colon === 8 ? PCI_MODALIAS.exec(key) : null;
    for (const group of groups) {
      for (const length of group.lengths) {
        if (length > key.length) break;
        const refs = group.byPrefix.get(key.slice(0, length));
        if (!refs) continue;
        const rest = key.slice(length);
        for (const ref of refs) {
          const entry = this.entry(ref);
          if (!entry) continue;
          const matches =
            pciFields && entry.pciFields
              ? fieldsMatch(entry.pciFields, pciFields)
              : fnmatch(entry.suffix, rest);
          if (!matches) continue;
          // Lines with the same pattern are one trie node: keep them together, in file order.
          const same = found.find((f) => f.key === entry.alias.key);
          if (same) same.aliases.push(entry.alias);
          else found.push({ key: entry.alias.key, wildcardAt: entry.wildcardAt, aliases: [entry.alias] });
        }
      }
    }
    if (found.length > 1) found.sort(compareVisitOrder);
    return found.map((f) => f.aliases);
  }
}

/** An index key in the walk: a distinct pattern and its lines in file order. */
interface WalkKey {
  key: string;
  aliases: AliasLine[];
}

const WILDCARD_CHAR = /[*?[]/;
const isWildcard = (c: string | undefined) => c === "*" || c === "?" || c === "[";

/**
 * The subtree visit of index_mm_searchwild_all: every key below depth i whose rest fnmatches
 * the string's rest, children in byte order and a node after its children.
 */
function visitSubtree(keys: WalkKey[], depth: number, text: string, out: AliasLine[][]): void {
  const rest = text.slice(depth);
  const matched = keys.filter((k) => fnmatch(k.key.slice(depth), rest));
  matched.sort((a, b) => compareVisitOrder({ ...a, wildcardAt: depth }, { ...b, wildcardAt: depth }));
  for (const k of matched) out.push(k.aliases);
}

function fieldsMatch(pattern: (string | null)[], modalias: RegExpExecArray): boolean {
  for (let i = 0; i < 7; i++) {
    const want = pattern[i];
    if (want !== null && want !== modalias[i + 1]) return false;
  }
  return true;
}

/**
 * The order of index_mm_searchwild_node: walking down the string, at each depth it visits the
 * subtrees under a `*`, `?` and `[` child before going one character deeper, and the node
 * where the string ends after that node's wildcard children. Inside a subtree
 * (index_mm_searchwild_all) children come in byte order and a node after its children. So the
 * pattern whose first wildcard comes earlier is found first; at the same depth, byte order
 * decides, and a pattern comes after the longer patterns it is a prefix of.
 */
function compareVisitOrder(
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

// Which modules' alias patterns can match one common device. Patterns in file2alias's
// fixed-field form — pci (pci-pattern.ts), usb, hid, pcmcia, … (field-pattern.ts) — are
// compared field by field, as the devices' modaliases are built, with `pci:` and `vfio_pci:`
// patterns of the same fields reported apart as flavour-separated; every other pattern by
// exact glob intersection (glob-intersection.ts). Candidate pairs come from indexes, never
// from all n² pairs: field patterns by their two key fields (vendor, device), globs by
// literal prefix (two patterns can only meet when one's literal prefix starts the other's).
// The work and the report are bounded (limits.ts): n patterns may make n² pairs.
import { fnmatch } from "../modules/fnmatch.ts";
import {
  commonFieldModalias,
  FIELD_FORMATS,
  type FieldFormat,
  type FieldPattern,
  fieldsContain,
  fieldsIntersect,
  parseFieldPattern,
} from "./field-pattern.ts";
import { type Glob, parseGlob, withoutCommonEnds } from "./glob.ts";
import { commonString, contains, endsCompatible, intersects } from "./glob-intersection.ts";
import { Budget, LIMITS, LimitError } from "./limits.ts";
import { commonModalias, type PciPattern, parsePciPattern, pciFields, pciPrefix } from "./pci-pattern.ts";

/** One alias line as an input of the analysis. */
export interface AliasInput {
  /** As libkmod matches it: normalizeAlias's key (`-` as `_` outside brackets). */
  pattern: string;
  module: string;
  /** Where the line comes from, for the report (file:line). */
  origin?: string;
  /** The pattern as the file writes it, when that is not `pattern`. */
  written?: string;
}

export type PairClass = "identical" | "shadows" | "partial" | "flavour-separated";

/** Two patterns of two modules that can match one device. */
export interface PatternOverlap {
  a: AliasInput;
  b: AliasInput;
  class: PairClass;
  /** For "shadows": the module whose pattern matches every device the other's does. */
  wider?: string;
  /**
   * A modalias both match: `a` matches `example`, `b` matches `exampleB` (the same unless
   * flavour-separated). Computed (and checked with fnmatch) for every pair of a specific
   * overlap, and for the first pair of a generic one (thousands of pairs share its answer);
   * only for the first pair unless findOverlaps is asked for every example.
   */
  example?: string;
  exampleB?: string;
}

export interface ModuleOverlap {
  modules: [string, string];
  bus: string;
  /** The strongest relation among the pattern pairs: identical > shadows > partial > flavour-separated. */
  class: PairClass;
  /** Set when the pairs involve a generic pattern (see isGeneric). */
  generic: boolean;
  /** The pattern pairs; for a generic overlap only the first (its `pairCount` says how many). */
  pairs: PatternOverlap[];
  pairCount: number;
  kernel: string;
}

export interface OverlapReport {
  overlaps: ModuleOverlap[];
  /** Module pairs by class, generic ones counted apart. */
  counts: Record<PairClass | "generic", number>;
  patterns: number;
}

const RANK: Record<PairClass, number> = { identical: 3, shadows: 2, partial: 1, "flavour-separated": 0 };
const CLASS_OF_RANK: readonly PairClass[] = ["flavour-separated", "partial", "shadows", "identical"];

/**
 * The module pairs found on one bus, generic ones apart: first module, then second (in name
 * order), to its overlap (undefined: only counted). Tables of module names, not keys built
 * for each of thousands of pattern pairs.
 */
interface PairTable {
  bus: string;
  generic: boolean;
  rows: Map<string, Map<string, ModuleOverlap | undefined>>;
}

/**
 * A bus as findOverlaps's loop reads its patterns: whether it is pci's (or vfio_pci's), whether
 * it is compared, and its file2alias form while all its patterns so far are in it.
 */
interface BusState {
  bus: string;
  pci: boolean;
  compared: boolean;
  format: FieldFormat | undefined;
  /** Its field patterns (fieldBuses's entry), from the first one on. */
  patterns: FieldBus | undefined;
  /** Its patterns compared as globs (globs's entry), from the first one on. */
  globs: GlobItem[] | undefined;
}

/** A bus's field patterns: all, and apart those naming no device (FieldFormat.generic) and the others. */
interface FieldBus {
  format: FieldFormat;
  items: FieldItem[];
  generic: FieldItem[];
  specific: FieldItem[];
}

/** A field pattern and its line (one object: there are thousands). */
interface FieldItem extends FieldPattern {
  input: AliasInput;
}

function fieldItem(input: AliasInput, parsed: FieldPattern): FieldItem {
  return { prefix: parsed.prefix, fields: parsed.fields, masks: parsed.masks, input };
}

/** do_pci_entry's form (pci-pattern.ts): candidates bucketed by vendor and device. */
const PCI_FORMAT: FieldFormat = {
  markers: ["v", "d", "sv", "sd", "bc", "sc", "i"],
  widths: [8, 8, 8, 8, 2, 2, 2],
  keys: [0, 1],
  generic: (fields) => isGeneric(fields),
};

/**
 * `buses`: the buses to compare (undefined: all). `listGeneric`: false leaves the generic
 * pairs out of `overlaps` (they are still counted) — thousands of them, which a terminal
 * report does not print. `everyExample`: false gives only each overlap's first pair an
 * example (the one a terminal report prints).
 */
export function findOverlaps(
  inputs: readonly AliasInput[],
  buses?: ReadonlySet<string>,
  listGeneric = true,
  everyExample = true,
): OverlapReport {
  const budget = new Budget();
  let modulePairs = 0;
  let patternPairs = 0;
  const tables: PairTable[] = [];
  const tableOf = (bus: string, generic: boolean): PairTable => {
    const table = { bus, generic, rows: new Map() };
    tables.push(table);
    return table;
  };
  let genericCounted = 0;
  const add = (table: PairTable, overlap: PatternOverlap, count = 1) => {
    const swap = overlap.a.module > overlap.b.module;
    const first = swap ? overlap.b.module : overlap.a.module;
    const second = swap ? overlap.a.module : overlap.b.module;
    let row = table.rows.get(first);
    if (!row) {
      row = new Map();
      table.rows.set(first, row);
    }
    if (table.generic && !listGeneric) {
      const size = row.size;
      row.set(second, undefined); // neither listed nor classified: only counted
      if (row.size > size) countModulePair(overlap);
      return;
    }
    let entry = row.get(second);
    if (!entry) {
      countModulePair(overlap);
      const { bus, generic } = table;
      entry = {
        modules: [first, second],
        bus,
        class: overlap.class,
        generic,
        pairs: [],
        pairCount: 0,
        kernel: "",
      };
      row.set(second, entry);
    }
    if (!table.generic || entry.pairs.length === 0) {
      if (++patternPairs > LIMITS.patternPairs) {
        budget.at = overlap.a;
        budget.exceeded(`more than ${LIMITS.patternPairs} pattern pairs overlap (the limit)`);
      }
      entry.pairs.push(overlap);
    }
    entry.pairCount += count;
    if (RANK[overlap.class] > RANK[entry.class]) entry.class = overlap.class;
  };
  // a generic pattern's pair with a module already paired with its own: only counted and
  // ranked (the overlap keeps its first pair); the pair is made only for a new module pair
  const addGenericField = (
    table: PairTable,
    g: FieldItem,
    y: FieldItem,
    strongest: number,
    count: number,
  ) => {
    const m = g.input.module;
    const n = y.input.module;
    let entry = m < n ? table.rows.get(m)?.get(n) : table.rows.get(n)?.get(m);
    if (!entry) {
      add(table, fieldOverlap(g, y) as PatternOverlap, count);
      entry = (m < n ? table.rows.get(m)?.get(n) : table.rows.get(n)?.get(m)) as ModuleOverlap;
    } else entry.pairCount += count;
    if (strongest > RANK[entry.class]) entry.class = CLASS_OF_RANK[strongest] as PairClass;
  };
  const countModulePair = (overlap: PatternOverlap) => {
    if (++modulePairs <= LIMITS.modulePairs) return;
    budget.at = overlap.a;
    budget.exceeded(`more than ${LIMITS.modulePairs} module pairs overlap (the limit)`);
  };
  const fieldBuses = new Map<string, FieldBus>();
  const globs = new Map<string, GlobItem[]>();
  const addGlob = (state: BusState, input: AliasInput) => {
    if (!state.globs) {
      state.globs = [];
      globs.set(state.bus, state.globs);
    }
    state.globs.push(new GlobItem(input));
  };
  const fieldBusOf = (bus: string, format: FieldFormat): FieldBus => {
    const group = { format, items: [], generic: [], specific: [] };
    fieldBuses.set(bus, group);
    return group;
  };
  const addField = (group: FieldBus, item: FieldItem) => {
    group.items.push(item);
    (group.format.generic(item.fields) ? group.generic : group.specific).push(item);
  };
  const comparesPci = !buses || buses.has("pci");
  let pciPatterns: FieldBus | undefined;
  const deviceless: AliasInput[] = [];
  // a module's patterns come together and mostly share a bus: what the loop needs to know of
  // it is looked up once per run of them (and the run's one string is what the maps hash)
  const states = new Map<string, BusState>();
  let state: BusState | undefined;
  for (const input of inputs) {
    const pattern = input.pattern;
    if (pattern.length > LIMITS.patternBytes) tooLong(input);
    const sameBus =
      state !== undefined && pattern.startsWith(state.bus) && pattern.charCodeAt(state.bus.length) === 0x3a;
    if (!sameBus) {
      const bus = busOf(pattern);
      state = states.get(bus);
      if (!state) {
        const pci = bus === "pci" || bus === "vfio_pci";
        state = {
          bus,
          pci,
          compared: !buses || buses.has(bus),
          format: FIELD_FORMATS.get(bus),
          patterns: undefined,
          globs: undefined,
        };
        states.set(bus, state);
      }
    }
    const current = state as BusState;
    const pci = current.pci ? pciFields(pattern) : undefined;
    if (pci) {
      const item = { prefix: pciPrefix(pattern), fields: pci, masks: undefined, input };
      if (comparesPci) {
        pciPatterns ??= fieldBusOf("pci", PCI_FORMAT);
        addField(pciPatterns, item);
      }
      continue;
    }
    if (!current.compared) continue;
    const { bus, format } = current;
    if (format) {
      const fields = parseFieldPattern(pattern, bus, format);
      if (fields) {
        current.patterns ??= fieldBusOf(bus, format);
        addField(current.patterns, fieldItem(input, fields));
        continue;
      }
      if (fields === null) {
        deviceless.push(input); // matches no device
        continue;
      }
      // a pattern not in file2alias's form: every pattern of the bus compared as a glob
      current.format = undefined;
      for (const item of current.patterns?.items ?? []) addGlob(current, item.input);
      fieldBuses.delete(bus);
    }
    addGlob(current, input);
  }
  for (const input of deviceless) {
    const of = states.get(busOf(input.pattern)) as BusState;
    if (of.format === undefined) addGlob(of, input);
  }
  for (const [bus, { format, items, generic, specific }] of fieldBuses) {
    const pairs = tableOf(bus, false);
    fieldCandidates(specific, format, budget, (x, y) => {
      const overlap = fieldOverlap(x, y);
      if (overlap) add(pairs, overlap);
    });
    const genericPairsOf = tableOf(bus, true);
    if (listGeneric)
      genericPairs(generic, items, format, budget, (g, y, strongest, count) =>
        addGenericField(genericPairsOf, g, y, strongest, count),
      );
    else {
      const counted = countGenericPairs(generic, items, format, budget, LIMITS.modulePairs - modulePairs);
      genericCounted += counted;
      modulePairs += counted;
    }
  }
  for (const [bus, items] of globs) {
    const specific: GlobItem[] = [];
    const generic: GlobItem[] = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as GlobItem;
      (item.generic ? generic : specific).push(item);
    }
    const memo = new Map<string, GlobRelation>();
    const pairs = tableOf(bus, false);
    globCandidates(specific, budget, (x, y) => {
      const overlap = globOverlap(x, y, memo, budget);
      if (overlap) add(pairs, overlap);
    });
    const genericPairsOf = tableOf(bus, true);
    genericGlobPairs(generic, items, listGeneric, memo, budget, (overlap, count) =>
      add(genericPairsOf, overlap, count),
    );
  }
  const all: ModuleOverlap[] = [];
  let countedOnly = 0;
  for (const table of tables)
    for (const row of table.rows.values())
      for (const entry of row.values()) {
        if (entry) all.push(entry);
        else countedOnly++;
      }
  const specific = all.filter((o) => !o.generic);
  const counts = { identical: 0, shadows: 0, partial: 0, "flavour-separated": 0, generic: 0 };
  counts.generic = all.length - specific.length + countedOnly + genericCounted;
  const overlaps = sortOverlaps(specific);
  if (listGeneric) overlaps.push(...sortOverlaps(all.filter((o) => o.generic)));
  // the few patterns of the pairs shown, parsed again rather than all thousands looked up
  const parsed = new Map<string, Glob>();
  const globOf = (pattern: string) => {
    let glob = parsed.get(pattern);
    if (!glob) {
      glob = parseGlob(pattern);
      parsed.set(pattern, glob);
    }
    return glob;
  };
  const globExamples = new Map<string, string | undefined>();
  // a generic pattern is in thousands of pairs: parsed once (as its bus's fields, or as pci's)
  const fieldsParsed = new Map<string, FieldPattern | null>();
  const pciParsed = new Map<string, PciPattern | null>();
  const fieldsOf = (pattern: string, bus: string, format: FieldFormat | undefined) => {
    const cache = format ? fieldsParsed : pciParsed;
    let fields = cache.get(pattern);
    if (fields === undefined) {
      fields = (format ? parseFieldPattern(pattern, bus, format) : parsePciPattern(pattern)) ?? null;
      cache.set(pattern, fields);
    }
    return fields;
  };
  for (const overlap of overlaps) {
    for (const pair of everyExample ? overlap.pairs : overlap.pairs.slice(0, 1))
      addExample(pair, overlap.bus, fieldsOf, globOf, globExamples, budget);
  }
  for (const overlap of overlaps) {
    overlap.kernel = kernelNote(overlap);
    if (!overlap.generic) counts[overlap.class]++;
  }
  return { overlaps, counts, patterns: inputs.length };
}

/** A pattern longer than LIMITS.patternBytes: refused, naming its line. */
function tooLong(input: AliasInput): never {
  const where = input.origin ?? `a pattern of module ${input.module}`;
  throw new LimitError(
    `${where}: a pattern of ${input.pattern.length} bytes (the limit is ${LIMITS.patternBytes}: a modalias is at most a page)`,
  );
}

/** The plain characters ending a pattern: none of `*`, `?`, `[`, `]`, backslash. */
const PLAIN_TAIL = /[^*?[\]\\]*$/;

/**
 * A pattern compared as a glob: its tail and elements worked out only when a comparison needs
 * them (most of a bus's patterns meet none of the others' keys).
 */
class GlobItem {
  readonly input: AliasInput;
  /** See identity. */
  readonly key: string;
  readonly generic: boolean;
  private plainTail: string | undefined;
  private parsed: Glob | undefined;
  constructor(input: AliasInput) {
    this.input = input;
    const { key, generic } = identity(input.pattern);
    this.key = key;
    this.generic = generic;
  }
  /** The plain characters after its last `*`, `?`, bracket or backslash: they end every match. */
  get tail(): string {
    this.plainTail ??= this.input.pattern.slice(this.input.pattern.search(PLAIN_TAIL));
    return this.plainTail;
  }
  get glob(): Glob {
    this.parsed ??= parseGlob(this.input.pattern);
    return this.parsed;
  }
}

/**
 * Calls `visit` for every pair of patterns of different modules whose identity keys are
 * compatible (one starts the other) and whose ends can meet: sorted by key, each pattern
 * meets only the run of keys that start with its own.
 */
function globCandidates(
  unsorted: GlobItem[],
  budget: Budget,
  visit: (x: GlobItem, y: GlobItem) => void,
): void {
  const items = sortedByKey(unsorted);
  for (let i = 0; i < items.length; i++) {
    const x = items[i] as GlobItem;
    budget.at = x.input;
    let j = i + 1;
    for (; j < items.length; j++) {
      const y = items[j] as GlobItem;
      if (!y.key.startsWith(x.key)) break;
      if (x.input.module === y.input.module) continue;
      if (sameSimplePattern(x, y) || (suffixesMeet(x.tail, y.tail) && endsCompatible(x.glob, y.glob)))
        visit(x, y);
    }
    budget.charge(j - i);
  }
}

/**
 * The items by key (the order of `<`), those of one key in their order: the distinct keys
 * sorted natively, not thousands of items through a comparator not yet optimised.
 */
function sortedByKey(items: GlobItem[]): GlobItem[] {
  const byKey = new Map<string, GlobItem[]>();
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as GlobItem;
    const same = byKey.get(item.key);
    if (same) same.push(item);
    else byKey.set(item.key, [item]);
  }
  const sorted: GlobItem[] = [];
  for (const key of [...byKey.keys()].sort())
    for (const item of byKey.get(key) as GlobItem[]) sorted.push(item);
  return sorted;
}

/**
 * Pairs of a generic pattern (see identity) with the other modules of its bus whose keys are
 * compatible with its own: per module the number of its patterns the generic one meets
 * (exact intersections); its first meeting pattern is classified only when
 * the pairs are listed (`classify`), else the pair stands as "partial", for the count only.
 */
function genericGlobPairs(
  generic: GlobItem[],
  all: GlobItem[],
  classify: boolean,
  memo: Map<string, GlobRelation>,
  budget: Budget,
  report: (overlap: PatternOverlap, count: number) => void,
): void {
  if (generic.length === 0) return;
  const byKey = groupBy(generic, (g) => g.key);
  // counting only: a module pair found once needs no second look
  const found = new Map<string, Set<string>>();
  for (const [key, gs] of byKey) {
    budget.charge(all.length);
    const meeting = all.filter((item) => item.key.startsWith(key) || key.startsWith(item.key));
    const byModule = groupBy(meeting, (item) => item.input.module);
    for (const g of gs) {
      let done = found.get(g.input.module);
      if (!done) {
        done = new Set();
        found.set(g.input.module, done);
      }
      genericModulePairs(g, byModule, classify ? undefined : done, memo, budget, report);
    }
  }
}

function genericModulePairs(
  g: GlobItem,
  byModule: Map<string, GlobItem[]>,
  counted: Set<string> | undefined,
  memo: Map<string, GlobRelation>,
  budget: Budget,
  report: (overlap: PatternOverlap, count: number) => void,
): void {
  const classify = counted === undefined;
  budget.at = g.input;
  for (const [module, members] of byModule) {
    if (module === g.input.module || counted?.has(module)) continue;
    budget.charge(members.length);
    let first: GlobItem | undefined;
    let count = 0;
    for (const item of members) {
      if (!suffixesMeet(g.tail, item.tail) || !intersects(g.glob, item.glob, budget)) continue;
      first ??= item;
      count++;
      if (!classify) break; // counted only: one meeting pattern makes the pair
    }
    if (!first) continue;
    counted?.add(module);
    const overlap = classify
      ? (globOverlap(g, first, memo, budget) as PatternOverlap)
      : { a: g.input, b: first.input, class: "partial" as const };
    report(overlap, count);
  }
}

/**
 * The identifying part of a non-pci pattern: `key`, the literal candidate pairs are bucketed
 * by (two patterns meet only when one's key starts the other's), and whether the pattern is
 * generic (names no device; its pairs are counted apart, like pci's). After the bus prefix:
 * acpi (`acpi*:ID:*`), of (`of:N*T*C<compatible>…`) and any-model cpu
 * (`cpu:type:x86,ven*fam*mod*:feature:*F*`) modaliases are lists of ids (cpu: features; a
 * model's patterns keep `type:…mod…` as key), and a `*`
 * there absorbs any other id, so two patterns count as meeting only when they share an id:
 * the key is the id's leading literal, generic when it is empty. usb: product `*` (a vendor's
 * or any vendor's interface-class match) is generic, as pci's device `*` is. Elsewhere the
 * key is the pattern's literal prefix after the bus prefix, generic when it starts with `*` or
 * its first field's value is `*`; exact, since patterns whose literal prefixes are incompatible cannot meet. A bus
 * prefix holding another wildcard (dmi*: a machine, no device) makes the pattern generic.
 */
export function identity(pattern: string): { key: string; generic: boolean } {
  const colon = pattern.indexOf(":");
  // places in the pattern, not slices of it: thousands of patterns
  let start = colon + 1;
  if (pattern.startsWith("of:N*T*C")) start += "N*T*C".length;
  else if (pattern.startsWith("cpu:type:x86,ven*fam*mod*:feature:*"))
    start = pattern.indexOf(":feature:*") + ":feature:*".length;
  else if (!pattern.startsWith("acpi*:")) {
    const wildcard = pattern.search(WILDCARD);
    if (wildcard >= 0 && wildcard < colon) return { key: "", generic: true };
  }
  WILDCARD_FROM.lastIndex = start;
  const key = pattern.slice(
    start,
    WILDCARD_FROM.test(pattern) ? WILDCARD_FROM.lastIndex - 1 : pattern.length,
  );
  if (colon === 3 && pattern.startsWith("usb"))
    return { key, generic: /^v[^*?[\\]*p$/.test(key) || key === "v" };
  GENERIC_AT.lastIndex = start;
  return { key, generic: GENERIC_AT.test(pattern) };
}

/** A `*`, `?`, `[` or backslash: where a literal prefix ends. */
const WILDCARD = /[*?[\\]/;
/** WILDCARD from lastIndex on. */
const WILDCARD_FROM = /[*?[\\]/g;
/** A generic start (at lastIndex): `*` first, or a field name, its value `*` and the next field (pcmcia:m*c*, hid:b*g). */
const GENERIC_AT = /[a-z]+\*[a-z]|\*/y;

/** Strongest class first, then by bus and module names (each entry's key built once). */
function sortOverlaps(overlaps: ModuleOverlap[]): ModuleOverlap[] {
  const keyed = overlaps.map((o) => ({ o, names: `${o.modules[0]} ${o.modules[1]}` }));
  keyed.sort(
    (x, y) =>
      RANK[y.o.class] - RANK[x.o.class] ||
      (x.o.bus < y.o.bus ? -1 : x.o.bus > y.o.bus ? 1 : 0) ||
      (x.names < y.names ? -1 : 1),
  );
  return keyed.map((k) => k.o);
}

/**
 * The same pattern, made only of literals, `?` and `*`: it matches something, so the two are
 * identical without parsing (a bracket or backslash may make a pattern match nothing).
 */
function sameSimplePattern(x: GlobItem, y: GlobItem): boolean {
  const p = x.input.pattern;
  return p === y.input.pattern && !p.includes("[") && !p.includes("\\");
}

/** Two patterns can only meet when one's literal tail ends the other's. */
function suffixesMeet(x: string, y: string): boolean {
  return x.endsWith(y) || y.endsWith(x);
}

/** The bus of a pattern: what comes before its first `:` (`acpi*` for `acpi*:…`). */
export function busOf(pattern: string): string {
  const colon = pattern.indexOf(":");
  return colon < 0 ? "(none)" : pattern.slice(0, colon);
}

/**
 * A pattern that names no device: vendor and device both `*` (a class match, or vfio_pci's
 * catch-all), or a vendor with any device of a class (snd_hda_intel's AMD HDMI audio, ahci's
 * Intel SATA). Their overlaps with device-specific patterns exist only if such a device
 * reports that class, so they are counted apart.
 */
function isGeneric(f: readonly (string | undefined)[]): boolean {
  return (
    f[1] === undefined &&
    (f[0] === undefined || f[4] !== undefined || f[5] !== undefined || f[6] !== undefined)
  );
}

/**
 * Calls `visit` once for every pair of patterns of different modules whose two key fields
 * (pci: vendor and device) agree or hold a `*`: patterns grouped by the first, then the
 * second; a `*` group meets every group of its level. (A usb bcdDevice range is never a key.)
 * One pass builds the groups (each pass over thousands of patterns costs milliseconds of
 * code not yet optimised); the pairs come in the order of `items`.
 */
function fieldCandidates(
  items: FieldItem[],
  format: FieldFormat,
  budget: Budget,
  visit: (x: FieldItem, y: FieldItem) => void,
): void {
  const [first, second] = format.keys;
  const byVendor = new Map<string | undefined, VendorGroup>();
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as FieldItem;
    const vendor = item.fields[first];
    let group = byVendor.get(vendor);
    if (!group) {
      group = { items: [], byDevice: new Map(), inexact: [], mixed: false };
      byVendor.set(vendor, group);
    }
    const device = item.fields[second];
    const at = group.items.length;
    if (at > 0 && item.input.module !== (group.items[0] as FieldItem).input.module) group.mixed = true;
    group.items.push(item);
    const same = group.byDevice.get(device);
    if (same) same.push(at);
    else group.byDevice.set(device, [at]);
    if (device === undefined || item.masks?.[second]) group.inexact.push(at);
  }
  const anyVendor = byVendor.get(undefined)?.items ?? [];
  byVendor.forEach((group, vendor) => {
    if (vendor !== undefined) crossOnDevice(anyVendor, group, second, budget, visit);
    if (!group.mixed) return; // one module's patterns: no pair within
    const anyDevice = group.byDevice.get(undefined) ?? [];
    group.byDevice.forEach((members, device) => {
      allPairs(group.items, members, budget, visit);
      if (device !== undefined) crossPairs(group.items, anyDevice, members, budget, visit);
    });
  });
}

/** A vendor's patterns (fieldCandidates), and their places in `items` by device. */
interface VendorGroup {
  items: FieldItem[];
  byDevice: Map<string | undefined, number[]>;
  /** The places of the patterns whose device is `*` or a mask. */
  inexact: number[];
  /** Patterns of more than one module. */
  mixed: boolean;
}

/**
 * Each of `xs` (any vendor's patterns) against a vendor's, leaving out the pairs whose devices
 * are two different exact values (they never meet: fieldsIntersect): the vendor's patterns of
 * its device, `*` or a mask, in their order. Any vendor's few device patterns against a
 * vendor's thousands.
 */
function crossOnDevice(
  xs: FieldItem[],
  group: VendorGroup,
  k: number,
  budget: Budget,
  visit: (x: FieldItem, y: FieldItem) => void,
): void {
  const ys = group.items;
  for (const x of xs) {
    budget.at = x.input;
    const device = x.fields[k];
    if (device === undefined || x.masks?.[k]) {
      budget.charge(ys.length);
      for (const y of ys) if (x.input.module !== y.input.module) visit(x, y);
      continue;
    }
    const same = group.byDevice.get(device) ?? [];
    const others = group.inexact;
    budget.charge(same.length + others.length);
    // the two lists merged back into the order of ys (a place in both taken once)
    for (let a = 0, b = 0; a < same.length || b < others.length; ) {
      const p = a < same.length ? (same[a] as number) : Number.POSITIVE_INFINITY;
      const q = b < others.length ? (others[b] as number) : Number.POSITIVE_INFINITY;
      if (p <= q) a++;
      if (q <= p) b++;
      const y = ys[Math.min(p, q)] as FieldItem;
      if (x.input.module !== y.input.module) visit(x, y);
    }
  }
}

/**
 * The key of a pattern's shape for generic pairs: whether a generic pattern of `generic`
 * meets it, and how, depends only on its prefix, which of its fields are `*`, and the values
 * of the fields some generic pattern fixes (the vendor apart: patterns are grouped by it).
 * Most patterns fix none of those fields: their key is a number (prefix and stars), so the
 * thousands of them build no string.
 */
function shapeKeyer(generic: FieldItem[], format: FieldFormat): (item: FieldItem) => string | number {
  const vendorField = format.keys[0];
  const fixed = format.widths
    .map((_, k) => k)
    .filter((k) => k !== vendorField && generic.some((g) => g.fields[k] !== undefined));
  const prefixes = new Map<string, number>();
  return (item) => {
    const { fields, prefix } = item;
    let stars = 0;
    for (let k = 0; k < fields.length; k++) if (fields[k] === undefined) stars |= 1 << k;
    let plain = true;
    for (let i = 0; i < fixed.length && plain; i++) plain = fields[fixed[i] as number] === undefined;
    if (plain) {
      let id = prefixes.get(prefix);
      if (id === undefined) {
        id = prefixes.size;
        prefixes.set(prefix, id);
      }
      return id * 2 ** fields.length + stars;
    }
    let key = `${prefix}${stars}`;
    for (let i = 0; i < fixed.length; i++) key += ` ${fields[fixed[i] as number]}`;
    return key;
  };
}

/**
 * Pairs of a generic pattern (a class match, or vfio_pci's catch-all) with every other
 * module: they meet thousands of patterns, so per module pair only its first pair is kept,
 * with the number of pairs and the strongest class. Each module's patterns are compared once
 * per shape (shapeKeyer), its first pattern standing for it; a generic pattern with a vendor
 * meets only that vendor's patterns and those of any vendor. Within a vendor, a generic
 * pattern is compared only with the shapes whose value in one of its other fixed fields — the
 * one leaving the fewest — is its own or `*` (the others differ there: fieldsIntersect), as
 * countGenericPairs does.
 *
 * A module's generic patterns (a run of them) meet mostly the same modules: what they meet is
 * gathered per module met, by module id, and reported once per run — the pair of the run's
 * first pattern meeting that module (in the first of its groups: its vendor's, then any
 * vendor's; in group order across vendors), its strongest shape, the first of its class in
 * the module's order; the count of every pair; the strongest class. The same report as one
 * per pattern and module, which add() reduced to the same.
 */
function genericPairs(
  generic: FieldItem[],
  all: FieldItem[],
  format: FieldFormat,
  budget: Budget,
  report: (g: FieldItem, y: FieldItem, strongest: number, count: number) => void,
): void {
  if (generic.length === 0) return;
  const vendorField = format.keys[0];
  const width = format.widths.length;
  const keyOf = shapeKeyer(generic, format);
  /** A module's shape: its place among the module's shapes decides between pairs of one class. */
  type Shape = { first: FieldItem; count: number; group: ModuleGroup; at: number };
  /** A module's patterns of one vendor; `order`: its place among every vendor's groups. */
  type ModuleGroup = { module: string; id: number; order: number };
  /**
   * A shape of a vendor's patterns, with each module's shape of that key: a generic pattern
   * meets all of them or none, and the same way (shapeKeyer), so it is compared once.
   */
  type VendorShape = { first: FieldItem; members: Shape[] };
  /** A vendor's shapes, and its shapes by their value in field k (undefined: `*` or a mask), built on first use. */
  type Vendor = { shapes: VendorShape[]; indexes: Map<string | undefined, VendorShape[]>[] };
  const byVendor = new Map<string | undefined, Vendor>();
  const every: Vendor = { shapes: [], indexes: [] };
  const ids = new Map<string, number>();
  let groups = 0;
  for (const [vendor, items] of groupBy(all, (item) => item.fields[vendorField])) {
    const vendorShapes = new Map<string | number, VendorShape>();
    for (const [module, members] of groupBy(items, (item) => item.input.module)) {
      let id = ids.get(module);
      if (id === undefined) {
        id = ids.size;
        ids.set(module, id);
      }
      const group: ModuleGroup = { module, id, order: groups++ };
      const shapes = new Map<string | number, Shape>();
      for (const item of members) {
        const key = keyOf(item);
        const shape = shapes.get(key);
        if (shape) {
          shape.count++;
          continue;
        }
        const made = { first: item, count: 1, group, at: shapes.size };
        shapes.set(key, made);
        const of = vendorShapes.get(key);
        if (of) of.members.push(made);
        else vendorShapes.set(key, { first: item, members: [made] });
      }
    }
    const shapes = [...vendorShapes.values()];
    byVendor.set(vendor, { shapes, indexes: [] });
    for (const shape of shapes) every.shapes.push(shape);
  }
  const indexOf = (of: Vendor, k: number): Map<string | undefined, VendorShape[]> => {
    let index = of.indexes[k];
    if (!index) {
      index = new Map();
      for (const shape of of.shapes) {
        const v = shape.first.masks?.[k] ? undefined : shape.first.fields[k];
        const list = index.get(v);
        if (list) list.push(shape);
        else index.set(v, [shape]);
      }
      of.indexes[k] = index;
    }
    return index;
  };
  // what the current run has met, by module id (`touched`: the ids met, in the order met)
  const n = ids.size;
  const count = new Float64Array(n);
  const strongest = new Int8Array(n);
  const firstOf = new Array<FieldItem | undefined>(n);
  const bestOf = new Array<Shape | undefined>(n);
  const bestRank = new Int8Array(n);
  /** Of the first pattern's groups, which it met the module in: its vendor's 0, any vendor's 1. */
  const phaseOf = new Int8Array(n);
  const touched: number[] = [];
  let phase = 0;
  const meet = (g: FieldItem, shapes: VendorShape[] | undefined) => {
    if (!shapes) return;
    budget.charge(shapes.length);
    for (let s = 0; s < shapes.length; s++) {
      const { first: y, members } = shapes[s] as VendorShape;
      if (!fieldsIntersect(g, y)) continue;
      const rank = RANK[fieldClass(g, y)];
      budget.charge(members.length);
      for (let m = 0; m < members.length; m++) meetShape(g, members[m] as Shape, rank);
    }
  };
  /** g meets a module's shape, in the relation `rank`. */
  const meetShape = (g: FieldItem, shape: Shape, rank: number) => {
    if (shape.group.module === g.input.module) return;
    const id = shape.group.id;
    const first = firstOf[id];
    if (first === undefined) {
      touched.push(id);
      firstOf[id] = g;
      bestOf[id] = shape;
      bestRank[id] = rank;
      phaseOf[id] = phase;
      count[id] = shape.count;
      strongest[id] = rank;
      return;
    }
    count[id] = (count[id] as number) + shape.count;
    if (rank > (strongest[id] as number)) strongest[id] = rank;
    if (first !== g || phase !== phaseOf[id]) return; // a later pattern, or any vendor's group after its vendor's
    const best = bestOf[id] as Shape;
    const sameGroup = best.group === shape.group;
    if (!sameGroup && shape.group.order > best.group.order) return;
    if (!sameGroup || rank > (bestRank[id] as number) || (rank === bestRank[id] && shape.at < best.at)) {
      bestOf[id] = shape;
      bestRank[id] = rank;
    }
  };
  const meetIn = (g: FieldItem, of: Vendor | undefined) => {
    if (!of) return;
    const narrowest = narrowestField(g, width, vendorField, (k) => indexOf(of, k));
    if (narrowest) {
      meet(g, narrowest.index.get(narrowest.value));
      meet(g, narrowest.index.get(undefined));
    } else meet(g, of.shapes);
  };
  const flush = () => {
    for (let t = 0; t < touched.length; t++) {
      const id = touched[t] as number;
      report(
        firstOf[id] as FieldItem,
        (bestOf[id] as Shape).first,
        strongest[id] as number,
        count[id] as number,
      );
      firstOf[id] = undefined;
      bestOf[id] = undefined;
    }
    touched.length = 0;
  };
  let module: string | undefined;
  for (const g of generic) {
    if (g.input.module !== module) {
      flush();
      module = g.input.module;
    }
    const vendor = g.fields[vendorField];
    budget.at = g.input;
    phase = 0;
    if (vendor === undefined) meetIn(g, every);
    else {
      meetIn(g, byVendor.get(vendor));
      phase = 1;
      meetIn(g, byVendor.get(undefined));
    }
  }
  flush();
}

/**
 * The number of module pairs genericPairs would report, without classifying them (what a
 * terminal report prints); past `room` of them, the run ends (LIMITS.modulePairs). The bus's patterns are reduced to distinct shapes (shapeKeyer)
 * with the modules holding each: per vendor a generic pattern names (and for any vendor),
 * and across vendors when a generic pattern has none. A generic pattern is compared with the
 * shapes whose value in one of its other fixed fields — the one leaving the fewest — is its
 * own or `*` (field indexes built on first use), and pairs with every module of those it meets.
 */
function countGenericPairs(
  generic: FieldItem[],
  all: FieldItem[],
  format: FieldFormat,
  budget: Budget,
  room: number,
): number {
  if (generic.length === 0) return 0;
  const vendorField = format.keys[0];
  const width = format.widths.length;
  const keyOf = shapeKeyer(generic, format);
  // a shape's modules as ids, in the order met; a repeat only repeats a pair `pairs` holds
  type Shape = { first: FieldPattern; modules: number[] };
  type Shapes = {
    byKey: Map<string | number, Shape>;
    every?: Shape[];
    indexes: Map<string | undefined, Shape[]>[];
  };
  const shapesOf = (): Shapes => ({ byKey: new Map(), indexes: [] });
  const byVendor = new Map<string | undefined, Shapes>();
  let anyVendorGeneric = false;
  for (let i = 0; i < generic.length; i++) {
    const vendor = (generic[i] as FieldItem).fields[vendorField];
    if (vendor === undefined) anyVendorGeneric = true;
    else if (!byVendor.has(vendor)) byVendor.set(vendor, shapesOf());
  }
  byVendor.set(undefined, shapesOf());
  const everyVendor = anyVendorGeneric ? shapesOf() : undefined;
  const ids = new Map<string, number>();
  const addTo = (shapes: Shapes, key: string | number, item: FieldItem, id: number) => {
    const shape = shapes.byKey.get(key);
    if (!shape) shapes.byKey.set(key, { first: item, modules: [id] });
    else if (shape.modules[shape.modules.length - 1] !== id) shape.modules.push(id);
  };
  let module: string | undefined;
  let id = -1;
  for (let i = 0; i < all.length; i++) {
    const item = all[i] as FieldItem;
    // a module's patterns come together (depmod): its id is looked up once per run of them
    if (item.input.module !== module) {
      module = item.input.module;
      id = ids.get(module) ?? ids.size;
      if (id === ids.size) ids.set(module, id);
    }
    const own = byVendor.get(item.fields[vendorField]);
    if (!own && !everyVendor) continue;
    const key = keyOf(item);
    if (own) addTo(own, key, item, id);
    if (everyVendor) addTo(everyVendor, key, item, id);
  }
  // the shapes whose value in field k is `value`, or `*` (or a partial value): index k of `of`
  const indexOf = (of: Shapes, k: number): Map<string | undefined, Shape[]> => {
    let index = of.indexes[k];
    if (!index) {
      index = new Map();
      for (const shape of of.byKey.values()) {
        const v = shape.first.masks?.[k] ? undefined : shape.first.fields[k];
        const list = index.get(v);
        if (list) list.push(shape);
        else index.set(v, [shape]);
      }
      of.indexes[k] = index;
    }
    return index;
  };
  const n = ids.size;
  const pairs = new Set<number>();
  // the shapes a module's generic patterns have met: another of its patterns meeting one adds
  // the same pairs again (a usb driver's interface-class patterns all meet the thousand
  // modules of vendor-and-product patterns)
  let ownModule = -1;
  const metByOwn = new Set<Shape>();
  const meet = (g: FieldItem, shapes: Shape[] | undefined) => {
    if (!shapes) return;
    budget.at = g.input;
    budget.charge(shapes.length);
    const own = ids.get(g.input.module) as number;
    if (own !== ownModule) {
      ownModule = own;
      metByOwn.clear();
    }
    for (let s = 0; s < shapes.length; s++) {
      const shape = shapes[s] as Shape;
      if (metByOwn.has(shape) || !fieldsIntersect(g, shape.first)) continue;
      metByOwn.add(shape);
      const modules = shape.modules;
      budget.charge(modules.length);
      for (let m = 0; m < modules.length; m++) {
        const id = modules[m] as number;
        if (id !== own) pairs.add(id < own ? id * n + own : own * n + id);
      }
      if (pairs.size > room)
        budget.exceeded(`more than ${LIMITS.modulePairs} module pairs overlap (the limit)`);
    }
  };
  // g against the shapes of `of`: those of the field g fixes (the vendor apart) leaving the
  // fewest (usb: a vendor's interface-class patterns mostly share their class, not their protocol)
  const meetIn = (g: FieldItem, of: Shapes) => {
    const narrowest = narrowestField(g, width, vendorField, (k) => indexOf(of, k));
    if (!narrowest) {
      of.every ??= [...of.byKey.values()];
      meet(g, of.every);
      return;
    }
    meet(g, narrowest.index.get(narrowest.value));
    meet(g, narrowest.index.get(undefined));
  };
  for (let i = 0; i < generic.length; i++) {
    const g = generic[i] as FieldItem;
    const vendor = g.fields[vendorField];
    if (vendor === undefined) meetIn(g, everyVendor as Shapes);
    else {
      meetIn(g, byVendor.get(vendor) as Shapes);
      meetIn(g, byVendor.get(undefined) as Shapes);
    }
  }
  return pairs.size;
}

/**
 * Of the fields generic pattern G fixes (the vendor's apart), the one whose index (INDEXOF)
 * leaves the fewest candidates — those with G's value there and those with none — with that
 * value; undefined when G fixes no other field.
 */
function narrowestField<T>(
  g: FieldItem,
  width: number,
  vendorField: number,
  indexOf: (field: number) => Map<string | undefined, T[]>,
): { index: Map<string | undefined, T[]>; value: string } | undefined {
  let narrowest: { index: Map<string | undefined, T[]>; value: string } | undefined;
  let fewest = Number.POSITIVE_INFINITY;
  for (let k = 0; k < width; k++) {
    const value = g.fields[k];
    if (k === vendorField || value === undefined || g.masks?.[k]) continue;
    const index = indexOf(k);
    const size = (index.get(value)?.length ?? 0) + (index.get(undefined)?.length ?? 0);
    if (size < fewest) {
      narrowest = { index, value };
      fewest = size;
    }
  }
  return narrowest;
}

function groupBy<T, K>(items: T[], key: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

/** Every pair among the patterns at `places` of `items`, in their order. */
function allPairs(
  items: FieldItem[],
  places: number[],
  budget: Budget,
  visit: (x: FieldItem, y: FieldItem) => void,
): void {
  if (places.length < 2) return;
  // one module's patterns (a driver's subsystem variants of one device): no pair to look at
  const module = (items[places[0] as number] as FieldItem).input.module;
  let mixed = false;
  for (let i = 1; i < places.length && !mixed; i++)
    mixed = (items[places[i] as number] as FieldItem).input.module !== module;
  if (!mixed) return;
  for (let i = 0; i < places.length; i++) {
    budget.at = (items[places[i] as number] as FieldItem).input;
    budget.charge(places.length - i);
    for (let j = i + 1; j < places.length; j++) {
      const x = items[places[i] as number] as FieldItem;
      const y = items[places[j] as number] as FieldItem;
      if (x.input.module !== y.input.module) visit(x, y);
    }
  }
}

/** The patterns at places `xs` of `items` against those at `ys`. */
function crossPairs(
  items: FieldItem[],
  xs: number[],
  ys: number[],
  budget: Budget,
  visit: (x: FieldItem, y: FieldItem) => void,
): void {
  for (const i of xs) {
    budget.at = (items[i] as FieldItem).input;
    budget.charge(ys.length);
    for (const j of ys) {
      const x = items[i] as FieldItem;
      const y = items[j] as FieldItem;
      if (x.input.module !== y.input.module) visit(x, y);
    }
  }
}

function fieldOverlap(x: FieldItem, y: FieldItem): PatternOverlap | undefined {
  if (!fieldsIntersect(x, y)) return undefined;
  const overlap: PatternOverlap = { a: x.input, b: y.input, class: fieldClass(x, y) };
  if (overlap.class === "shadows") overlap.wider = fieldsContain(x, y) ? x.input.module : y.input.module;
  return overlap;
}

/** The relation of two intersecting field patterns (pci: `pci:` against `vfio_pci:` apart). */
function fieldClass(x: FieldPattern, y: FieldPattern): PairClass {
  if (x.prefix !== y.prefix) return "flavour-separated";
  const xWider = fieldsContain(x, y);
  const yWider = fieldsContain(y, x);
  if (xWider && yWider) return "identical";
  return xWider || yWider ? "shadows" : "partial";
}

/** How two globs relate (undefined: they never meet). */
type GlobRelation = { aWider: boolean; bWider: boolean } | undefined;

function globOverlap(
  x: GlobItem,
  y: GlobItem,
  memo: Map<string, GlobRelation>,
  budget: Budget,
): PatternOverlap | undefined {
  const [a, b] = [x.input, y.input];
  const relation = sameSimplePattern(x, y)
    ? { aWider: true, bWider: true }
    : remembered(memo, `${a.pattern}\0${b.pattern}`, () => globRelation(x, y, memo, budget));
  if (!relation) return undefined;
  // the example comes later (addExample); its place is kept where the JSON has always had it
  if (relation.aWider && relation.bWider)
    return { a, b, example: undefined, exampleB: undefined, class: "identical" };
  if (relation.aWider || relation.bWider) {
    const wider = relation.aWider ? a.module : b.module;
    return { a, b, example: undefined, exampleB: undefined, class: "shadows", wider };
  }
  return { a, b, example: undefined, exampleB: undefined, class: "partial" };
}

/**
 * The relation of two glob patterns, kept by what is left of them without their common ends
 * (withoutCommonEnds; the pairs of a bus share it); `memo` holds relations by the text of the
 * two patterns, whole or cut.
 */
function globRelation(
  x: GlobItem,
  y: GlobItem,
  memo: Map<string, GlobRelation>,
  budget: Budget,
): GlobRelation {
  const [p, q] = withoutCommonEnds(x.input.pattern, y.input.pattern);
  return remembered(memo, `${p}\0${q}`, () => {
    const [gp, gq] = p === x.input.pattern ? [x.glob, y.glob] : [parseGlob(p), parseGlob(q)];
    if (!intersects(gp, gq, budget)) return undefined;
    return p === q
      ? { aWider: true, bWider: true }
      : { aWider: contains(gp, gq, budget), bWider: contains(gq, gp, budget) };
  });
}

function remembered(memo: Map<string, GlobRelation>, key: string, compute: () => GlobRelation): GlobRelation {
  let relation = memo.get(key);
  if (relation === undefined && !memo.has(key)) {
    relation = compute();
    if (memo.size === LIMITS.rememberedRelations) memo.clear();
    memo.set(key, relation);
  }
  return relation;
}

/**
 * Fills in a pair's example: for field patterns the fields both fix, the lowest value both
 * accept elsewhere (zeros for the `*`s), checked with fnmatch; for globs commonString's.
 */
function addExample(
  pair: PatternOverlap,
  bus: string,
  fieldsOf: (
    pattern: string,
    bus: string,
    format: FieldFormat | undefined,
  ) => FieldPattern | PciPattern | null,
  globOf: (pattern: string) => Glob,
  globExamples: Map<string, string | undefined>,
  budget: Budget,
): void {
  if (pair.example !== undefined) return;
  const format = FIELD_FORMATS.get(bus);
  if (format) {
    const fx = fieldsOf(pair.a.pattern, bus, format) as FieldPattern | null;
    const fy = fx && (fieldsOf(pair.b.pattern, bus, format) as FieldPattern | null);
    if (fx && fy) {
      pair.example = checked(commonFieldModalias(fx, fy, format), pair.a.pattern);
      pair.exampleB = checked(pair.example, pair.b.pattern);
      return;
    }
  }
  const x = fieldsOf(pair.a.pattern, "pci", undefined) as PciPattern | null;
  const y = x && (fieldsOf(pair.b.pattern, "pci", undefined) as PciPattern | null);
  if (!x || !y) {
    // a glob pair (the same pattern pair recurs across modules): commonString checks its answer
    const key = `${pair.a.pattern}\0${pair.b.pattern}`;
    let example = globExamples.get(key);
    if (example === undefined) {
      budget.at = pair.a;
      example = commonString(globOf(pair.a.pattern), globOf(pair.b.pattern), budget);
      globExamples.set(key, example);
    }
    pair.example = example;
    pair.exampleB = example;
    return;
  }
  pair.example = checked(commonModalias(x, y, x.prefix), pair.a.pattern);
  pair.exampleB = checked(`${y.prefix}:${pair.example.slice(pair.example.indexOf(":") + 1)}`, pair.b.pattern);
}

function checked(modalias: string, pattern: string): string {
  if (!fnmatch(pattern, modalias)) throw new Error(`overlaps: example ${modalias} does not match ${pattern}`);
  return modalias;
}

/**
 * What the kernel does with a device both match. pci: the driver core tries the drivers
 * already registered, in registration order, and the first whose probe succeeds binds
 * (drivers/base/dd.c __device_attach); udev loads every module the modalias resolves to, so
 * which one registers first — load order, or link order for built-ins — decides.
 * vfio_pci: entries are override_only (pci_match_device) and bind only through driver_override.
 */
function kernelNote(overlap: ModuleOverlap): string {
  const [m1, m2] = overlap.modules;
  if (overlap.class === "flavour-separated") {
    const vfio = overlap.pairs[0]?.b.pattern.startsWith("vfio_pci:")
      ? overlap.pairs[0].b.module
      : overlap.pairs[0]?.a.module;
    return `no conflict: ${vfio}'s entries are override_only (vfio_pci:), it binds only when driver_override names it; the other binds by default`;
  }
  if (overlap.bus === "pci" && overlap.pairs[0]?.a.pattern.startsWith("vfio_pci:")) {
    return `both are vfio_pci: choices for the device: the fewest wildcard fields wins (cc6711b0bf36 rule); neither binds without driver_override`;
  }
  return `registration order decides: udev loads both ${m1} and ${m2}; whichever registers its driver first (load order, or link order when built in) and probes successfully binds`;
}

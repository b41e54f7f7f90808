// Which modules' alias patterns can match one common device. PCI patterns (the form
// do_pci_entry writes) are compared field by field, with `pci:` and `vfio_pci:` patterns of
// the same fields reported apart as flavour-separated; every other pattern by exact glob
// intersection (glob-intersection.ts). Candidate pairs come from indexes, never from all
// n² pairs: PCI patterns by vendor then device, globs by literal prefix (two patterns can
// only meet when one's literal prefix starts the other's).
import { fnmatch } from "../modules/fnmatch.ts";
import { type Glob, parseGlob } from "./glob.ts";
import { commonString, contains, endsCompatible } from "./glob-intersection.ts";
import {
  commonModalias,
  fieldsContain,
  fieldsIntersect,
  type PciPattern,
  parsePciPattern,
} from "./pci-pattern.ts";

/** One alias line as an input of the analysis. */
export interface AliasInput {
  pattern: string;
  module: string;
  /** Where the line comes from, for the report (file:line). */
  origin?: string;
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
   * overlap, and for the first pair of a generic one (thousands of pairs share its answer).
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

interface PciItem {
  input: AliasInput;
  pci: PciPattern;
}

/**
 * `buses`: the buses to compare (undefined: all). `listGeneric`: false leaves the generic
 * pairs out of `overlaps` (they are still counted) — thousands of them, which a terminal
 * report does not print.
 */
export function findOverlaps(
  inputs: readonly AliasInput[],
  buses?: ReadonlySet<string>,
  listGeneric = true,
): OverlapReport {
  const byPair = new Map<string, ModuleOverlap>();
  const add = (overlap: PatternOverlap, bus: string, generic: boolean, count = 1) => {
    const [first, second] =
      overlap.a.module < overlap.b.module
        ? [overlap.a.module, overlap.b.module]
        : [overlap.b.module, overlap.a.module];
    const key = `${bus}\0${first}\0${second}${generic ? "\0generic" : ""}`;
    let entry = byPair.get(key);
    if (!entry) {
      const modules: [string, string] = [first, second];
      entry = { modules, bus, class: overlap.class, generic, pairs: [], pairCount: 0, kernel: "" };
      byPair.set(key, entry);
    }
    if (!generic || entry.pairs.length === 0) entry.pairs.push(overlap);
    entry.pairCount += count;
    if (RANK[overlap.class] > RANK[entry.class]) entry.class = overlap.class;
  };
  const pci: PciItem[] = [];
  const globs = new Map<string, { input: AliasInput; glob: Glob }[]>();
  for (const input of inputs) {
    const parsed = parsePciPattern(input.pattern);
    if (parsed) {
      if (!buses || buses.has("pci")) pci.push({ input, pci: parsed });
      continue;
    }
    const bus = busOf(input.pattern);
    if (buses && !buses.has(bus)) continue;
    const list = globs.get(bus) ?? [];
    if (list.length === 0) globs.set(bus, list);
    list.push({ input, glob: parseGlob(input.pattern) });
  }
  const generic = pci.filter((item) => isGeneric(item.pci));
  pciCandidates(
    pci.filter((item) => !isGeneric(item.pci)),
    (x, y) => {
      const overlap = pciOverlap(x, y);
      if (overlap) add(overlap, "pci", false);
    },
  );
  genericPairs(generic, pci, (overlap, count) => add(overlap, "pci", true, count));
  for (const [bus, items] of globs) {
    const keyed = items.map((item) => ({
      ...item,
      ...identity(item.input.pattern),
      starred:
        item.glob.firstStar < item.glob.elements.length &&
        item.glob.elements.every((e) => e.star || !e.chars.isEmpty()),
    }));
    const specific = keyed.filter((item) => !item.generic);
    globCandidates(specific, (x, y) => {
      const overlap = globOverlap(x.input, x.glob, y.input, y.glob);
      if (overlap) add(overlap, bus, false);
    });
    genericGlobPairs(
      keyed.filter((item) => item.generic),
      keyed,
      listGeneric,
      (overlap, count) => add(overlap, bus, true, count),
    );
  }
  const all = [...byPair.values()];
  const specific = all.filter((o) => !o.generic);
  const counts = { identical: 0, shadows: 0, partial: 0, "flavour-separated": 0, generic: 0 };
  counts.generic = all.length - specific.length;
  const overlaps = sortOverlaps(specific);
  if (listGeneric) overlaps.push(...sortOverlaps(all.filter((o) => o.generic)));
  for (const overlap of overlaps) {
    for (const pair of overlap.pairs) addExample(pair);
  }
  for (const overlap of overlaps) {
    overlap.kernel = kernelNote(overlap);
    if (!overlap.generic) counts[overlap.class]++;
  }
  return { overlaps, counts, patterns: inputs.length };
}

interface KeyedGlob {
  input: AliasInput;
  glob: Glob;
  key: string;
  generic: boolean;
  /** Holds a `*` and no element matching nothing: meets any such glob with compatible ends. */
  starred: boolean;
}

/**
 * Calls `visit` for every pair of patterns of different modules whose identity keys are
 * compatible (one starts the other) and whose ends can meet: sorted by key, each pattern
 * meets only the run of keys that start with its own.
 */
function globCandidates(items: KeyedGlob[], visit: (x: KeyedGlob, y: KeyedGlob) => void): void {
  items.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
  for (let i = 0; i < items.length; i++) {
    const x = items[i] as KeyedGlob;
    for (let j = i + 1; j < items.length; j++) {
      const y = items[j] as KeyedGlob;
      if (!y.key.startsWith(x.key)) break;
      if (x.input.module === y.input.module || !suffixesMeet(x.glob, y.glob)) continue;
      if (endsCompatible(x.glob, y.glob)) visit(x, y);
    }
  }
}

/**
 * Pairs of a generic pattern (see identity) with the other modules of its bus whose keys are
 * compatible with its own: per module the number of its patterns the generic one meets
 * (exact intersections); its first meeting pattern is classified only when
 * the pairs are listed (`classify`), else the pair stands as "partial", for the count only.
 */
function genericGlobPairs(
  generic: KeyedGlob[],
  all: KeyedGlob[],
  classify: boolean,
  report: (overlap: PatternOverlap, count: number) => void,
): void {
  if (generic.length === 0) return;
  const byKey = groupBy(generic, (g) => g.key);
  for (const [key, gs] of byKey) {
    const meeting = all.filter((item) => item.key.startsWith(key) || key.startsWith(item.key));
    const byModule = groupBy(meeting, (item) => item.input.module);
    for (const g of gs) genericModulePairs(g, byModule, classify, report);
  }
}

function genericModulePairs(
  g: KeyedGlob,
  byModule: Map<string, KeyedGlob[]>,
  classify: boolean,
  report: (overlap: PatternOverlap, count: number) => void,
): void {
  for (const [module, members] of byModule) {
    if (module === g.input.module) continue;
    let first: KeyedGlob | undefined;
    let count = 0;
    for (const item of members) {
      if (!suffixesMeet(g.glob, item.glob) || !endsCompatible(g.glob, item.glob)) continue;
      // both starred, no empty set: compatible ends suffice (glob-intersection.ts bothStarred)
      if (!(g.starred && item.starred) && commonString(g.glob, item.glob) === undefined) continue;
      first ??= item;
      count++;
    }
    if (!first) continue;
    const overlap = classify
      ? (globOverlap(g.input, g.glob, first.input, first.glob) as PatternOverlap)
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
  const bus = pattern.slice(0, Math.max(colon, 0));
  let rest = pattern.slice(colon + 1);
  const feature = pattern.indexOf(":feature:*");
  if (pattern.startsWith("of:N*T*C")) rest = rest.slice("N*T*C".length);
  else if (pattern.startsWith("cpu:type:x86,ven*fam*mod*:feature:*"))
    rest = pattern.slice(feature + ":feature:*".length);
  else if (bus !== "acpi*" && /[*?[\\]/.test(bus)) return { key: "", generic: true };
  const key = literalPrefixOf(rest);
  if (bus === "usb") return { key, generic: /^v[^*?[\\]*p$/.test(key) || key === "v" };
  // `*` first, or a field name, its value `*` and the next field (pcmcia:m*c*, hid:b*g)
  return { key, generic: /^([a-z]+\*[a-z]|\*)/.test(rest) };
}

/** The plain characters a pattern starts with (up to its first `*`, `?`, `[` or `\\`). */
function literalPrefixOf(pattern: string): string {
  const end = pattern.search(/[*?[\\]/);
  return end < 0 ? pattern : pattern.slice(0, end);
}

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

/** Two patterns can only meet when one's literal suffix ends the other's. */
function suffixesMeet(x: Glob, y: Glob): boolean {
  return x.literalSuffix.endsWith(y.literalSuffix) || y.literalSuffix.endsWith(x.literalSuffix);
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
function isGeneric(p: PciPattern): boolean {
  const f = p.fields;
  return (
    f[1] === undefined &&
    (f[0] === undefined || f[4] !== undefined || f[5] !== undefined || f[6] !== undefined)
  );
}

/**
 * Calls `visit` once for every pair of patterns of different modules whose vendor and device
 * fields agree or hold a `*`: patterns grouped by vendor, then device; a `*` group meets every
 * group of its level.
 */
function pciCandidates(items: PciItem[], visit: (x: PciItem, y: PciItem) => void): void {
  const byVendor = groupBy(items, (item) => item.pci.fields[0]);
  const anyVendor = byVendor.get(undefined) ?? [];
  const pairWithin = (group: PciItem[]) => {
    const byDevice = groupBy(group, (item) => item.pci.fields[1]);
    const anyDevice = byDevice.get(undefined) ?? [];
    for (const [device, members] of byDevice) {
      allPairs(members, visit);
      if (device !== undefined) crossPairs(anyDevice, members, visit);
    }
  };
  for (const [vendor, group] of byVendor) {
    if (vendor !== undefined) crossPairs(anyVendor, group, visit);
    pairWithin(group);
  }
}

/**
 * Pairs of a generic pattern (a class match, or vfio_pci's catch-all) with every other
 * module: they meet thousands of patterns, so per module only the strongest pair is kept,
 * with the number of pairs. A generic pattern leaves the device `*` and meets only patterns of
 * its vendor or `*`, so whether it meets a pattern, and how, depends only on that pattern's
 * prefix, which of vendor and device it leaves `*`, and its other five fields: each module's
 * patterns are compared once per such shape (its first pattern standing for it).
 */
function genericPairs(
  generic: PciItem[],
  all: PciItem[],
  report: (overlap: PatternOverlap, count: number) => void,
): void {
  type Shape = { first: PciItem; count: number };
  type ModuleGroup = { module: string; shapes: Shape[] };
  const byVendor = new Map<string | undefined, ModuleGroup[]>();
  for (const [vendor, items] of groupBy(all, (item) => item.pci.fields[0])) {
    const groups: ModuleGroup[] = [];
    for (const [module, members] of groupBy(items, (item) => item.input.module)) {
      const shapes = new Map<string, Shape>();
      for (const item of members) {
        const f = item.pci.fields;
        const key = `${item.pci.prefix} ${f[0] === undefined} ${f[1] === undefined} ${f[2]} ${f[3]} ${f[4]} ${f[5]} ${f[6]}`;
        const shape = shapes.get(key);
        if (shape) shape.count++;
        else shapes.set(key, { first: item, count: 1 });
      }
      groups.push({ module, shapes: [...shapes.values()] });
    }
    byVendor.set(vendor, groups);
  }
  const everyVendor = [...byVendor.values()].flat();
  for (const g of generic) {
    const vendor = g.pci.fields[0];
    const groups =
      vendor === undefined
        ? everyVendor
        : [...(byVendor.get(vendor) ?? []), ...(byVendor.get(undefined) ?? [])];
    for (const { module, shapes } of groups) {
      if (module === g.input.module) continue;
      let best: PciItem | undefined;
      let bestRank = -1;
      let count = 0;
      for (const shape of shapes) {
        if (!fieldsIntersect(g.pci, shape.first.pci)) continue;
        count += shape.count;
        const rank = RANK[pciClass(g.pci, shape.first.pci)];
        if (rank > bestRank) {
          best = shape.first;
          bestRank = rank;
        }
      }
      if (best) report(pciOverlap(g, best) as PatternOverlap, count);
    }
  }
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

function allPairs(items: PciItem[], visit: (x: PciItem, y: PciItem) => void): void {
  for (let i = 0; i < items.length; i++)
    for (let j = i + 1; j < items.length; j++) {
      const x = items[i] as PciItem;
      const y = items[j] as PciItem;
      if (x.input.module !== y.input.module) visit(x, y);
    }
}

function crossPairs(xs: PciItem[], ys: PciItem[], visit: (x: PciItem, y: PciItem) => void): void {
  for (const x of xs) for (const y of ys) if (x.input.module !== y.input.module) visit(x, y);
}

function pciOverlap(x: PciItem, y: PciItem): PatternOverlap | undefined {
  if (!fieldsIntersect(x.pci, y.pci)) return undefined;
  const overlap: PatternOverlap = { a: x.input, b: y.input, class: pciClass(x.pci, y.pci) };
  if (overlap.class === "shadows")
    overlap.wider = fieldsContain(x.pci, y.pci) ? x.input.module : y.input.module;
  return overlap;
}

/** The relation of two intersecting pci patterns. */
function pciClass(x: PciPattern, y: PciPattern): PairClass {
  if (x.prefix !== y.prefix) return "flavour-separated";
  const xWider = fieldsContain(x, y);
  const yWider = fieldsContain(y, x);
  if (xWider && yWider) return "identical";
  return xWider || yWider ? "shadows" : "partial";
}

function globOverlap(a: AliasInput, ga: Glob, b: AliasInput, gb: Glob): PatternOverlap | undefined {
  const example = commonString(ga, gb);
  if (example === undefined) return undefined;
  const base = { a, b, example, exampleB: example };
  if (a.pattern === b.pattern) return { ...base, class: "identical" };
  const aWider = contains(ga, gb);
  const bWider = contains(gb, ga);
  if (aWider && bWider) return { ...base, class: "identical" };
  if (aWider) return { ...base, class: "shadows", wider: a.module };
  if (bWider) return { ...base, class: "shadows", wider: b.module };
  return { ...base, class: "partial" };
}

/** Fills in a pci pair's example: the fields both fix, zeros for the `*`s, checked with fnmatch. */
function addExample(pair: PatternOverlap): void {
  if (pair.example !== undefined) return;
  const x = parsePciPattern(pair.a.pattern) as PciPattern;
  const y = parsePciPattern(pair.b.pattern) as PciPattern;
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

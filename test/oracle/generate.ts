// Deterministic generator of lookup inputs (modaliases, module names, odd strings) for the
// libkmod differential test and the bench. Everything comes from one seeded PRNG, so a seed
// and a modules tree always give the same inputs.
//
// It reads the tree's text files on its own (no code from src/): modules.alias,
// modules.builtin.modinfo, modules.dep, modules.builtin, modules.symbols (plain or .gz).
// Strings are byte strings: files are read as latin1, one char per byte.
//
// Run directly, it prints inputs one a line:
//   node --import tsx test/oracle/generate.ts MODULES_DIR [COUNT] [SEED] [MAX_WITH_WILDCARDS] > inputs.txt
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { gunzipSync } from "node:zlib";

// ---------------------------------------------------------------- PRNG (sfc32, splitmix32 seed)

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

export function createRng(seed: number): Rng {
  let s = seed >>> 0;
  const splitmix = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  const u32 = () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) u32();
  const rng: Rng = {
    next: () => u32() / 0x100000000,
    int: (n) => Math.floor(rng.next() * n),
    pick: (items) => {
      if (items.length === 0) throw new Error("pick from an empty list");
      return items[rng.int(items.length)] as (typeof items)[number];
    },
    chance: (p) => rng.next() < p,
  };
  return rng;
}

// ---------------------------------------------------------------- reading a modules tree

export interface AliasEntry {
  pattern: string;
  module: string;
}

export interface ModulesTree {
  /** modules.alias lines, in file order. */
  aliases: AliasEntry[];
  /** alias= values of modules.builtin.modinfo. */
  builtinAliases: AliasEntry[];
  /** Names of the modules in modules.dep (normalised: `_`), in file order. */
  moduleNames: string[];
  /** Names of the built-in modules (modules.builtin). */
  builtinNames: string[];
  /** Symbol names of modules.symbols (without `symbol:`). */
  symbols: string[];
}

function readText(dir: string, name: string): string | undefined {
  const plain = join(dir, name);
  if (existsSync(plain)) return readFileSync(plain).toString("latin1");
  if (existsSync(`${plain}.gz`)) return gunzipSync(readFileSync(`${plain}.gz`)).toString("latin1");
  return undefined;
}

function textLines(text: string | undefined): string[] {
  return text === undefined ? [] : text.split("\n").filter((line) => line !== "");
}

function nameOfPath(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1);
  const dot = base.indexOf(".");
  return (dot < 0 ? base : base.slice(0, dot)).replaceAll("-", "_");
}

function aliasLines(text: string | undefined): AliasEntry[] {
  const out: AliasEntry[] = [];
  for (const line of textLines(text)) {
    const fields = line.split(/[ \t]+/);
    if (fields[0] !== "alias" || fields.length < 3) continue;
    out.push({ pattern: fields[1] as string, module: fields[2] as string });
  }
  return out;
}

export function readModulesTree(dir: string): ModulesTree {
  const aliasText = readText(dir, "modules.alias");
  if (aliasText === undefined) throw new Error(`${dir}: no modules.alias`);
  const builtinAliases: AliasEntry[] = [];
  for (const record of (readText(dir, "modules.builtin.modinfo") ?? "").split("\0")) {
    const match = /^([^.]+)\.alias=(.*)$/s.exec(record);
    if (match) builtinAliases.push({ module: match[1] as string, pattern: match[2] as string });
  }
  return {
    aliases: aliasLines(aliasText),
    builtinAliases,
    moduleNames: textLines(readText(dir, "modules.dep")).map((line) =>
      nameOfPath(line.slice(0, line.indexOf(":"))),
    ),
    builtinNames: textLines(readText(dir, "modules.builtin")).map(nameOfPath),
    symbols: aliasLines(readText(dir, "modules.symbols"))
      .map((entry) => entry.pattern)
      .filter((p) => p.startsWith("symbol:"))
      .map((p) => p.slice("symbol:".length)),
  };
}

// ---------------------------------------------------------------- fnmatch patterns → instances

type Token =
  | { kind: "char"; char: string }
  | { kind: "any" }
  | { kind: "star" }
  | { kind: "set"; members: string[]; negated: boolean };

const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i));
const HEX = "0123456789ABCDEF".split("");
const ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_".split("");

/**
 * A pattern as tokens, read the simple way: `\x` is x, `[` up to the next `]` (a `]` right after
 * `[` or `[!` is a member) is a set with a-b ranges. Good enough to build strings the pattern
 * matches for the patterns kernels write; where it is wrong, the string just fails to match —
 * the oracle decides what matches, not this reader.
 */
export function tokenize(pattern: string): Token[] {
  const tokens: Token[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === "*") tokens.push({ kind: "star" });
    else if (c === "?") tokens.push({ kind: "any" });
    else if (c === "\\" && i + 1 < pattern.length)
      tokens.push({ kind: "char", char: pattern[++i] as string });
    else if (c === "[") {
      let j = i + 1;
      const negated = pattern[j] === "!" || pattern[j] === "^";
      if (negated) j++;
      const start = j;
      if (pattern[j] === "]") j++;
      while (j < pattern.length && pattern[j] !== "]") j++;
      if (j >= pattern.length) {
        tokens.push({ kind: "char", char: "[" });
        continue;
      }
      const body = pattern.slice(start, j);
      const members: string[] = [];
      for (let k = 0; k < body.length; k++) {
        const from = body.charCodeAt(k);
        if (body[k + 1] === "-" && k + 2 < body.length) {
          const to = body.charCodeAt(k + 2);
          for (let code = from; code <= to && code - from < 256; code++)
            members.push(String.fromCharCode(code));
          k += 2;
        } else members.push(body[k] as string);
      }
      tokens.push({ kind: "set", members, negated });
      i = j;
    } else tokens.push({ kind: "char", char: c });
  }
  return tokens;
}

function fillSet(token: Extract<Token, { kind: "set" }>, rng: Rng): string {
  if (!token.negated && token.members.length > 0 && rng.chance(0.9)) return rng.pick(token.members);
  for (let tries = 0; tries < 20; tries++) {
    const c = rng.pick(ALNUM);
    if (token.negated !== token.members.includes(c)) return c;
  }
  return rng.pick(ALNUM);
}

/** Literal characters of a pattern, for fills that look like the pattern's own text. */
function literalsOf(pattern: string): string {
  return pattern.replace(/[*?[\]\\]/g, "");
}

function randomFill(pattern: string, rng: Rng): string {
  const kind = rng.int(10);
  if (kind < 3) return "";
  if (kind < 6) return Array.from({ length: 1 + rng.int(8) }, () => rng.pick(HEX)).join("");
  if (kind < 8) return Array.from({ length: 1 + rng.int(10) }, () => rng.pick(ALNUM)).join("");
  const literals = literalsOf(pattern);
  if (literals.length === 0) return rng.pick(ALNUM);
  const from = rng.int(literals.length);
  return literals.slice(from, from + 1 + rng.int(12));
}

/** A string built from the pattern: `*` gets a random fill, `?` a character, `[..]` a member. */
export function instantiate(pattern: string, rng: Rng): string {
  let out = "";
  for (const token of tokenize(pattern)) {
    if (token.kind === "char") out += token.char;
    else if (token.kind === "any") out += rng.chance(0.7) ? rng.pick(HEX) : rng.pick(PRINTABLE);
    else if (token.kind === "set") out += fillSet(token, rng);
    else out += randomFill(pattern, rng);
  }
  return out;
}

/** A field pattern filled to exactly `width` hex digits (stars share what is left). */
function fieldInstance(sub: string, width: number, rng: Rng): string | undefined {
  const tokens = tokenize(sub);
  const stars = tokens.filter((t) => t.kind === "star").length;
  let left = width - (tokens.length - stars);
  if (left < 0 || (stars === 0 && left !== 0)) return undefined;
  let out = "";
  let seen = 0;
  for (const token of tokens) {
    if (token.kind === "char") out += token.char;
    else if (token.kind === "any") out += rng.pick(HEX);
    else if (token.kind === "set") out += fillSet(token, rng);
    else {
      seen++;
      const n = seen === stars ? left : rng.int(left + 1);
      left -= n;
      for (let i = 0; i < n; i++) out += rng.pick(HEX);
    }
  }
  return out;
}

interface Layout {
  regex: RegExp;
  widths: number[];
  markers: string[];
}

// Field values never hold lower-case letters, the field markers are lower-case letters.
const LAYOUTS: Record<string, Layout> = {
  pci: {
    regex: /^((?:vfio_)?pci:)v([^a-z]*)d([^a-z]*)sv([^a-z]*)sd([^a-z]*)bc([^a-z]*)sc([^a-z]*)i([^a-z]*)$/,
    markers: ["v", "d", "sv", "sd", "bc", "sc", "i"],
    widths: [8, 8, 8, 8, 2, 2, 2],
  },
  usb: {
    regex:
      /^(usb:)v([^a-z]*)p([^a-z]*)d([^a-z]*)dc([^a-z]*)dsc([^a-z]*)dp([^a-z]*)ic([^a-z]*)isc([^a-z]*)ip([^a-z]*)in([^a-z]*)$/,
    markers: ["v", "p", "d", "dc", "dsc", "dp", "ic", "isc", "ip", "in"],
    widths: [4, 4, 4, 2, 2, 2, 2, 2, 2, 2],
  },
};

/**
 * For pci/vfio_pci/usb patterns: a canonical modalias (every field its full width of hex
 * digits, as the kernel writes it) that the pattern matches; undefined for other patterns.
 */
export function canonicalInstance(pattern: string, rng: Rng): string | undefined {
  const layout = pattern.startsWith("usb:")
    ? LAYOUTS.usb
    : /^(vfio_)?pci:/.test(pattern)
      ? LAYOUTS.pci
      : undefined;
  if (!layout) return undefined;
  const m = layout.regex.exec(pattern);
  if (!m) return undefined;
  let out = m[1] as string;
  for (let f = 0; f < layout.widths.length; f++) {
    let sub = m[f + 2] as string;
    // The last field's trailing `*` (file2alias always adds one) matches the empty rest.
    if (f === layout.widths.length - 1 && sub.endsWith("*") && sub !== "*") sub = sub.slice(0, -1);
    const value = fieldInstance(sub, layout.widths[f] as number, rng);
    if (value === undefined) return undefined;
    out += (layout.markers[f] as string) + value;
  }
  return out;
}

// ---------------------------------------------------------------- mutations

const MUTATION_CHARS = [..."0123456789ABCDEFabcdef:_-*?[]!^\\ .,vdsi", "\t", "\x7f", "\xe9", "\xff"];

/** A near miss: one edit (change, delete, insert, case flip, truncation, duplication). */
export function nearMiss(text: string, rng: Rng): string {
  if (text.length === 0) return rng.pick(MUTATION_CHARS);
  const at = rng.int(text.length);
  switch (rng.int(7)) {
    case 0:
    case 1:
      return text.slice(0, at) + rng.pick(MUTATION_CHARS) + text.slice(at + 1);
    case 2:
      return text.slice(0, at) + text.slice(at + 1);
    case 3:
      return text.slice(0, at) + rng.pick(MUTATION_CHARS) + text.slice(at);
    case 4: {
      const c = text[at] as string;
      const flipped = c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase();
      return text.slice(0, at) + flipped + text.slice(at + 1);
    }
    case 5:
      return text.slice(0, at);
    default: {
      const end = Math.min(text.length, at + 1 + rng.int(6));
      return text.slice(0, end) + text.slice(at, end) + text.slice(end);
    }
  }
}

/** Puts wildcards into a string (libkmod walks them literally through its index). */
function withWildcards(text: string, rng: Rng): string {
  const pieces = ["*", "?", "[0-9]", "[A-F]", "[!0]", "\\", "*?", "**", "[]]", "[*]"];
  const at = rng.int(text.length + 1);
  const cut = rng.chance(0.5) ? rng.int(Math.min(4, text.length - at) + 1) : 0;
  return text.slice(0, at) + rng.pick(pieces) + text.slice(at + cut);
}

/** Replaces some `_` with `-` (libkmod reads both as `_`) — or the other way round. */
function dashVariant(text: string, rng: Rng): string {
  let out = "";
  for (const c of text) {
    if (c === "_" && rng.chance(0.5)) out += "-";
    else if (c === "-" && rng.chance(0.3)) out += "_";
    else out += c;
  }
  return out;
}

function hex(rng: Rng, digits: number): string {
  let out = "";
  for (let i = 0; i < digits; i++) out += HEX[rng.int(16)];
  return out;
}

// ---------------------------------------------------------------- odd strings

const PATH_MAX = 4096;

function oddStrings(tree: ModulesTree, rng: Rng): string[] {
  const pciPattern = tree.aliases.find((a) => a.pattern.startsWith("pci:"))?.pattern ?? "pci:v*";
  const pci = canonicalInstance(pciPattern, rng) ?? "pci:v00008086d00001234sv00000000sd00000000bc02sc00i00";
  const module = tree.moduleNames[0] ?? "e1000e";
  const padded = (length: number, tail: string) => "A".repeat(Math.max(0, length - tail.length)) + tail;
  return [
    "",
    " ",
    "  ",
    "\t",
    "\r",
    "*",
    "**",
    "?",
    "[",
    "]",
    "[]",
    "[]]",
    "[!]",
    "[!]]",
    "[^]]",
    "[a-]",
    "[]-a]",
    "\\",
    "\\\\",
    "\\*",
    "\\[",
    ":",
    "::",
    "-",
    "_",
    "--",
    "pci",
    "pci:",
    "pci:*",
    "pci:v",
    "pci:v*",
    "vfio_pci:",
    "vfio-pci:v*",
    "vfio_pci",
    "vfio-pci",
    "usb:*",
    "usb:v*p*d*dc*dsc*dp*ic*isc*ip*in*",
    "symbol:",
    "symbol:*",
    "alias",
    "#",
    "# Aliases extracted from modules themselves.",
    "\xff",
    "\xfe\xff",
    "pci:v\xe9",
    `${pci}\xe9`,
    `\xe9${pci}`,
    `${pci}\r`,
    ` ${pci}`,
    `${pci} `,
    `${pci}\t`,
    `${pci}*`,
    `${pci}[`,
    `${pci}]`,
    `${pci}\\`,
    pci.toLowerCase(),
    pci.replace("pci:", "PCI:"),
    `${pci}${pci}`,
    `${module}\0junk`,
    `${pci}\0`,
    `\0${pci}`,
    `${module}.ko`,
    `${module}.ko.xz`,
    `${module.toUpperCase()}`,
    `kernel/drivers/${module}.ko`,
    "x".repeat(PATH_MAX - 2),
    "x".repeat(PATH_MAX - 1),
    "x".repeat(PATH_MAX),
    "x".repeat(PATH_MAX * 2),
    padded(PATH_MAX - 2, pci),
    padded(PATH_MAX - 1, pci),
    pci + "0".repeat(PATH_MAX),
    pci + "-".repeat(PATH_MAX),
    // A bracket that closes inside libkmod's buffer; one crossing its end is undefined
    // behaviour in alias_normalize (it writes past the buffer), so none is generated.
    padded(PATH_MAX - 10, "[ab]-c"),
  ];
}

// ---------------------------------------------------------------- the generator

export interface GenerateOptions {
  count: number;
  seed: number;
  /**
   * At most this many inputs holding `*`, `?` or `[` (libkmod walks those literally through
   * its index; flavourctl emulates that walk on a slow path). Default: no limit.
   */
  maxWithWildcards?: number;
}

const WILDCARD = /[*?[]/;

/** The bus of an alias pattern: its text up to the first `:`, or "" when it has none. */
function busOf(pattern: string): string {
  const colon = pattern.indexOf(":");
  return colon < 0 ? "" : pattern.slice(0, colon);
}

export function generateModaliases(tree: ModulesTree, options: GenerateOptions): string[] {
  const rng = createRng(options.seed);
  const out: string[] = [];
  // No input may hold a newline (it is one line of stdin); a bracket that crosses libkmod's
  // PATH_MAX buffer is undefined behaviour there (crossesAliasBuffer): both are left out.
  let wildcardInputs = 0;
  const maxWithWildcards = options.maxWithWildcards ?? Number.POSITIVE_INFINITY;
  const push = (...inputs: string[]) => {
    for (const input of inputs) {
      const line = input.replaceAll("\n", "");
      if (crossesAliasBuffer(line)) continue;
      if (WILDCARD.test(line) && ++wildcardInputs > maxWithWildcards) continue;
      out.push(line);
    }
  };
  const aliases = tree.aliases;
  if (aliases.length === 0) throw new Error("the tree has no aliases");
  const byBus = new Map<string, AliasEntry[]>();
  for (const entry of aliases) {
    const bus = busOf(entry.pattern);
    const list = byBus.get(bus);
    if (list) list.push(entry);
    else byBus.set(bus, [entry]);
  }
  const buses = [...byBus.keys()].filter((bus) => bus !== "");
  const pciAliases = aliases.filter((a) => a.pattern.startsWith("pci:"));
  const vendors = [
    ...new Set(pciAliases.map((a) => /^pci:v([0-9A-F]{8})/.exec(a.pattern)?.[1]).filter(Boolean)),
  ];
  const devices = pciAliases
    .map((a) => /^pci:v([0-9A-F]{8})d([0-9A-F]{8})/.exec(a.pattern))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [m[1] as string, m[2] as string] as const);
  const classes = pciAliases
    .map((a) => /bc([0-9A-F]{2})sc([0-9A-F]{2}|\*)i([0-9A-F]{2})?/.exec(a.pattern))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [m[1] as string, m[2] === "*" ? undefined : m[2], m[3]] as const);

  const names = [...tree.moduleNames, ...tree.builtinNames];
  const patternOf = (entry: AliasEntry) => entry.pattern;

  const anyInstance = (entry: AliasEntry): string =>
    (rng.chance(0.7) ? canonicalInstance(entry.pattern, rng) : undefined) ?? instantiate(entry.pattern, rng);

  const randomPci = (): string => {
    let vendor: string;
    let device: string;
    const r = rng.int(10);
    if (r < 4 && devices.length > 0) [vendor, device] = rng.pick(devices);
    else if (r < 8 && vendors.length > 0) {
      vendor = rng.pick(vendors) as string;
      device = `0000${hex(rng, 4)}`;
    } else {
      vendor = rng.chance(0.8) ? `0000${hex(rng, 4)}` : hex(rng, 8);
      device = `0000${hex(rng, 4)}`;
    }
    const subvendor = rng.chance(0.3) ? vendor : rng.chance(0.2) ? "00000000" : `0000${hex(rng, 4)}`;
    const subdevice = rng.chance(0.2) ? "00000000" : `0000${hex(rng, 4)}`;
    let bc = hex(rng, 2);
    let sc = hex(rng, 2);
    let pi = hex(rng, 2);
    if (classes.length > 0 && rng.chance(0.6)) {
      const [b, s, i] = rng.pick(classes);
      bc = b;
      sc = s ?? sc;
      pi = i ?? pi;
    }
    const prefix = rng.chance(0.15) ? "vfio_pci:" : "pci:";
    return `${prefix}v${vendor}d${device}sv${subvendor}sd${subdevice}bc${bc}sc${sc}i${pi}`;
  };

  // Kinds of input and their weights (out of 100).
  const kinds: [number, () => string][] = [
    [24, () => anyInstance(rng.pick(aliases))],
    [14, () => anyInstance(rng.pick(byBus.get(rng.pick(buses)) ?? aliases))],
    [10, randomPci],
    [
      5,
      () => {
        const instance = anyInstance(rng.pick(pciAliases.length > 0 ? pciAliases : aliases));
        return instance.startsWith("pci:") ? `vfio_${instance}` : instance;
      },
    ],
    [17, () => nearMiss(rng.chance(0.3) ? randomPci() : anyInstance(rng.pick(aliases)), rng)],
    // Strings holding wildcards: libkmod walks them literally through its index (rare in real
    // life; kept to about 2% of the inputs).
    [1, () => rng.pick(aliases).pattern],
    [1, () => withWildcards(anyInstance(rng.pick(aliases)), rng)],
    [4, () => dashVariant(anyInstance(rng.pick(aliases)), rng)],
    [
      8,
      () => {
        const name = rng.pick(names);
        const r = rng.int(10);
        if (r < 6) return dashVariant(name, rng);
        if (r < 9) return nearMiss(name, rng);
        return `${name}${rng.pick([".ko", ".ko.xz", ":", "*", "?", "-", " "])}`;
      },
    ],
    [
      4,
      () => {
        if (tree.builtinAliases.length === 0) return rng.pick(names);
        const entry = rng.pick(tree.builtinAliases);
        const r = rng.int(10);
        if (r < 3) return entry.pattern;
        if (r < 7) return dashVariant(instantiate(entry.pattern, rng), rng);
        return nearMiss(instantiate(entry.pattern, rng), rng);
      },
    ],
    [
      3,
      () => {
        if (tree.symbols.length === 0) return `symbol:${rng.pick(names)}`;
        const symbol = `symbol:${rng.pick(tree.symbols)}`;
        return rng.chance(0.6) ? symbol : rng.chance(0.5) ? nearMiss(symbol, rng) : dashVariant(symbol, rng);
      },
    ],
    [
      2,
      () => {
        // Random printable junk, sometimes with a real bus in front.
        const length = rng.int(40);
        let s = rng.chance(0.5) ? `${rng.pick(buses)}:` : "";
        for (let i = 0; i < length; i++) s += rng.pick(PRINTABLE);
        return s;
      },
    ],
    [
      7,
      () => {
        // Two patterns' text spliced: a prefix of one, the rest of an instance of another.
        const a = anyInstance(rng.pick(aliases));
        const b = anyInstance(rng.pick(byBus.get(busOf(a)) ?? aliases));
        const cut = rng.int(Math.min(a.length, b.length) + 1);
        return a.slice(0, cut) + b.slice(cut);
      },
    ],
  ];
  const total = kinds.reduce((sum, [weight]) => sum + weight, 0);

  // Coverage first: every bus several times, every alias without a bus (module-style names
  // such as fs-xfs, char-major-10-229) as written and with `_`/`-` swapped, the odd strings.
  for (const bus of [...byBus.keys()].sort()) {
    const list = byBus.get(bus) ?? [];
    if (bus === "") {
      for (const entry of list) push(entry.pattern, dashVariant(instantiate(entry.pattern, rng), rng));
      continue;
    }
    for (let i = 0; i < 4; i++) push(anyInstance(rng.pick(list)));
    push(nearMiss(anyInstance(rng.pick(list)), rng), rng.pick(list.map(patternOf)));
  }
  for (const entry of tree.builtinAliases) push(instantiate(entry.pattern, rng));
  push(...oddStrings(tree, rng));

  while (out.length < options.count) {
    let roll = rng.int(total);
    for (const [weight, make] of kinds) {
      if (roll < weight) {
        push(make());
        break;
      }
      roll -= weight;
    }
  }
  return out;
}

/**
 * alias_normalize copies `[...]` whole, even past its PATH_MAX buffer: a bracket still open at
 * the buffer's last character makes libkmod write past it (undefined behaviour), unless the
 * string ends (or holds a NUL) before that matters.
 */
export function crossesAliasBuffer(s: string): boolean {
  const nul = s.indexOf("\0");
  const length = nul < 0 ? s.length : nul;
  if (length < PATH_MAX) return false;
  let inside = false;
  for (let i = 0; i < PATH_MAX - 1; i++) {
    const c = s[i];
    if (!inside && c === "[") inside = true;
    else if (inside && c === "]") inside = false;
  }
  return inside;
}

// ---------------------------------------------------------------- command line

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [dir, count = "200000", seed = "1", maxWithWildcards] = process.argv.slice(2);
  if (!dir) {
    process.stderr.write("usage: generate.ts MODULES_DIR [COUNT] [SEED] [MAX_WITH_WILDCARDS]\n");
    process.exit(2);
  }
  const inputs = generateModaliases(readModulesTree(dir), {
    count: Number(count),
    seed: Number(seed),
    ...(maxWithWildcards === undefined ? {} : { maxWithWildcards: Number(maxWithWildcards) }),
  });
  process.stdout.write(`${inputs.join("\n")}\n`, "latin1");
}

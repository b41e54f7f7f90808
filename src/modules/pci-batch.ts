// resolve's batch of canonical PCI modaliases, answered from bytes to bytes.
//
// The names flavourctl's users resolve are devices asking for their driver (`pci:`) and their
// vfio flavour (`vfio_pci:`), in the kernel's fixed form (pci-sysfs.c modalias_show). For such
// a name lookup() does, per name: a string, a normalised key, a search collecting candidate
// objects, a sort, a list of matches and a joined line — most of the time of a batch of
// 200,000 names. Here each bus's patterns are read once into flat tables, numbered in the
// order lookup() would print their lines, and filed by the vendor and device their literal
// prefix fixes (file2alias's do_pci_entry writes the vendor and device first). A name is then
// read field by field from the input bytes, compared with the few candidates filed under its
// ids, its vendor and no vendor, and its modules are copied into the output bytes, already
// escaped for a terminal. No object is made per name.
//
// The answer is lookup()'s, stage by stage (kmod_module_new_from_lookup): modprobe.d aliases
// first (those that may match a name of the bus are tried on it, whole), then modules.alias,
// then the built-in aliases (modules.builtin.alias.bin); a name never is a module name (it
// holds a ':') nor a symbol. What this does not decide — a name not in canonical form, an
// install/remove command named like a modalias, a match whose key does not fit libkmod's
// PATH_MAX — it leaves to lookup(): resolve() returns false.
import { readModaliasFields } from "../pci/modalias.ts";
import type { AliasLine, CanonicalPciLines } from "./alias-file.ts";
import { type AliasIndex, compareVisitOrder, PCI_PATTERN } from "./alias-index.ts";
import { compileMatcher, fnmatch } from "./fnmatch.ts";
import type { ModulesDir } from "./modules-dir.ts";
import { hexAt } from "./pci-field-index.ts";
import {
  BASE_CLASS,
  buildPciTable,
  FIELD_COUNT,
  FIELDS,
  findPair,
  findVendor,
  type PciLines,
  type PciTable,
} from "./pci-table.ts";
import { type CachedPciTables, readPciTables, writePciTables } from "./pci-table-cache.ts";

/** Where a growing output of bytes stands: `bytes[0, length)` is written. */
export class ByteOutput {
  bytes: Uint8Array;
  length = 0;
  constructor(capacity: number) {
    this.bytes = new Uint8Array(capacity);
  }
  /** Room for COUNT more bytes. */
  reserve(count: number): void {
    if (this.length + count <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + count));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }
  /**
   * TEXT's characters as bytes (latin1: one byte each); whether they are all printable ASCII
   * or tabs (else a caller escaping bytes that steer a terminal has some to look at).
   */
  writeLatin1(text: string): boolean {
    this.reserve(text.length);
    const bytes = this.bytes;
    let at = this.length;
    let plain = true;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if ((c < 0x20 && c !== 0x09) || c >= 0x7f) plain = false;
      bytes[at++] = c;
    }
    this.length = at;
    return plain;
  }
}

/** Which buses a batch answers: index 0 `pci`, 1 `vfio_pci`. */
export const PCI_BUSES = ["pci", "vfio_pci"] as const;
/** Length of `pci:`+fields and `vfio_pci:`+fields in the kernel's form. */
const NAME_LENGTH = [53, 58] as const;
/** The fields after the bus's `:` (pci-sysfs.c's format: markers, %08X and %02X). */
const FIELDS_LENGTH = 49;
/** libkmod's PATH_MAX. */
const PATH_MAX = 4096;

/** Upper-case hex digit values by byte, -1 for anything else (the kernel prints %X). */
const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 16; c++) HEX["0123456789ABCDEF".charCodeAt(c)] = c;

/** A stage's table, and how its lines compared as text are (none from a table of file2alias's form). */
interface Stage {
  table: PciTable;
  textMatch: (((name: string) => boolean) | undefined)[] | undefined;
}

/** A modprobe.d alias that may match a name of the bus: lookup()'s first stage, tried whole. */
interface ConfigAlias {
  pattern: string;
  module: string;
}

/** What a bus's names are matched against. */
interface BusStages {
  config: ConfigAlias[];
  /** An install or remove command is named like a name of the bus: lookup() decides those. */
  commandNamed: boolean;
  aliases: Stage;
  builtin: Stage | undefined;
}

/** How module names are written: the caller's escaping of what would steer a terminal. */
export type Escape = (bytes: string) => string;

export class PciBatch {
  private readonly dir: ModulesDir;
  private readonly escapeModule: Escape;
  private readonly buses: (BusStages | undefined)[] = [undefined, undefined];
  /** modules.alias's tables of both buses, from the cache or made once (undefined: not yet). */
  private aliasTables: CachedPciTables | undefined;
  /** The name being answered: its fields, and the matching lines' numbers. */
  private readonly fields = new Int32Array(FIELD_COUNT);
  /** The name being answered: INPUT[start, end). */
  private input: Uint8Array = new Uint8Array(0);
  private start = 0;
  private end = 0;
  private matched = new Int32Array(64);

  /** ESCAPEMODULE is applied to every module name written (a latin1 byte string in, and out). */
  constructor(dir: ModulesDir, escapeModule: Escape) {
    this.dir = dir;
    this.escapeModule = escapeModule;
  }

  /**
   * Writes to OUT the modules lookup() finds for the name INPUT[start, end) — space-separated,
   * escaped as resolve prints them — when it is a canonical pci: or vfio_pci: modalias whose
   * answer this decides; otherwise writes nothing and returns false.
   */
  resolve(input: Uint8Array, start: number, end: number, out: ByteOutput): boolean {
    const length = end - start;
    let bus: 0 | 1;
    if (length === NAME_LENGTH[0] && isPrefix(input, start, "pci:")) bus = 0;
    else if (length === NAME_LENGTH[1] && isPrefix(input, start, "vfio_pci:")) bus = 1;
    else return false;
    if (!readFields(input, end - FIELDS_LENGTH, this.fields)) return false;
    this.input = input;
    this.start = start;
    this.end = end;
    const stages = this.buses[bus] ?? this.stagesOf(bus);
    if (stages.commandNamed) return false;
    if (stages.config.length > 0) {
      const answered = this.configAnswer(stages.config, latin1(input, start, end), out);
      if (answered !== undefined) return answered;
    }
    let stage = stages.aliases;
    let count = this.match(stage);
    if (count === 0 && stages.builtin) {
      stage = stages.builtin;
      count = this.match(stage);
    }
    if (count < 0) return false;
    this.write(stage.table, count, out);
    return true;
  }

  /**
   * The lines of STAGE matching the current name, their numbers in `matched` in answer order;
   * how many, or -1 when one of them is too long for libkmod: kmod_module_new_from_alias keys
   * each module "NAME\\ALIAS" in PATH_MAX bytes (lookup.ts answer).
   */
  private match(stage: Stage): number {
    const table = stage.table;
    const fields = this.fields;
    let count = 0;
    const pair = findPair(table.pairKeys, table.pairLists, fields[0] as number, fields[1] as number);
    if (pair >= 0) count = this.collect(stage, table.pairLists, 2 * pair, count);
    const vendor = findVendor(table.vendorKeys, table.vendorLists, fields[0] as number);
    if (vendor >= 0) count = this.collect(stage, table.vendorLists, 2 * vendor, count);
    count = this.collect(stage, table.classLists, fields[BASE_CLASS] as number, count);
    const matched = this.matched;
    // each list is in answer order; lines of two lists are merged by insertion (a handful)
    for (let i = 1; i < count; i++) {
      const line = matched[i] as number;
      let j = i - 1;
      while (j >= 0 && (matched[j] as number) > line) {
        matched[j + 1] = matched[j] as number;
        j--;
      }
      matched[j + 1] = line;
    }
    for (let i = 0; i < count; i++) {
      if ((table.moduleLength[matched[i] as number] as number) + this.end - this.start + 2 > PATH_MAX)
        return -1;
    }
    return count;
  }

  /**
   * Adds the lines of STAGE's list lists[SPANS[at], SPANS[at + 1]) matching the current name to
   * `matched` after COUNT.
   */
  private collect(stage: Stage, spans: Int32Array, at: number, count: number): number {
    const from = spans[at] as number;
    const to = spans[at + 1] as number;
    const fields = this.fields;
    const { values, literal, lists } = stage.table;
    let name: string | undefined;
    for (let c = from; c < to; c++) {
      const line = lists[c] as number;
      const mask = literal[line] as number;
      let matches: boolean;
      if (mask === 0) {
        name ??= latin1(this.input, this.start, this.end);
        matches = ((stage.textMatch as ((name: string) => boolean)[])[line] as (name: string) => boolean)(
          name,
        );
      } else {
        matches = true;
        const base = line * FIELD_COUNT;
        for (let f = 0; f < FIELD_COUNT; f++) {
          if ((mask & (1 << f)) !== 0 && values[base + f] !== fields[f]) {
            matches = false;
            break;
          }
        }
      }
      if (matches) {
        if (count === this.matched.length) {
          const grown = new Int32Array(count * 2);
          grown.set(this.matched);
          this.matched = grown;
        }
        this.matched[count++] = line;
      }
    }
    return count;
  }

  /** The matched lines' modules, space-separated. */
  private write(table: PciTable, count: number, out: ByteOutput): void {
    const source = table.moduleBytes;
    for (let i = 0; i < count; i++) {
      const line = this.matched[i] as number;
      const from = table.moduleStart[line] as number;
      const to = table.moduleEnd[line] as number;
      out.reserve(to - from + 1);
      const bytes = out.bytes;
      let at = out.length;
      if (i > 0) bytes[at++] = SPACE;
      for (let b = from; b < to; b++) bytes[at++] = source[b] as number;
      out.length = at;
    }
  }

  /**
   * kmod_lookup_alias_from_config: the modprobe.d aliases matching NAME, in file order, as the
   * answer; undefined when none does (the next stages answer), false when lookup() must
   * (a module and pattern too long for libkmod's key).
   */
  private configAnswer(config: ConfigAlias[], name: string, out: ByteOutput): boolean | undefined {
    const found = config.filter((alias) => fnmatch(alias.pattern, name));
    if (found.length === 0) return undefined;
    if (found.some((alias) => alias.module.length + alias.pattern.length + 2 > PATH_MAX)) return false;
    out.writeLatin1(this.escapeModule(found.map((alias) => alias.module).join(" ")));
    return true;
  }

  private stagesOf(bus: 0 | 1): BusStages {
    const dir = this.dir;
    const name = PCI_BUSES[bus];
    const config = dir.config;
    const namePrefix = `${name}:`;
    const builtin = dir.builtinAliases;
    this.aliasTables ??= aliasTables(dir);
    const cached = this.aliasTables.tables[bus];
    const stages: BusStages = {
      config: config.aliases.filter((alias) => mayMatchPrefix(alias.pattern, namePrefix)),
      commandNamed: [...config.install, ...config.remove].some((c) => c.module.startsWith(namePrefix)),
      aliases: cached
        ? { table: cached, textMatch: undefined }
        : // by priority (depmod's), then the walk's order of patterns (lookup.ts byPriority)
          indexStage(
            dir.aliases,
            name,
            this.escapeModule,
            (a, b) => a.line.priority - b.line.priority || compareVisitOrder(a, b),
          ),
      // modules.builtin.alias.bin: the walk's patterns reversed, each pattern's lines in file order
      builtin:
        builtin &&
        indexStage(builtin, name, this.escapeModule, (a, b) =>
          a.key === b.key ? 0 : compareVisitOrder(b, a),
        ),
    };
    this.buses[bus] = stages;
    return stages;
  }
}

/**
 * modules.alias's tables for both buses where its lines are all of file2alias's form (null for a
 * bus where they are not), with the file's warnings: from the cache directory when it holds
 * them for these bytes of the file, else made now — the lines read with their fields in one
 * pass, their priorities being their offsets, so file order is lookup()'s — and kept there.
 */
function aliasTables(dir: ModulesDir): CachedPciTables {
  const file = dir.aliasFile;
  const cacheDir = dir.cacheDirectory;
  const cached = cacheDir === undefined ? undefined : readPciTables(cacheDir, file);
  if (cached) {
    file.knowWarnings(cached.warnings);
    return cached;
  }
  const tables = PCI_BUSES.map((bus) => {
    const canonical = file.canonicalPciLines(bus);
    // module names of that form are [A-Za-z0-9_-]: nothing to escape
    return canonical ? buildPciTable(canonicalLines(canonical)) : null;
  });
  const made: CachedPciTables = { tables, warnings: file.warnings() };
  if (cacheDir !== undefined) writePciTables(cacheDir, file, made);
  return made;
}

/**
 * Whether a modprobe.d pattern may match some string starting with PREFIX: its part before
 * the first wildcard and PREFIX agree as far as both go (a pattern is matched whole, by fnmatch).
 */
function mayMatchPrefix(pattern: string, prefix: string): boolean {
  const wildcard = pattern.search(/[*?[\\]/);
  const literal = wildcard < 0 ? pattern : pattern.slice(0, wildcard);
  const common = Math.min(literal.length, prefix.length);
  return literal.slice(0, common) === prefix.slice(0, common);
}

const noLines = (): PciLines => ({ masks: [], values: [], modules: [], vendors: [], devices: [] });

function canonicalLines(found: CanonicalPciLines): PciLines {
  const lines = noLines();
  lines.values = found.values;
  lines.modules = found.modules;
  // a prefix fixes the vendor when v is literal, and the device too when d is
  for (let n = 0; n < found.masks.length; n++) {
    const mask = found.masks[n] as number;
    lines.masks.push(FIELDS | mask);
    lines.vendors.push(mask & 1 ? (found.values[n * FIELD_COUNT] as number) : undefined);
    lines.devices.push(mask & 1 && mask & 2 ? (found.values[n * FIELD_COUNT + 1] as number) : undefined);
  }
  return lines;
}

interface Candidate {
  line: AliasLine;
  literal: boolean;
  /** File order among the lines read (their order from linesFor). */
  order: number;
  wildcardAt: number;
  key: string;
}

/**
 * INDEX's lines for names of BUS, whatever their form, in the order ORDER puts them (else
 * file order), as a stage; their modules escaped by ESCAPEMODULE.
 */
function indexStage(
  index: AliasIndex,
  bus: string,
  escapeModule: Escape,
  order: (a: Candidate, b: Candidate) => number,
): Stage {
  const candidates: Candidate[] = [];
  for (const { line, literal } of index.linesFor(bus)) {
    const wildcard = line.key.search(/[*?[]/);
    const wildcardAt = wildcard < 0 ? line.key.length : wildcard;
    candidates.push({ line, literal, order: candidates.length, wildcardAt, key: line.key });
  }
  candidates.sort((a, b) => order(a, b) || a.order - b.order);
  const lines = noLines();
  const textMatch: (((name: string) => boolean) | undefined)[] = [];
  const colon = bus.length;
  for (const { line, literal, key, wildcardAt } of candidates) {
    let mask = 0;
    let values: ArrayLike<number> = NO_VALUES;
    let matcher: ((name: string) => boolean) | undefined;
    if (literal) {
      // no wildcard: it matches the one name equal to it, if that is canonical
      const fields = [0, 0, 0, 0, 0, 0, 0];
      if (!readModaliasFields(key, fields)) continue; // never a candidate
      mask = FIELDS | 0x7f;
      values = fields.map((value) => value | 0);
    } else {
      const fields = key.startsWith(`${bus}:`) ? PCI_PATTERN.exec(key) : null;
      if (fields) {
        mask = FIELDS;
        const parsed = [0, 0, 0, 0, 0, 0, 0];
        for (let f = 0; f < FIELD_COUNT; f++) {
          const field = fields[f + 1];
          if (field === undefined || field === "*") continue;
          mask |= 1 << f;
          parsed[f] = Number.parseInt(field, 16) | 0;
        }
        values = parsed;
      } else {
        // compared as text: the literal prefix, then fnmatch of the rest (AliasIndex.searchBucket)
        const prefix = key.slice(0, wildcardAt);
        const rest = compileMatcher(key.slice(wildcardAt));
        matcher = (name) => name.startsWith(prefix) && rest(name.slice(wildcardAt));
      }
    }
    lines.masks.push(mask);
    for (let f = 0; f < FIELD_COUNT; f++) lines.values.push(values[f] as number);
    textMatch.push(matcher);
    lines.modules.push(line.module);
    // filed by the vendor and device the literal prefix fixes (the whole key when literal)
    const prefix = key.slice(0, wildcardAt);
    const vendor = prefix.charCodeAt(colon + 1) === V ? hexAt(prefix, colon + 2, 8) : undefined;
    lines.vendors.push(vendor);
    lines.devices.push(
      vendor !== undefined && prefix.charCodeAt(colon + 10) === D ? hexAt(prefix, colon + 11, 8) : undefined,
    );
  }
  return { table: buildPciTable(lines, escapeModule), textMatch };
}

const NO_VALUES = [0, 0, 0, 0, 0, 0, 0];

/**
 * The seven fields of a name whose fields (after the bus's `:`) start at AT, into FIELDS as
 * 32-bit integers; false if they are not in the kernel's form.
 */
function readFields(input: Uint8Array, at: number, fields: Int32Array): boolean {
  // v%08X d%08X sv%08X sd%08X bc%02X sc%02X i%02X
  if (input[at] !== V) return false;
  let value = hex(input, at + 1, 8);
  if (value === undefined || input[at + 9] !== D) return false;
  fields[0] = value;
  value = hex(input, at + 10, 8);
  if (value === undefined || input[at + 18] !== S || input[at + 19] !== V) return false;
  fields[1] = value;
  value = hex(input, at + 20, 8);
  if (value === undefined || input[at + 28] !== S || input[at + 29] !== D) return false;
  fields[2] = value;
  value = hex(input, at + 30, 8);
  if (value === undefined || input[at + 38] !== B || input[at + 39] !== C) return false;
  fields[3] = value;
  value = hex(input, at + 40, 2);
  if (value === undefined || input[at + 42] !== S || input[at + 43] !== C) return false;
  fields[4] = value;
  value = hex(input, at + 44, 2);
  if (value === undefined || input[at + 46] !== I) return false;
  fields[5] = value;
  value = hex(input, at + 47, 2);
  if (value === undefined) return false;
  fields[6] = value;
  return true;
}

const V = 0x76;
const D = 0x64;
const S = 0x73;
const B = 0x62;
const C = 0x63;
const I = 0x69;
const SPACE = 0x20;

/** COUNT upper-case hex digits at AT as a 32-bit integer; undefined if they are not. */
function hex(input: Uint8Array, at: number, count: number): number | undefined {
  let value = 0;
  for (let i = at; i < at + count; i++) {
    const digit = HEX[input[i] as number] as number;
    if (digit < 0) return undefined;
    value = (value << 4) | digit;
  }
  return value;
}

function isPrefix(input: Uint8Array, start: number, prefix: string): boolean {
  for (let i = 0; i < prefix.length; i++) if (input[start + i] !== prefix.charCodeAt(i)) return false;
  return true;
}

function latin1(input: Uint8Array, start: number, end: number): string {
  return Buffer.from(input.buffer, input.byteOffset + start, end - start).toString("latin1");
}

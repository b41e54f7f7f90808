// modules.alias, modules.symbols and modules.builtin.modinfo: the alias lines depmod writes.
//
// A whole modules.alias is 27,000 lines; touching every character in JavaScript costs tens of
// milliseconds, more than the start-up budget of the udev hook. So the file is never split
// into lines: a lookup asks for the literal prefixes of one bus's patterns (`pci`, `usb`, …),
// a regular expression — native code — picks them out of the text, and a line is parsed only
// when a lookup lands on its prefix.
import { excerpt, LazyTextFile, type TextFile } from "./files.ts";
import { normalizeAlias } from "./normalize.ts";
import { hexAt } from "./pci-field-index.ts";

export interface AliasLine {
  /** The pattern as written. */
  readonly pattern: string;
  /** The pattern as depmod indexes it (normalizeAlias). */
  readonly key: string;
  readonly module: string;
  /** Where the line is, for explanations. */
  readonly file: string;
  readonly line: number;
  /**
   * depmod's priority for the module: its position in modules.alias, which depmod writes
   * module by module in modules.order priority (depmod.c output_aliases). Lower comes first.
   */
  readonly priority: number;
}

/**
 * A pattern's bus (null: no `:` before its first wildcard), its literal prefix (normalised), its
 * reference, and whether that prefix is the whole pattern.
 */
export type PrefixVisitor = (bus: string | null, prefix: string, ref: number, literal: boolean) => void;

/** A line's key (normalizeAlias of its pattern), reference, pattern as written and module. */
export type KeyVisitor = (key: string, ref: number, pattern: string, module: string) => void;

/**
 * One bus's literal prefixes as a sorted list (a cache file, alias-cache.ts): a few lookups
 * search it in place instead of building maps of every pattern of the bus.
 */
export interface SortedPrefixes {
  /** References of the lines whose whole pattern is `key` (no wildcard), in file order. */
  exact(key: string): readonly number[] | undefined;
  /** References of the lines whose literal prefix is `prefix`, then a wildcard; file order. */
  prefixed(prefix: string): readonly number[] | undefined;
  /** The distinct lengths of those prefixes, ascending. */
  readonly lengths: readonly number[];
}

/**
 * What an AliasIndex asks of its lines: the literal prefixes of some buses' patterns, each with
 * a reference, and the whole line behind a reference, read only when a lookup needs it.
 */
export interface AliasSource {
  /** The patterns of `buses`, and with `busless` those of no bus, in one pass. */
  scan(buses: readonly string[], busless: boolean, visit: PrefixVisitor): void;
  /** scan for every bus (and none) in one pass. */
  scanAll(visit: PrefixVisitor): void;
  load(ref: number): AliasLine | undefined;
  /** Every usable line's key (as depmod indexes it), reference, pattern and module, in file order. */
  keys(visit: KeyVisitor): void;
  /** A bus's prefixes (null: no bus) ready to search, when the source keeps them sorted. */
  sorted?(bus: string | null): SortedPrefixes | undefined;
}

const HAS_SPECIAL = /[-[\]]/;
const WILDCARD = /[*?[]/;
/** An alias line: its pattern in group 1 when it holds no `-`, `[` or `]` (it is its own key), else in 2. */
const ALIAS_LINE = /^alias (?:([^ \n\0[\]-]+)|([^ \n\0]+)) ([A-Za-z0-9_-]+)$/gm;
const MALFORMED_LINE = /^(?!alias [^ \n\0]+ [A-Za-z0-9_-]+$|#|$)[^\n]*/gm;
/** Line terminators of regular expressions other than \n. */
const OTHER_LINE_BREAK = /[\r\u2028\u2029]/;
/** An alias line whose pattern holds a bracket (normalizeAlias may refuse it). */
const BRACKETED_LINE = /^alias ([^ \n\0]*[[\]][^ \n\0]*) /gm;
/** Any line's literal prefix (up to its first wildcard) and what ends it: a space when none. */
const ANY_PREFIX = /^alias ([^ \n\0*?[]*)([ \0*?[]|$)/gm;
const FULL_LINE = /alias ([^ \n\0]+) ([A-Za-z0-9_-]+)$/my;
/** How much of a line is read at first (LazyTextFile): depmod's lines are shorter. */
const LINE_READ = 256;

/**
 * What AliasFile.keys saw for warnings(): the stretches of text between alias lines (start
 * and end offsets, each stretch whole lines) and the alias lines whose pattern normalizeAlias
 * refused (their offsets).
 */
interface KeysSaw {
  between: number[];
  unusable: number[];
}

/**
 * Lines of file2alias's PCI form, in file order: per line its seven fields (v, d, sv, sd, bc,
 * sc, i) as 32-bit integers (0 where `*`), which of them are literal (bit f of its mask), its
 * module and its priority (AliasLine.priority: the line's offset).
 */
export interface CanonicalPciLines {
  values: number[];
  masks: number[];
  modules: string[];
  priorities: number[];
}

const STAR = 0x2a;
const SPACE = 0x20;
const NEWLINE = 0x0a;

/** Whether a line of TEXT starts with HEAD. */
function lineStartsWith(text: string, head: string): boolean {
  return text.startsWith(head) || text.includes(`\n${head}`);
}

/** The markers before each of the seven fields of a PCI pattern, and each field's width. */
const PCI_MARKERS = ["v", "d", "sv", "sd", "bc", "sc", "i"];
const PCI_WIDTHS = [8, 8, 8, 8, 2, 2, 2];

/**
 * Reads the line starting at LINE whose pattern's fields start at AT into FOUND, as the
 * regular expression `v(\*|X{8})d(\*|X{8})sv(\*|X{8})sd(\*|X{8})bc(\*|X{2})sc(\*|X{2})i(\*|X{2}\*)
 * ([A-Za-z0-9_-]+)$` (X an upper-case hex digit) would, by hand: where its line ends, or -1 if
 * the line is not of that form. 9,566 lines of Debian 6.12's modules.alias are; a regular
 * expression with eight groups took 26 ms on them, this 2.
 */
function readCanonicalLine(text: string, line: number, at: number, found: CanonicalPciLines): number {
  let mask = 0;
  for (let f = 0; f < 7; f++) {
    const marker = PCI_MARKERS[f] as string;
    if (!text.startsWith(marker, at)) return -1;
    at += marker.length;
    if (text.charCodeAt(at) === STAR) {
      found.values.push(0);
      at++;
      continue;
    }
    const width = PCI_WIDTHS[f] as number;
    const value = hexAt(text, at, width);
    if (value === undefined) return -1;
    at += width;
    found.values.push(value);
    mask |= 1 << f;
    // the interface's digits are followed by a `*`
    if (f === 6 && text.charCodeAt(at++) !== STAR) return -1;
  }
  if (text.charCodeAt(at++) !== SPACE) return -1;
  const moduleStart = at;
  for (;;) {
    const c = text.charCodeAt(at);
    const moduleChar =
      (c >= 0x30 && c <= 0x39) ||
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x61 && c <= 0x7a) ||
      c === 0x5f ||
      c === 0x2d;
    if (!moduleChar) break;
    at++;
  }
  // (at the text's end charCodeAt gives NaN: the module ends there)
  if (at === moduleStart || (at < text.length && text.charCodeAt(at) !== NEWLINE)) return -1;
  found.masks.push(mask);
  found.modules.push(text.slice(moduleStart, at));
  found.priorities.push(line);
  return at;
}

/** A match of ANY_PREFIX's shape (prefix, then what ends it) handed to a PrefixVisitor. */
function visitPrefix(match: RegExpExecArray, visit: PrefixVisitor): void {
  const raw = match[1] as string;
  const prefix = raw.includes("-") ? raw.replaceAll("-", "_") : raw;
  const colon = prefix.indexOf(":");
  visit(colon < 0 ? null : prefix.slice(0, colon), prefix, match.index, match[2] === " ");
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

class FileAliasLine implements AliasLine {
  readonly pattern: string;
  readonly key: string;
  readonly module: string;
  readonly priority: number;
  private readonly source: AliasFile;
  constructor(pattern: string, key: string, module: string, source: AliasFile, offset: number) {
    this.pattern = pattern;
    this.key = key;
    this.module = module;
    this.source = source;
    this.priority = offset;
  }
  get file(): string {
    return this.source.path;
  }
  get line(): number {
    return this.source.lineAt(this.priority);
  }
}

export class AliasFile implements AliasSource {
  readonly path: string;
  /** The file's identity when read from disk (TextFile.identity). */
  readonly identity: string | undefined;
  private readonly file: TextFile;
  private newlineOffsets: number[] | undefined;
  private warningsFound: string[] | undefined;
  /** What a whole keys() pass saw of the lines warnings() reports (see keys). */
  private keysSaw: KeysSaw | undefined;

  constructor(file: TextFile) {
    this.path = file.path;
    this.identity = file.identity;
    this.file = file;
  }

  /** The whole text, read when first needed (LazyTextFile): a lookup's few lines are read alone. */
  private get text(): string {
    return this.file.text;
  }

  scan(buses: readonly string[], busless: boolean, visit: PrefixVisitor): void {
    // A pattern's bus never holds a wildcard; the file holds raw buses, the index normalised
    // ones ('-' → '_').
    const named = buses
      .filter((bus) => !WILDCARD.test(bus))
      .map((bus) => escapeRegExp(bus).replaceAll("_", "[_-]"));
    const alternatives = named.length > 0 ? [`(?:${named.join("|")}):[^ \\n\\0*?[]*`] : [];
    if (busless) alternatives.push("[^ \\n\\0:*?[]*");
    if (alternatives.length === 0) return;
    const regex = new RegExp(`^alias (${alternatives.join("|")})([ \\0*?[]|$)`, "gm");
    for (const match of this.text.matchAll(regex)) visitPrefix(match, visit);
  }

  scanAll(visit: PrefixVisitor): void {
    for (const match of this.text.matchAll(new RegExp(ANY_PREFIX))) visitPrefix(match, visit);
  }

  load(offset: number): AliasLine | undefined {
    const match = this.lineMatch(offset);
    if (!match) return undefined; // reported by warnings()
    const pattern = match[1] as string;
    const key = HAS_SPECIAL.test(pattern) ? normalizeAlias(pattern) : pattern;
    if (key === undefined) return undefined; // depmod leaves such patterns out of its index
    return new FileAliasLine(pattern, key, match[2] as string, this, offset);
  }

  /** FULL_LINE on the line at `offset`: in the text, or on that line alone while the file is unread. */
  private lineMatch(offset: number): RegExpExecArray | null {
    const file = this.file;
    if (!(file instanceof LazyTextFile) || file.isRead) {
      // One sticky expression for every call (nothing else runs between lastIndex and exec).
      FULL_LINE.lastIndex = offset;
      return FULL_LINE.exec(this.text);
    }
    // depmod's lines are short; a longer one is read again, whole, up to the file's end
    for (let length = LINE_READ; ; length *= 4) {
      const piece = file.piece(offset, length);
      if (piece.includes("\n") || piece.length < length) {
        FULL_LINE.lastIndex = 0;
        return FULL_LINE.exec(piece);
      }
    }
  }

  /**
   * The lines a PCI modalias of BUS (`pci`, `vfio_pci`) can match, read in one pass with their
   * fields, for a batch (pci-batch.ts) — when every line of the bus is a pattern of
   * file2alias's form (do_pci_entry: each field 8 or 2 upper-case hex digits or `*`, then `*`)
   * with a well-formed module name, and no pattern without a bus could match such a name (one
   * whose literal part before its first wildcard is a start of the bus). Undefined otherwise:
   * AliasIndex.linesFor reads any file.
   */
  canonicalPciLines(bus: string): CanonicalPciLines | undefined {
    const text = this.text;
    // Lines are found by "\n": a \r or U+2028 would start a line for the regular expressions
    // that read lines elsewhere; and the raw `vfio-pci:` form is left to them too.
    if (OTHER_LINE_BREAK.test(text)) return undefined;
    const starts = [...bus].map((_, i) => escapeRegExp(bus.slice(0, i + 1)).replaceAll("_", "[_-]"));
    if (new RegExp(`^alias (?:${starts.join("|")})?[*?[]`, "m").test(text)) return undefined;
    const head = `alias ${bus}:`;
    if (bus.includes("_") && lineStartsWith(text, `alias ${bus.replaceAll("_", "-")}:`)) return undefined;
    const found: CanonicalPciLines = { values: [], masks: [], modules: [], priorities: [] };
    const after = `\n${head}`;
    for (let at = text.startsWith(head) ? 0 : text.indexOf(after); at >= 0; at = text.indexOf(after, at)) {
      if (text.charCodeAt(at) === NEWLINE) at++;
      const end = readCanonicalLine(text, at, at + head.length, found);
      if (end < 0) return undefined;
      at = end;
    }
    return found;
  }

  /** Every alias line, in file order (whole-file users: the simulator's snapshot machines, analysis). */
  all(): AliasLine[] {
    const found: AliasLine[] = [];
    this.keys((_key, ref) => {
      const line = this.load(ref);
      if (line) found.push(line);
    });
    return found;
  }

  /**
   * The key of every alias line, in file order. On the way it notes what warnings() reports,
   * which then reads no line twice: the stretches between alias lines (comments, blank and
   * malformed lines) and the alias lines whose pattern depmod leaves out.
   */
  keys(visit: KeyVisitor): void {
    const text = this.text;
    const saw: KeysSaw = { between: [], unusable: [] };
    let lineStart = 0; // where the line after the last alias line starts
    // exec in a loop, not matchAll: no iterator result per line (27,000 of them)
    const regex = new RegExp(ALIAS_LINE);
    for (let match = regex.exec(text); match !== null; match = regex.exec(text)) {
      if (match.index !== lineStart) saw.between.push(lineStart, match.index);
      lineStart = regex.lastIndex + 1;
      const plain = match[1];
      const pattern = plain ?? (match[2] as string);
      const key = plain ?? normalizeAlias(pattern);
      if (key !== undefined) visit(key, match.index, pattern, match[3] as string);
      else saw.unusable.push(match.index);
    }
    if (lineStart < text.length) saw.between.push(lineStart, text.length);
    this.keysSaw = saw;
  }

  /** warnings(), as found by an earlier command in these same bytes of the file (a cache's). */
  knowWarnings(found: string[]): void {
    this.warningsFound ??= found;
  }

  /**
   * Lines that are neither `alias PATTERN MODULE`, a comment, nor blank; and unusable patterns.
   * After keys(), only the lines it did not match are read again.
   */
  warnings(): string[] {
    if (!this.warningsFound) {
      const malformed: [number, string][] = [];
      const unbalanced: [number, string][] = [];
      // a \r (or U+2028, U+2029) starts a line for ^ and $ but not for [^\n]: the whole text then
      const saw = OTHER_LINE_BREAK.test(this.text) ? undefined : this.keysSaw;
      const stretches = saw?.between ?? [0, this.text.length];
      for (let i = 0; i < stretches.length; i += 2) {
        const start = stretches[i] as number;
        const lines = this.text.slice(start, stretches[i + 1]);
        for (const match of lines.matchAll(new RegExp(MALFORMED_LINE)))
          malformed.push([start + match.index, match[0]]);
        for (const match of lines.matchAll(new RegExp(BRACKETED_LINE)))
          unbalanced.push([start + match.index, match[1] as string]);
      }
      for (const offset of saw?.unusable ?? []) {
        BRACKETED_LINE.lastIndex = offset;
        unbalanced.push([offset, (BRACKETED_LINE.exec(this.text) as RegExpExecArray)[1] as string]);
      }
      unbalanced.sort((a, b) => a[0] - b[0]);
      this.warningsFound = [];
      for (const [offset, line] of malformed) {
        this.warningsFound.push(
          `${this.path}:${this.lineAt(offset)}: expected 'alias PATTERN MODULE', got '${excerpt(line)}'`,
        );
      }
      for (const [offset, pattern] of unbalanced) {
        if (normalizeAlias(pattern) === undefined) {
          this.warningsFound.push(
            `${this.path}:${this.lineAt(offset)}: unbalanced brackets in '${excerpt(pattern)}', line ignored`,
          );
        }
      }
    }
    return this.warningsFound;
  }

  /** The 1-based line number of a character offset. */
  lineAt(offset: number): number {
    if (!this.newlineOffsets) {
      this.newlineOffsets = [];
      for (let i = this.text.indexOf("\n"); i >= 0; i = this.text.indexOf("\n", i + 1))
        this.newlineOffsets.push(i);
    }
    let low = 0;
    let high = this.newlineOffsets.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if ((this.newlineOffsets[mid] as number) < offset) low = mid + 1;
      else high = mid;
    }
    return low + 1;
  }
}

/** A fixed list of alias lines (modules.builtin.modinfo, tests). */
export class AliasList implements AliasSource {
  private readonly lines: readonly AliasLine[];
  constructor(lines: readonly AliasLine[]) {
    this.lines = lines;
  }
  scan(buses: readonly string[], busless: boolean, visit: PrefixVisitor): void {
    this.scanAll((bus, prefix, ref, literal) => {
      if (bus === null ? busless : buses.includes(bus)) visit(bus, prefix, ref, literal);
    });
  }
  scanAll(visit: PrefixVisitor): void {
    this.lines.forEach((line, ref) => {
      const wildcard = line.key.search(WILDCARD);
      const prefix = wildcard < 0 ? line.key : line.key.slice(0, wildcard);
      const colon = prefix.indexOf(":");
      visit(colon < 0 ? null : prefix.slice(0, colon), prefix, ref, wildcard < 0);
    });
  }
  load(ref: number): AliasLine | undefined {
    return this.lines[ref];
  }
  keys(visit: KeyVisitor): void {
    for (let ref = 0; ref < this.lines.length; ref++) {
      const line = this.lines[ref] as AliasLine;
      visit(line.key, ref, line.pattern, line.module);
    }
  }
}

/** Where `char` next occurs in `text` from `from` on; Infinity when it does not. */
function nextOf(text: string, char: string, from: number): number {
  const at = from === Number.POSITIVE_INFINITY ? -1 : text.indexOf(char, from);
  return at < 0 ? Number.POSITIVE_INFINITY : at;
}

/**
 * modules.builtin.modinfo: NUL-terminated `module.key=value` records of built-in modules; the
 * `alias` ones feed modules.builtin.alias.bin (depmod's output_builtin_alias_bin). Records are
 * walked where they lie and only the alias ones cut out: most are descriptions, authors,
 * licences and parameters, and list looks here at every start.
 */
export function parseBuiltinModinfo(file: TextFile): { aliases: AliasLine[]; warnings: string[] } {
  const aliases: AliasLine[] = [];
  const warnings: string[] = [];
  const text = file.text;
  // The next '.' at or after a record's start, and the first '=' after that '.': each found by
  // searching on from where the last search stopped, so that records without either (a damaged
  // file, all NULs) do not each search to the end of the file.
  let dot = -1;
  let equals = -1;
  for (let start = 0, record = 1; start < text.length; record++) {
    let end = text.indexOf("\0", start);
    if (end < 0) end = text.length;
    if (end > start) {
      if (dot < start) dot = nextOf(text, ".", start);
      if (equals <= dot) equals = nextOf(text, "=", dot + 1);
      if (dot === start || dot >= end || equals >= end) {
        const got = excerpt(text.slice(start, end));
        warnings.push(`${file.path}: record ${record}: expected 'module.key=value', got '${got}'`);
      } else if (equals === dot + 6 && text.startsWith("alias", dot + 1) && equals + 1 < end) {
        const pattern = text.slice(equals + 1, end);
        const key = normalizeAlias(pattern);
        if (key === undefined) {
          warnings.push(`${file.path}: record ${record}: unbalanced brackets in '${excerpt(pattern)}'`);
        } else {
          const module = text.slice(start, dot);
          aliases.push({ pattern, key, module, file: file.path, line: record, priority: 0 });
        }
      }
    }
    start = end + 1;
  }
  return { aliases, warnings };
}

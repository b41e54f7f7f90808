// An fnmatch(3) pattern (flags 0) as a sequence of elements: `*`, or a set of characters that
// one character of the string must be in. Literals, `\x`, `?` and bracket expressions are all
// sets; a bracket's set is computed with src/modules/fnmatch.ts itself, one call per byte, so
// every glibc rule it reproduces (ranges, negation, escapes, classes, malformed brackets)
// carries over. Strings are byte strings (latin1) that never hold NUL.
import { fnmatch } from "../modules/fnmatch.ts";

/** 256 bits: which bytes an element accepts. */
export class CharSet {
  readonly words: Uint32Array;
  /** pick()'s answer, once asked (-2: not yet). */
  private picked = -2;
  /** The one byte of a set made by `of` (-1 for any other set): meets and within ask one bit. */
  private single = -1;
  constructor(words = new Uint32Array(8)) {
    this.words = words;
  }
  /** The set of one byte, shared: parsed globs' sets are never changed. */
  static of(code: number): CharSet {
    let set = SINGLES[code];
    if (!set) {
      set = new CharSet();
      set.add(code);
      set.single = code;
      SINGLES[code] = set;
    }
    return set;
  }
  /** Every byte but NUL: what `?` and `*` accept (shared, like `of`). */
  static any(): CharSet {
    if (!ANY_BYTE) {
      ANY_BYTE = new CharSet(new Uint32Array(8).fill(0xffffffff));
      ANY_BYTE.words[0] = (ANY_BYTE.words[0] as number) & ~1;
    }
    return ANY_BYTE;
  }
  add(code: number): void {
    this.words[code >> 5] = (this.words[code >> 5] as number) | (1 << (code & 31));
    this.picked = -2;
    this.single = -1;
  }
  has(code: number): boolean {
    return ((this.words[code >> 5] as number) & (1 << (code & 31))) !== 0;
  }
  intersect(other: CharSet): CharSet {
    const out = new Uint32Array(8);
    for (let i = 0; i < 8; i++) out[i] = (this.words[i] as number) & (other.words[i] as number);
    return new CharSet(out);
  }
  meets(other: CharSet): boolean {
    if (this.single >= 0) return other.has(this.single);
    if (other.single >= 0) return this.has(other.single);
    for (let i = 0; i < 8; i++)
      if (((this.words[i] as number) & (other.words[i] as number)) !== 0) return true;
    return false;
  }
  minus(other: CharSet): CharSet {
    const out = new Uint32Array(8);
    for (let i = 0; i < 8; i++) out[i] = (this.words[i] as number) & ~(other.words[i] as number);
    return new CharSet(out);
  }
  /** Every byte of this set is in `other` (minus(other).isEmpty(), without a new set). */
  within(other: CharSet): boolean {
    if (this.single >= 0) return other.has(this.single);
    for (let i = 0; i < 8; i++)
      if (((this.words[i] as number) & ~(other.words[i] as number)) !== 0) return false;
    return true;
  }
  isEmpty(): boolean {
    for (let i = 0; i < 8; i++) if (this.words[i] !== 0) return false;
    return true;
  }
  /** One member, the most readable first (digits, upper, lower, `_`, other printable, any); -1 if empty. */
  pick(): number {
    if (this.picked === -2) this.picked = this.firstPreferred();
    return this.picked;
  }
  private firstPreferred(): number {
    for (const code of PREFERRED) if (this.has(code)) return code;
    for (let code = 1; code < 256; code++) if (this.has(code)) return code;
    return -1;
  }
}

const SINGLES: (CharSet | undefined)[] = [];
let ANY_BYTE: CharSet | undefined;

const PREFERRED = [
  ..."0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_",
  ...Array.from({ length: 95 }, (_, i) => String.fromCharCode(0x20 + i)),
].map((c) => c.charCodeAt(0));

/** Parsed globs share their elements: one object per single byte, `?` and `*` (never changed). */
export type GlobElement = { readonly star: true } | { readonly star: false; readonly chars: CharSet };

export interface Glob {
  pattern: string;
  elements: GlobElement[];
  /** Index of the first `*` (elements.length when there is none). */
  firstStar: number;
  /** Index after the last `*` (0 when there is none). */
  afterLastStar: number;
  /** An element accepts no byte (a trailing backslash, a bad class): the glob matches nothing. */
  empty: boolean;
  /** Only plain bytes and `?` (no `*`, bracket or backslash): element k is the pattern's byte k. */
  simple: boolean;
}

const bracketSets = new Map<string, CharSet>();
const STAR: GlobElement = { star: true };
const BYTES: GlobElement[] = [];
let anyByte: GlobElement | undefined;

/** The shared element of one byte. */
function byteElement(code: number): GlobElement {
  let element = BYTES[code];
  if (!element) {
    element = { star: false, chars: CharSet.of(code) };
    BYTES[code] = element;
  }
  return element;
}

/**
 * Splits a pattern the way fnmatch walks it. Only the elements of the thousands of plain bytes
 * in modules.alias patterns are shared, so parsing one allocates little more than its list.
 */
export function parseGlob(pattern: string): Glob {
  const elements: GlobElement[] = [];
  let firstStar = -1;
  let afterLastStar = 0;
  let empty = false;
  let simple = true;
  let i = 0;
  while (i < pattern.length) {
    const code = pattern.charCodeAt(i);
    if (code === 0x2a || code === 0x5c || code === 0x5b) simple = false;
    if (code === 0x2a) {
      if (afterLastStar !== elements.length || afterLastStar === 0) {
        if (firstStar < 0) firstStar = elements.length;
        elements.push(STAR);
        afterLastStar = elements.length;
      }
      i++;
    } else if (code === 0x3f) {
      anyByte ??= { star: false, chars: CharSet.any() };
      elements.push(anyByte);
      i++;
    } else if (code === 0x5c) {
      // a trailing backslash never matches: an empty set
      if (i + 1 < pattern.length) elements.push(byteElement(pattern.charCodeAt(i + 1)));
      else {
        elements.push({ star: false, chars: new CharSet() });
        empty = true;
      }
      i += 2;
    } else if (code === 0x5b) {
      const end = bracketEnd(pattern, i + 1);
      if (end < 0) {
        elements.push(byteElement(0x5b)); // unterminated: a literal `[`
        i++;
      } else {
        const chars = bracketSet(pattern.slice(i, end));
        elements.push({ star: false, chars });
        if (chars.isEmpty()) empty = true;
        i = end;
      }
    } else {
      elements.push(byteElement(code));
      i++;
    }
  }
  return {
    pattern,
    elements,
    firstStar: firstStar < 0 ? elements.length : firstStar,
    afterLastStar,
    empty,
    simple,
  };
}

/**
 * Two patterns without the plain bytes (no wildcard, bracket or backslash) they both start
 * with and both end with: `HAT` and `HBT` match exactly the strings H s T with s matched by A,
 * resp. B, so they meet, and one contains the other, exactly when A and B do. A bus's patterns
 * share long heads (`cpu:type:x86,ven0000fam0006mod0055:feature:`): what is left is short,
 * and the same for many pairs.
 */
export function withoutCommonEnds(a: string, b: string): [string, string] {
  const n = Math.min(a.length, b.length);
  let head = 0;
  while (head < n && a.charCodeAt(head) === b.charCodeAt(head) && isPlain(a.charCodeAt(head))) head++;
  let tail = 0;
  while (
    tail < n - head &&
    a.charCodeAt(a.length - 1 - tail) === b.charCodeAt(b.length - 1 - tail) &&
    isPlain(a.charCodeAt(a.length - 1 - tail))
  )
    tail++;
  // a byte right after a backslash is escaped by it: a \x element is not cut in two
  if (tail > 0 && (a.charCodeAt(a.length - 1 - tail) === 0x5c || b.charCodeAt(b.length - 1 - tail) === 0x5c))
    tail--;
  if (head === 0 && tail === 0) return [a, b];
  return [a.slice(head, a.length - tail), b.slice(head, b.length - tail)];
}

/** Not `*`, `?`, `[`, `]` or a backslash. */
function isPlain(code: number): boolean {
  return code !== 0x2a && code !== 0x3f && code !== 0x5b && code !== 0x5d && code !== 0x5c;
}

function bracketSet(text: string): CharSet {
  let set = bracketSets.get(text);
  if (!set) {
    set = new CharSet();
    for (let code = 1; code < 256; code++) if (fnmatch(text, String.fromCharCode(code))) set.add(code);
    bracketSets.set(text, set);
  }
  return set;
}

/**
 * Where the bracket expression opened before `start` ends (the index after its `]`), or -1
 * when it is never closed. glibc's grammar (posix/fnmatch_loop.c): `!`/`^` negates, the first
 * member is literal even when it is `]`, `\x` escapes, `[:name:]`, `[=c=]`, `[.c.]` are one
 * member, and `a-b` a range.
 */
function bracketEnd(p: string, start: number): number {
  let i = start;
  if (p[i] === "!" || p[i] === "^") i++;
  let first = true;
  while (i < p.length) {
    const c = p[i] as string;
    if (c === "]" && !first) return i + 1;
    first = false;
    if (c === "\\") i += 2;
    else if (c === "[" && p[i + 1] === ":") {
      // glibc reads a class name of a–y only; anything else makes this `[` an ordinary member
      let j = i + 2;
      while (j < p.length && p[j] !== ":" && (p[j] as string) >= "a" && (p[j] as string) < "z") j++;
      i = p[j] === ":" && p[j + 1] === "]" ? j + 2 : i + 1;
    } else if (c === "[" && p[i + 1] === "=") {
      i = p[i + 3] === "=" && p[i + 4] === "]" ? i + 5 : i + 1;
    } else if (c === "[" && p[i + 1] === ".") {
      const close = p.indexOf(".]", i + 2);
      i = close < 0 ? p.length : close + 2;
    } else i++;
  }
  return -1;
}

// fnmatch(3) with flags 0, as glibc implements it in the C locale (posix/fnmatch_loop.c).
// libkmod matches modules.alias patterns with exactly this call, and no npm glob library
// agrees with it: they treat `/`, backslashes and malformed brackets differently (DESIGN.md
// section 7). Strings are byte strings: callers read files as latin1, one char per byte.
//
// glibc's behaviours reproduced here, each checked against glibc by test/oracle:
// - `*` matches any run of characters, `/` and a leading `.` included (no FNM_PATHNAME/PERIOD);
// - `\x` matches x; a trailing `\` never matches;
// - `[` opens a set; `!` or `^` right after it negates; the first member is taken literally even
//   when it is `]`; `a-z` ranges compare byte values; `\` escapes inside sets; `[:class:]`,
//   `[=c=]`, `[.c.]` as in the C locale; an unknown class name makes the set fail;
// - a set that is never closed is the literal character `[`, whether or not one of its members
//   matched before the end (glibc 2.36, Debian 12; glibc 2.29 still failed a set whose member
//   matched: `[\\[` against `[\[`).
// Each element matches one character and depends only on that character, so the classic
// backtrack-to-the-last-star loop gives the same answers as glibc's recursion.

const NUL = 0;
const STAR = 0x2a;
const QUESTION = 0x3f;
const BACKSLASH = 0x5c;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const BANG = 0x21;
const CARET = 0x5e;
const DASH = 0x2d;
const COLON = 0x3a;
const EQUALS = 0x3d;
const DOT = 0x2e;

/** glibc: the longest character class name it will read before calling the pattern ill-formed. */
const CHAR_CLASS_MAX_LENGTH = 256;

/** A set did not match (or is malformed in a way glibc rejects). */
const NO_MATCH = -1;
/** The set is never closed: glibc falls back to matching a literal `[`. */
const UNTERMINATED = -2;

export function fnmatch(pattern: string, text: string): boolean {
  return fnmatchBytes(cString(pattern), cString(text));
}

/** fnmatch for strings already known to hold no NUL (the alias index's hot path). */
export function fnmatchBytes(p: string, t: string): boolean {
  let pi = 0;
  let ti = 0;
  let starPattern = -1;
  let starText = -1;
  for (;;) {
    if (pi < p.length) {
      const c = p.charCodeAt(pi);
      if (c === STAR) {
        pi++;
        starPattern = pi;
        starText = ti;
        continue;
      }
      if (ti < t.length) {
        const next = matchOne(p, pi, t.charCodeAt(ti));
        if (next >= 0) {
          pi = next;
          ti++;
          continue;
        }
      }
    } else if (ti === t.length) {
      return true;
    }
    if (starPattern < 0 || starText >= t.length) return false;
    starText++;
    ti = starText;
    pi = starPattern;
  }
}

/** C strings end at the first NUL. */
function cString(s: string): string {
  const nul = s.indexOf("\0");
  return nul < 0 ? s : s.slice(0, nul);
}

/** Matches the element at p[pi] (not `*`) against one character; the index after it, or -1. */
function matchOne(p: string, pi: number, ch: number): number {
  const c = p.charCodeAt(pi);
  if (c === QUESTION) return pi + 1;
  if (c === BACKSLASH) {
    if (pi + 1 >= p.length) return NO_MATCH; // trailing backslash loses
    return p.charCodeAt(pi + 1) === ch ? pi + 2 : NO_MATCH;
  }
  if (c === OPEN) {
    const next = matchSet(p, pi + 1, ch);
    if (next !== UNTERMINATED) return next;
    return ch === OPEN ? pi + 1 : NO_MATCH;
  }
  return c === ch ? pi + 1 : NO_MATCH;
}

/**
 * A bracket expression starting after its `[` at `start`: the index after its `]` when `ch`
 * is in the set (or, negated, not in it), NO_MATCH, or UNTERMINATED. Follows the order of
 * glibc's loop so that its treatment of malformed sets is the same.
 */
function matchSet(p: string, start: number, ch: number): number {
  const at = (i: number) => (i < p.length ? p.charCodeAt(i) : NUL);
  let i = start;
  const negated = at(i) === BANG || at(i) === CARET;
  if (negated) i++;
  let c = at(i++);
  for (;;) {
    let member: number; // a single character, possibly the start of a range
    let startsRange: boolean;
    if (c === BACKSLASH) {
      if (at(i) === NUL) return NO_MATCH;
      member = at(i++);
      startsRange = isRangeDash(at(i), at(i + 1));
    } else if (c === OPEN && at(i) === COLON) {
      const cls = readClassName(p, i);
      if (cls === undefined) {
        member = OPEN; // not a class name after all: `[` is an ordinary member
        startsRange = isRangeDash(at(i), at(i + 1));
      } else if (cls.name === null) {
        return NO_MATCH; // name too long
      } else {
        const test = Object.hasOwn(CLASSES, cls.name) ? CLASSES[cls.name] : undefined; // not [[:constructor:]]
        if (!test) return NO_MATCH; // glibc: an invalid class name fails the match
        i = cls.end;
        if (test(ch)) return skipRest(p, i, negated);
        c = at(i++);
        if (c === CLOSE) return negated ? i : NO_MATCH;
        continue;
      }
    } else if (c === OPEN && at(i) === EQUALS) {
      // [=c=]: in the C locale an equivalence class is the character itself.
      const e = at(i + 1);
      if (e !== NUL && at(i + 2) === EQUALS && at(i + 3) === CLOSE) {
        i += 4;
        if (ch === e) return skipRest(p, i, negated);
        c = at(i++);
        if (c === CLOSE) return negated ? i : NO_MATCH;
        continue;
      }
      member = OPEN;
      startsRange = isRangeDash(at(i), at(i + 1));
    } else if (c === NUL) {
      return UNTERMINATED;
    } else if (c === OPEN && at(i) === DOT) {
      // [.c.]: a collating symbol; the C locale knows only single characters.
      let j = i + 1;
      while (!(at(j) === DOT && at(j + 1) === CLOSE)) {
        if (at(j) === NUL) return NO_MATCH;
        j++;
      }
      if (j - (i + 1) !== 1) return NO_MATCH;
      member = at(i + 1);
      i = j + 2;
      // glibc checks only that something follows the dash here, not that it is `]`.
      startsRange = at(i) === DASH && at(i + 1) !== NUL;
    } else {
      member = c;
      startsRange = isRangeDash(at(i), at(i + 1));
    }

    if (!startsRange && member === ch) return skipRest(p, i, negated);
    c = at(i++);
    if (c === DASH && at(i) !== CLOSE) {
      let end = at(i++);
      if (end === OPEN && at(i) === DOT) {
        let j = i + 1;
        while (!(at(j) === DOT && at(j + 1) === CLOSE)) {
          if (at(j) === NUL) return NO_MATCH;
          j++;
        }
        if (j - (i + 1) !== 1) return NO_MATCH;
        end = at(i + 1);
        i = j + 2;
      } else {
        if (end === BACKSLASH) end = at(i++);
        if (end === NUL) return NO_MATCH;
      }
      if (member <= ch && ch <= end) return skipRest(p, i, negated);
      c = at(i++);
    }
    if (c === CLOSE) return negated ? i : NO_MATCH;
  }
}

function isRangeDash(next: number, afterNext: number): boolean {
  return next === DASH && afterNext !== NUL && afterNext !== CLOSE;
}

/**
 * `[:name:]` starting at the `:` at index i: the name and the index after `:]`; undefined when
 * a character that cannot be in a class name comes first (glibc accepts only a–y there);
 * name null when it is longer than glibc reads.
 */
function readClassName(p: string, colon: number): { name: string | null; end: number } | undefined {
  let name = "";
  let j = colon;
  for (;;) {
    if (name.length === CHAR_CLASS_MAX_LENGTH) return { name: null, end: j };
    j++;
    const c = j < p.length ? p.charCodeAt(j) : NUL;
    if (c === COLON && p.charCodeAt(j + 1) === CLOSE) return { name, end: j + 2 };
    if (c < 0x61 || c >= 0x7a) return undefined;
    name += String.fromCharCode(c);
  }
}

/**
 * After a member matched: skip to the closing `]` the way glibc does, failing where it fails;
 * UNTERMINATED when the pattern ends first.
 */
function skipRest(p: string, from: number, negated: boolean): number {
  const at = (i: number) => (i < p.length ? p.charCodeAt(i) : NUL);
  let i = from;
  for (;;) {
    const c = at(i++);
    if (c === CLOSE) break;
    if (c === NUL) return UNTERMINATED; // glibc: "[ unterminated, treat as normal character"
    if (c === BACKSLASH) {
      if (at(i) === NUL) return NO_MATCH;
      i++;
    } else if (c === OPEN && at(i) === COLON) {
      let length = 0;
      const colon = i;
      let j = i;
      for (;;) {
        j++;
        if (++length === CHAR_CLASS_MAX_LENGTH) return NO_MATCH;
        if (at(j) === COLON && at(j + 1) === CLOSE) break;
        const cc = at(j);
        if (cc < 0x61 || cc >= 0x7a) {
          j = colon - 2;
          break;
        }
      }
      i = j + 2;
    } else if (c === OPEN && at(i) === EQUALS) {
      if (at(i + 1) === NUL) return NO_MATCH;
      if (at(i + 2) !== EQUALS || at(i + 3) !== CLOSE) return NO_MATCH;
      i += 4;
    } else if (c === OPEN && at(i) === DOT) {
      let j = i;
      for (;;) {
        j++;
        if (at(j) === NUL) return NO_MATCH;
        if (at(j) === DOT && at(j + 1) === CLOSE) break;
      }
      i = j + 2;
    }
  }
  return negated ? NO_MATCH : i;
}

const between = (c: number, lo: number, hi: number) => c >= lo && c <= hi;
const isUpper = (c: number) => between(c, 0x41, 0x5a);
const isLower = (c: number) => between(c, 0x61, 0x7a);
const isDigit = (c: number) => between(c, 0x30, 0x39);
const isAlpha = (c: number) => isUpper(c) || isLower(c);
const isGraph = (c: number) => between(c, 0x21, 0x7e);

/** The C locale's character classes (bytes above 0x7f are in none). */
const CLASSES: Record<string, (c: number) => boolean> = {
  alnum: (c) => isAlpha(c) || isDigit(c),
  alpha: isAlpha,
  blank: (c) => c === 0x20 || c === 0x09,
  cntrl: (c) => c < 0x20 || c === 0x7f,
  digit: isDigit,
  graph: isGraph,
  lower: isLower,
  print: (c) => between(c, 0x20, 0x7e),
  punct: (c) => isGraph(c) && !isAlpha(c) && !isDigit(c),
  space: (c) => c === 0x20 || between(c, 0x09, 0x0d),
  upper: isUpper,
  xdigit: (c) => isDigit(c) || between(c, 0x41, 0x46) || between(c, 0x61, 0x66),
};

/**
 * A matcher for one pattern, compiled once. Most alias patterns are literals and `*` only
 * (`*dc*dsc*dp*ic*isc*ip*in*`): for those, matching the pieces leftmost with indexOf is the same
 * as fnmatch and runs in native code. Anything else goes through fnmatchBytes.
 */
export function compileMatcher(pattern: string): (text: string) => boolean {
  if (/[?[\\\0]/.test(pattern)) return (text) => fnmatchBytes(pattern, text);
  const pieces = pattern.split("*");
  if (pieces.length === 1) return (text) => text === pattern;
  const head = pieces[0] as string;
  const tail = pieces[pieces.length - 1] as string;
  const middle = pieces.slice(1, -1).filter((piece) => piece !== "");
  const fixed = head.length + tail.length;
  return (text) => {
    if (text.length < fixed || !text.startsWith(head) || !text.endsWith(tail)) return false;
    let at = head.length;
    const end = text.length - tail.length;
    for (const piece of middle) {
      const found = text.indexOf(piece, at);
      if (found < 0 || found + piece.length > end) return false;
      at = found + piece.length;
    }
    return true;
  };
}

// Exact questions about two fnmatch(3) patterns: is there a string both match (with one such
// string), and does every string one matches also match the other. Both are searches over
// the patterns' automata — a pattern of n elements is an NFA with states 0..n, where `*`
// loops on any byte — never sampling; every string returned is checked with fnmatch(). The
// searches charge their states to a Budget (limits.ts): deciding inclusion may need states
// exponential in the patterns' length (`*a??????…`).
import { fnmatch } from "../modules/fnmatch.ts";
import { CharSet, type Glob, type GlobElement } from "./glob.ts";
import { Budget, INCLUSION_STEPS, LIMITS } from "./limits.ts";

const ANY = CharSet.any();

function setOf(e: GlobElement): CharSet {
  return e.star ? ANY : e.chars;
}

/**
 * A necessary condition, cheap enough to run on every candidate pair: the elements before
 * either pattern's first `*` must pairwise share a character, and so must the elements after
 * either's last `*`. When both patterns hold a `*` it is also sufficient (see commonString).
 */
export function endsCompatible(a: Glob, b: Glob): boolean {
  // Without a `*`, a pattern has one length; the other must have it too, and then the elements
  // after the last `*` are the elements before the first.
  const starless = a.firstStar === a.elements.length && b.firstStar === b.elements.length;
  if (starless && a.elements.length !== b.elements.length) return false;
  if (a.simple && b.simple) return simpleMeet(a.pattern, b.pattern);
  const head = Math.min(a.firstStar, b.firstStar);
  for (let k = 0; k < head; k++) {
    const x = a.elements[k] as GlobElement;
    const y = b.elements[k] as GlobElement;
    // the same element (parseGlob shares a byte's) meets itself, unless its set is empty:
    // intersects and commonString see empty sets themselves
    if (x !== y && !meets(x, y)) return false;
  }
  if (starless) return true;
  const aTail = a.elements.length - a.afterLastStar;
  const bTail = b.elements.length - b.afterLastStar;
  for (let k = 1; k <= Math.min(aTail, bTail); k++) {
    const x = a.elements[a.elements.length - k] as GlobElement;
    const y = b.elements[b.elements.length - k] as GlobElement;
    if (x !== y && !meets(x, y)) return false;
  }
  return true;
}

/**
 * Two simple globs (Glob.simple) of one length meet byte by byte: the same byte, or a `?` on
 * either side (mdio's PHY ids: 32 bits as `0`, `1` and `?`, compared by the thousand).
 */
function simpleMeet(a: string, b: string): boolean {
  for (let k = 0; k < a.length; k++) {
    const x = a.charCodeAt(k);
    const y = b.charCodeAt(k);
    if (x !== y && x !== 0x3f && y !== 0x3f) return false;
  }
  return true;
}

/** Whether two elements accept a common byte (a `*` accepts every byte). */
function meets(x: GlobElement, y: GlobElement): boolean {
  return x.star || y.star || x.chars === y.chars || x.chars.meets(y.chars);
}

/** Whether some string matches both (commonString without building it when both hold a `*`). */
export function intersects(a: Glob, b: Glob, budget = new Budget()): boolean {
  if (a.firstStar < a.elements.length && b.firstStar < b.elements.length && !a.empty && !b.empty)
    return endsCompatible(a, b); // bothStarred's condition
  return commonString(a, b, budget) !== undefined;
}

/** A string both patterns match, or undefined when there is none. */
export function commonString(a: Glob, b: Glob, budget = new Budget()): string | undefined {
  if (!endsCompatible(a, b)) return undefined;
  const found =
    a.firstStar < a.elements.length && b.firstStar < b.elements.length
      ? bothStarred(a, b)
      : search(a, b, budget);
  if (found === undefined) return undefined;
  if (!fnmatch(a.pattern, found) || !fnmatch(b.pattern, found)) {
    throw new Error(`glob intersection: '${found}' does not match both ${a.pattern} and ${b.pattern}`);
  }
  return found;
}

/**
 * Both patterns hold a `*`: with compatible heads and tails, head + every middle element of a
 * + every middle element of b + tail is matched by both — each pattern's stars swallow the
 * other's middle. Empty sets (a trailing backslash, a bad class) match nothing.
 */
function bothStarred(a: Glob, b: Glob): string | undefined {
  const chars: number[] = [];
  const longer = a.firstStar >= b.firstStar ? a : b;
  const other = longer === a ? b : a;
  for (let k = 0; k < longer.firstStar; k++) {
    const set = setOf(longer.elements[k] as GlobElement);
    chars.push(k < other.firstStar ? pickCommon(set, setOf(other.elements[k] as GlobElement)) : set.pick());
  }
  const middle = (g: Glob, from: number) => {
    for (let k = from; k < g.afterLastStar; k++) {
      const e = g.elements[k] as GlobElement;
      if (!e.star) chars.push(e.chars.pick());
    }
  };
  middle(longer, longer.firstStar);
  middle(other, other.firstStar);
  const aTail = a.elements.length - a.afterLastStar;
  const bTail = b.elements.length - b.afterLastStar;
  const tailOwner = aTail >= bTail ? a : b;
  const tailOther = tailOwner === a ? b : a;
  const shortTail = Math.min(aTail, bTail);
  const ownerTail = tailOwner.elements.length - tailOwner.afterLastStar;
  for (let k = ownerTail; k >= 1; k--) {
    const set = setOf(tailOwner.elements[tailOwner.elements.length - k] as GlobElement);
    const otherSet =
      k <= shortTail ? setOf(tailOther.elements[tailOther.elements.length - k] as GlobElement) : ANY;
    chars.push(pickCommon(set, otherSet));
  }
  if (chars.includes(-1)) return undefined;
  return String.fromCharCode(...chars);
}

/**
 * What `x.intersect(y).pick()` answers, without a new set when one of them is the answer: the
 * same set (parseGlob shares one literal's), or ANY (it lacks only NUL, which pick never
 * answers), so that the shared set's pick, computed once, serves every example.
 */
function pickCommon(x: CharSet, y: CharSet): number {
  if (x === y || y === ANY) return x.pick();
  if (x === ANY) return y.pick();
  return x.intersect(y).pick();
}

/**
 * Breadth-first search of the product automaton: state (i, j) = elements of a and b consumed;
 * a `*` may be skipped (ε) or consume any byte; the shortest common string comes first.
 */
function search(a: Glob, b: Glob, budget: Budget): string | undefined {
  const n = a.elements.length;
  const m = b.elements.length;
  const width = m + 1;
  budget.charge((n + 1) * width); // the tables below are filled whole
  const previous = new Int32Array((n + 1) * width).fill(-2);
  const via = new Int16Array((n + 1) * width).fill(-1);
  const queue: number[] = [];
  const visit = (state: number, from: number, code: number) => {
    if (previous[state] !== -2) return;
    previous[state] = from;
    via[state] = code;
    queue.push(state);
  };
  visit(0, -1, -1);
  for (let head = 0; head < queue.length; head++) {
    const state = queue[head] as number;
    const i = Math.floor(state / width);
    const j = state % width;
    if (i === n && j === m) return spell(state, previous, via);
    const x = a.elements[i];
    const y = b.elements[j];
    if (x?.star) visit((i + 1) * width + j, state, -1);
    if (y?.star) visit(i * width + j + 1, state, -1);
    if (x === undefined || y === undefined || (x.star && y.star)) continue;
    const code = pickCommon(setOf(x), setOf(y));
    if (code < 0) continue;
    visit((x.star ? i : i + 1) * width + (y.star ? j : j + 1), state, code);
  }
  return undefined;
}

function spell(end: number, previous: Int32Array, via: Int16Array): string {
  const codes: number[] = [];
  for (let s = end; s >= 0; s = previous[s] as number)
    if ((via[s] as number) >= 0) codes.push(via[s] as number);
  return String.fromCharCode(...codes.reverse());
}

/** A pattern's automaton as bit masks over its positions 0..n (bit n: the end). */
interface Automaton {
  star: bigint;
  end: bigint;
  /** Per alphabet byte: the positions whose element accepts it. */
  accepts: bigint[];
}

function automaton(g: Glob, alphabet: number[]): Automaton {
  let star = 0n;
  const accepts = alphabet.map(() => 0n);
  g.elements.forEach((e, p) => {
    const bit = 1n << BigInt(p);
    if (e.star) star |= bit;
    else
      alphabet.forEach((code, k) => {
        if (e.chars.has(code)) accepts[k] = (accepts[k] as bigint) | bit;
      });
  });
  return { star, end: 1n << BigInt(g.elements.length), accepts };
}

/** A `*` may be skipped; stars never follow stars (parseGlob folds them), so one shift closes. */
const close = (a: Automaton, x: bigint) => x | ((x & a.star) << 1n);
/** One byte: a star stays, an element that accepts it moves on. */
const advance = (a: Automaton, x: bigint, k: number) =>
  close(a, ((x & (a.accepts[k] as bigint)) << 1n) | (x & a.star));

/**
 * A string `inner` matches and `outer` does not, or undefined when every string matching
 * `inner` matches `outer` (inner's language is inside outer's). Subset construction on both
 * automata (position sets as bit masks), over one byte from each class of bytes the patterns
 * cannot tell apart. At most LIMITS.automatonStates states (each holds two sets of the
 * patterns' positions), each charged to `budget` per byte tried.
 */
export function stringOnlyIn(inner: Glob, outer: Glob, budget = new Budget()): string | undefined {
  const alphabet = representatives([...inner.elements, ...outer.elements]);
  const a = automaton(inner, alphabet);
  const b = automaton(outer, alphabet);
  const shift = BigInt(outer.elements.length + 1);
  const startX = close(a, 1n);
  const startY = close(b, 1n);
  const seen = new Set<bigint>([(startX << shift) | startY]);
  // each state: its position sets, the state it was reached from and the byte that took it there
  const queue: { x: bigint; y: bigint; from: number; code: number }[] = [
    { x: startX, y: startY, from: -1, code: -1 },
  ];
  for (let head = 0; head < queue.length; head++) {
    const { x, y } = queue[head] as { x: bigint; y: bigint };
    if ((x & a.end) !== 0n && (y & b.end) === 0n) {
      const codes: number[] = [];
      for (let s = head; s > 0; s = (queue[s] as { from: number }).from)
        codes.push((queue[s] as { code: number }).code);
      const found = String.fromCharCode(...codes.reverse());
      if (!fnmatch(inner.pattern, found) || fnmatch(outer.pattern, found)) {
        throw new Error(
          `glob inclusion: '${found}' does not separate ${inner.pattern} from ${outer.pattern}`,
        );
      }
      return found;
    }
    budget.charge(alphabet.length * INCLUSION_STEPS);
    for (let k = 0; k < alphabet.length; k++) {
      const nx = advance(a, x, k);
      if (nx === 0n) continue;
      const ny = advance(b, y, k);
      const key = (nx << shift) | ny;
      if (seen.has(key)) continue;
      seen.add(key);
      if (queue.length === LIMITS.automatonStates) {
        budget.exceeded(
          `deciding whether '${outer.pattern}' contains '${inner.pattern}' needs more than ${LIMITS.automatonStates} automaton states (the limit)`,
        );
      }
      queue.push({ x: nx, y: ny, from: head, code: alphabet[k] as number });
    }
  }
  return undefined;
}

/**
 * One byte per class of bytes that every element treats alike, readable bytes preferred:
 * the classes are refined by each distinct set in turn.
 */
function representatives(elements: GlobElement[]): number[] {
  let classes: CharSet[] = [ANY];
  const seen = new Set<string>();
  for (const e of elements) {
    if (e.star) continue;
    const signature = e.chars.words.join(",");
    if (seen.has(signature)) continue;
    seen.add(signature);
    const next: CharSet[] = [];
    for (const cls of classes) {
      const inside = cls.intersect(e.chars);
      const outside = cls.minus(e.chars);
      if (!inside.isEmpty()) next.push(inside);
      if (!outside.isEmpty()) next.push(outside);
    }
    classes = next;
  }
  return classes.map((cls) => cls.pick());
}

/**
 * Every string `inner` matches, `outer` matches too. Decided without a search for the
 * shapes modules.alias is made of (no `*` in either; `outer` a prefix and a `*`; inner's
 * plainest string outside outer, tried before the alignment table as most pairs of a bus are
 * not inside each other; outer laid over inner), by stringOnlyIn's exact search otherwise.
 */
export function contains(outer: Glob, inner: Glob, budget = new Budget()): boolean {
  const o = outer.elements;
  const i = inner.elements;
  if (inner.empty) return true; // inner matches nothing
  const innerStarless = inner.firstStar === i.length;
  const outerStarless = outer.firstStar === o.length;
  if (outerStarless) {
    if (!innerStarless) return false;
    return o.length === i.length && o.every((e, k) => subset(i[k] as GlobElement, e));
  }
  // Where outer still wants one byte of a set and inner already has its first `*` (or has
  // ended), inner's strings can hold a byte outside that set there (or be too short): not
  // within. The same from the ends, after the last stars.
  if (inner.firstStar < outer.firstStar && !everyByte(o[inner.firstStar] as GlobElement)) return false;
  const innerTail = i.length - inner.afterLastStar;
  const outerTail = o.length - outer.afterLastStar;
  if (innerTail < outerTail && !everyByte(o[o.length - 1 - innerTail] as GlobElement)) return false;
  if (outer.firstStar === o.length - 1) {
    // `H*`: inner's strings all start with H iff its first |H| elements are single sets within H's
    const head = o.length - 1;
    if (inner.firstStar >= head) {
      for (let k = 0; k < head; k++) if (!subset(i[k] as GlobElement, o[k] as GlobElement)) return false;
      return true;
    }
  }
  if (plainWitness(inner, outer)) return false;
  if (aligned(o, i, budget)) return true;
  return stringOnlyIn(inner, outer, budget) === undefined;
}

/**
 * A sufficient condition for containment: outer's elements can be laid over inner's, each of
 * inner's sets inside the outer set over it and every run of inner (its stars included)
 * the outer stars do not cover swallowed by one outer star. Then any string inner matches,
 * split along inner's elements, is matched by outer. Dynamic programming over (outer, inner)
 * positions, between the ends where outer has no star: there each outer element can only lie
 * over the inner one in the same place (patterns of one bus share long literal heads, and the
 * cells of the whole table are most of the cost).
 */
function aligned(o: GlobElement[], i: GlobElement[], budget: Budget): boolean {
  let head = 0;
  while (head < o.length && head < i.length && lay(o[head] as GlobElement, i[head] as GlobElement)) head++;
  let tail = 0;
  while (
    tail < o.length - head &&
    tail < i.length - head &&
    lay(o[o.length - 1 - tail] as GlobElement, i[i.length - 1 - tail] as GlobElement)
  )
    tail++;
  const rows = o.length - tail;
  const columns = i.length - tail;
  const width = columns - head + 1;
  budget.charge((rows - head + 1) * width); // every cell is looked at
  const reach = new Uint8Array((rows - head + 1) * width);
  reach[0] = 1;
  for (let p = head; p <= rows; p++) {
    for (let q = head; q <= columns; q++) {
      const cell = (p - head) * width + q - head;
      if (reach[cell] === 0) continue;
      const x = p < rows ? o[p] : undefined;
      const y = q < columns ? i[q] : undefined;
      if (x?.star) {
        reach[cell + width] = 1; // the star matches nothing more
        if (y) reach[cell + 1] = 1; // the star swallows inner's element
      } else if (x && y && subset(y, x)) reach[cell + width + 1] = 1;
    }
  }
  return reach[(rows - head) * width + columns - head] === 1;
}

/** Outer's element `x` is no star and lies over inner's `y` (its set within x's). */
function lay(x: GlobElement, y: GlobElement): boolean {
  return !x.star && subset(y, x);
}

/**
 * A cheap sufficient condition for non-containment: inner's own plainest string (one member
 * of each set, its stars matching nothing) is not matched by outer.
 */
function plainWitness(inner: Glob, outer: Glob): boolean {
  const codes: number[] = [];
  for (const e of inner.elements) if (!e.star) codes.push(e.chars.pick());
  const plain = String.fromCharCode(...codes);
  return fnmatch(inner.pattern, plain) && !fnmatch(outer.pattern, plain);
}

/** An element that accepts every byte a string can hold (all but NUL). */
function everyByte(e: GlobElement): boolean {
  return e.star || ANY.within(e.chars);
}

function subset(inner: GlobElement, outer: GlobElement): boolean {
  if (outer.star) return true;
  if (inner.star) return false;
  return inner.chars === outer.chars || inner.chars.within(outer.chars);
}

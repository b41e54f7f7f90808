// How much the analysis commands let an input make them do. Their work grows faster than their
// input: every pair of patterns may overlap (n² pairs from n lines), deciding that one glob
// contains another may need automaton states exponential in its length (`*a` and k `?`: 2^k),
// a macro may expand to twice its body at every level. A hostile file of a few thousand lines
// ran for minutes into a RangeError or an exhausted heap (issue 15). Each bound is far above
// what the real inputs need (the figures are Debian's) and, when reached, overlaps ends with
// one line naming the input and the limit (exit 2: the input is refused, not half-analysed);
// aliases reports the table or file so, as any entry it cannot read, and reads the others.
import { InputError } from "../errors.ts";

export const LIMITS = {
  /**
   * Module pairs an overlaps report holds, listed or only counted: Debian 6.12's whole
   * modules.alias makes 15 708 (16 003 for 6.1), generic ones included.
   */
  modulePairs: 100_000,
  /** Pattern pairs an overlaps report holds (Debian 6.12's whole file, --json: 18 819). */
  patternPairs: 100_000,
  /**
   * Steps of comparison in one overlaps run: a candidate pair of patterns looked at is one, a
   * cell of an automaton search one, a state of an inclusion search INCLUSION_STEPS per byte
   * tried. Debian 6.12's whole file with --json takes 543 602 (6.1: 608 889; neither needs an
   * inclusion search). About 0.3 µs each: the limit is a few seconds.
   */
  steps: 10_000_000,
  /**
   * States of one search for a string one glob matches and another does not (each holds two
   * sets of the patterns' positions; `*a` and k `?` against `*[ab]` and k `?` needs 2^k).
   */
  automatonStates: 5_000,
  /** Glob relations remembered at once (a cache: emptied when full). */
  rememberedRelations: 100_000,
  /** Bytes of one alias pattern (a modalias is a sysfs attribute, at most a page; Debian's longest: 98). */
  patternBytes: 4096,
  /**
   * Tokens one expansion (a table, a file's tokens, an #if line) may make, each level of
   * rescanning counted: linux-source-6.12 with Debian's config makes at most 267 780.
   */
  expandedTokens: 2_000_000,
  /** Macro calls nested inside one another while expanding (linux-source-6.12: 12 at most). */
  macroDepth: 200,
  /** Brackets, unary operators and conditionals nested in one constant expression (linux-source-6.12: 7). */
  expressionDepth: 100,
  /** Bytes of one make variable's value, expanded, in the Kbuild walk (linux-source-6.12: 32 027). */
  makeValueBytes: 1_000_000,
  /** `$(…)` references and functions nested in one another (linux-source-6.12: 3). */
  makeNesting: 50,
} as const;

/** What a state of an inclusion search costs, per byte tried, in steps: about 20 times a pair's (bigint sets). */
export const INCLUSION_STEPS = 20;

/** A limit of LIMITS reached: the message names the input and the limit. */
export class LimitError extends InputError {
  constructor(message: string) {
    super(message);
    this.name = "LimitError";
  }
}

/**
 * The steps of comparison one run may take (LIMITS.steps), and the line being compared when
 * a limit is reached, for the message.
 */
export class Budget {
  used = 0;
  readonly limit: number;
  /** The line being compared (set by the caller as it goes). */
  at: { pattern: string; origin?: string } | undefined;
  constructor(limit: number = LIMITS.steps) {
    this.limit = limit;
  }
  /** Counts `n` steps: a LimitError past the limit. */
  charge(n: number): void {
    this.used += n;
    if (this.used > this.limit)
      this.exceeded(`comparing the patterns takes more than ${this.limit} steps (the limit)`);
  }
  /** Ends the run: `what` limit was reached at the line being compared. */
  exceeded(what: string): never {
    const where = this.at === undefined ? "" : `${this.at.origin ?? `'${this.at.pattern}'`}: `;
    throw new LimitError(`${where}${what}; compare fewer buses (--bus) or fewer files`);
  }
}

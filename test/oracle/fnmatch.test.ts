// src/modules/fnmatch.ts against glibc's own fnmatch(3), flags 0, C locale (fnmatch-ref): random
// patterns and texts from fast-check, and every real pattern of the Debian trees with texts made
// from it. All pairs of a run go to one fnmatch-ref process; when some disagree, fast-check
// shrinks the first of them to a smallest disagreement (a process per shrink step: only then).
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { fnmatch } from "../../src/modules/fnmatch.ts";
import { createRng, instantiate, nearMiss, readModulesTree } from "./generate.ts";
import { helper, oracleTree, runHelper, TREE_VERSIONS } from "./oracle.ts";

type Pair = [pattern: string, text: string];

/** glibc's answers for a batch: true (match), false (FNM_NOMATCH); an error value fails. */
function glibc(pairs: readonly Pair[]): boolean[] {
  const input = Buffer.from(pairs.map(([p, t]) => `${p}\0${t}\0`).join(""), "latin1");
  const answer = runHelper(helper("fnmatch-ref"), [], input).stdout.toString("latin1");
  assert.equal(answer.length, pairs.length + 1, "fnmatch-ref answered a different number of pairs");
  return [...answer.slice(0, -1)].map((c, i) => {
    if (c === "E") assert.fail(`glibc fnmatch returned an error for ${JSON.stringify(pairs[i])}`);
    return c === "1";
  });
}

/** The pairs on which flavourctl and glibc disagree. */
function disagreements(pairs: readonly Pair[]): { pair: Pair; glibc: boolean }[] {
  const reference = glibc(pairs);
  return pairs
    .map((pair, i) => ({ pair, glibc: reference[i] as boolean }))
    .filter(({ pair, glibc }) => fnmatch(pair[0], pair[1]) !== glibc);
}

// Pieces chosen where glibc's rules are subtle: sets and their closing bracket, negation,
// ranges (and dashes at their edges), escapes, classes (valid, unknown, unterminated),
// equivalence classes and collating symbols, `/` and `.` (ordinary with flags 0), bytes above
// 0x7f, the markers and hex digits of real modaliases.
const patternPiece = fc.constantFrom(
  ..."ab*?[]!^-\\/.:AZ09vdi_\xe9\x7f",
  "[a-c]",
  "[!a]",
  "[^b]",
  "[]a]",
  "[!]]",
  "[a-]",
  "[-a]",
  "[z-a]",
  "[\\]]",
  "[\\",
  "[a\\-c]",
  "[:alpha:]",
  "[[:digit:]]",
  "[[:upper:][:lower:]]",
  "[[:nope:]]",
  "[[:alpha:]",
  "[[:alpha]",
  "[[=a=]]",
  "[[.a.]]",
  "[[.a.]-c]",
  "[[.ab.]]",
  "[0-9A-F]",
  "**",
  "\\*",
  "\\[",
  "pci:v",
  "sv*sd*",
);
const textChar = fc.constantFrom(..."abcAZ09*?[]!^-\\/.:_ \xe9\x7f\x01");
// A third of the texts are random, a third are built from the pattern (so that many match), a
// third are such instances with one edit. Kept as raw tuples so that fast-check can shrink them.
const rawPair = fc.tuple(
  fc.array(patternPiece, { maxLength: 8 }),
  fc.array(textChar, { maxLength: 10 }),
  fc.constantFrom("random", "instance", "near miss"),
  fc.nat(),
);
type RawPair = typeof rawPair extends fc.Arbitrary<infer T> ? T : never;

function toPair([pieces, chars, kind, seed]: RawPair): Pair {
  const pattern = pieces.join("");
  if (kind === "random") return [pattern, chars.join("")];
  const rng = createRng(seed);
  const instance = instantiate(pattern, rng);
  return [pattern, kind === "instance" ? instance : nearMiss(instance, rng)];
}

const RANDOM_RUNS = 60_000;

test(`fnmatch equals glibc's on ${RANDOM_RUNS} random patterns and texts (fast-check)`, (t) => {
  const seed = Number(process.env.FLAVOURCTL_ORACLE_SEED ?? 20_260_000);
  const raw = fc.sample(rawPair, { numRuns: RANDOM_RUNS, seed });
  const pairs = raw.map(toPair);
  const wrong = disagreements(pairs);
  const matched = glibc(pairs).filter(Boolean).length;
  t.diagnostic(`${pairs.length} random pairs (glibc: ${matched} match), ${wrong.length} disagreements`);
  if (wrong.length > 0) {
    // Shrink from the first disagreement to a smallest one, asking glibc pair by pair.
    fc.assert(
      fc.property(rawPair, (sample) => {
        const [pattern, text] = toPair(sample);
        assert.equal(fnmatch(pattern, text), glibc([[pattern, text]])[0], JSON.stringify([pattern, text]));
      }),
      { seed, numRuns: 1, examples: [[raw[pairs.indexOf(wrong[0]?.pair as Pair)] as RawPair]] },
    );
  }
  assert.equal(wrong.length, 0);
  assert.ok(matched > RANDOM_RUNS / 10, `only ${matched} random pairs match: the generator is too weak`);
});

test("fnmatch equals glibc's on every real alias pattern of the Debian trees", (t) => {
  const rng = createRng(20_260_000);
  const pairs: Pair[] = [];
  const patterns = new Set<string>();
  for (const version of TREE_VERSIONS) {
    const tree = readModulesTree(oracleTree(version));
    for (const { pattern } of [...tree.aliases, ...tree.builtinAliases]) patterns.add(pattern);
  }
  for (const pattern of patterns) {
    const instance = instantiate(pattern, rng);
    pairs.push([pattern, instance], [pattern, nearMiss(instance, rng)], [pattern, pattern]);
  }
  const wrong = disagreements(pairs);
  const matched = glibc(pairs).filter(Boolean).length;
  t.diagnostic(
    `${patterns.size} distinct patterns, ${pairs.length} pairs (glibc: ${matched} match), ${wrong.length} disagreements`,
  );
  assert.deepEqual(wrong.slice(0, 10), []);
  assert.ok(matched > patterns.size, "the instances of real patterns should mostly match");
});

// The glob intersections overlaps stands on (src/analysis/glob-intersection.ts), checked against
// an oracle that shares none of its code: patterns split into elements here, each element's
// bytes asked of glibc's own fnmatch(3) (fnmatch-ref, one process per batch), the two patterns'
// product automaton searched here, and every string either side offers as common checked
// with glibc against both patterns. On the real pci, vfio_pci and usb patterns of Debian 6.12
// (pairs of one vendor, random pairs, and the same patterns with `*`s made into `?`, brackets
// or dropped, so that the automaton search runs, not only the both-starred shortcut), and on
// random small patterns, where glibc over every string up to 6 bytes decides intersection and
// inclusion by brute force too.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { parseGlob } from "../../src/analysis/glob.ts";
import { commonString, contains, intersects } from "../../src/analysis/glob-intersection.ts";
import { AliasFile } from "../../src/modules/alias-file.ts";
import { readRequiredText } from "../../src/modules/files.ts";
import { createRng, type Rng } from "../oracle/generate.ts";
import { helper, runHelper } from "../oracle/oracle.ts";

const repo = new URL("../..", import.meta.url).pathname;
const modules612 = join(repo, "test/fixtures/modules/6.12.117+deb12-amd64");

/** glibc's fnmatch(pattern, text, 0) for each pair, in one fnmatch-ref run. */
function glibc(pairs: readonly [string, string][]): boolean[] {
  const input = Buffer.from(pairs.map(([p, t]) => `${p}\0${t}\0`).join(""), "latin1");
  const answer = runHelper(helper("fnmatch-ref"), [], input).stdout.toString("latin1");
  assert.equal(answer.length, pairs.length + 1);
  return [...answer.slice(0, -1)].map((c, i) => {
    assert.notEqual(c, "E", `glibc fnmatch failed on ${JSON.stringify(pairs[i])}`);
    return c === "1";
  });
}

/**
 * A pattern's elements as text: `*` (runs of them are one), `\x`, a bracket expression, or one
 * byte. Brackets as glibc reads the simple ones (`!`/`^`, a first `]` that is a member, no
 * `[:class:]`); undefined for a pattern this splitter does not know (none of the real ones).
 */
function split(pattern: string): string[] | undefined {
  const out: string[] = [];
  for (let i = 0; i < pattern.length; ) {
    const c = pattern[i] as string;
    if (c === "*") {
      if (out[out.length - 1] !== "*") out.push("*");
      i++;
    } else if (c === "\\") {
      if (i + 1 >= pattern.length) return undefined;
      out.push(pattern.slice(i, i + 2));
      i += 2;
    } else if (c === "[") {
      let j = i + 1;
      if (pattern[j] === "!" || pattern[j] === "^") j++;
      j++; // the first member, even `]`
      while (j < pattern.length && pattern[j] !== "]") {
        if (pattern[j] === "[" || pattern[j] === "\\") return undefined;
        j++;
      }
      if (j >= pattern.length) return undefined;
      out.push(pattern.slice(i, j + 1));
      i = j + 1;
    } else {
      out.push(c);
      i++;
    }
  }
  return out;
}

/** Each element text's bytes (1..255), asked of glibc: fnmatch(element, byte). */
function elementSets(texts: Iterable<string>): Map<string, Uint8Array> {
  const distinct = [...new Set(texts)].filter((t) => t !== "*");
  const pairs: [string, string][] = [];
  for (const text of distinct) for (let b = 1; b < 256; b++) pairs.push([text, String.fromCharCode(b)]);
  const answers = glibc(pairs);
  const sets = new Map<string, Uint8Array>();
  distinct.forEach((text, k) => {
    const set = new Uint8Array(256);
    for (let b = 1; b < 256; b++) set[b] = answers[k * 255 + b - 1] ? 1 : 0;
    sets.set(text, set);
  });
  return sets;
}

/**
 * A string both element lists match, or undefined: breadth-first over (i, j), the elements
 * of each consumed; a `*` is left (no byte) or eats any byte and stays.
 */
function productWitness(a: string[], b: string[], sets: Map<string, Uint8Array>): string | undefined {
  const key = (i: number, j: number) => i * (b.length + 1) + j;
  const from = new Map<number, [number, number]>([[key(0, 0), [-1, -1]]]);
  const queue: [number, number][] = [[0, 0]];
  const step = (i: number, j: number, to: [number, number], byte: number) => {
    const k = key(to[0], to[1]);
    if (from.has(k)) return;
    from.set(k, [key(i, j), byte]);
    queue.push(to);
  };
  for (let head = 0; head < queue.length; head++) {
    const [i, j] = queue[head] as [number, number];
    if (i === a.length && j === b.length) {
      const bytes: number[] = [];
      for (let k = key(i, j); k !== key(0, 0); ) {
        const [previous, byte] = from.get(k) as [number, number];
        if (byte >= 0) bytes.push(byte);
        k = previous;
      }
      return String.fromCharCode(...bytes.reverse());
    }
    const x = a[i];
    const y = b[j];
    if (x === "*") step(i, j, [i + 1, j], -1);
    if (y === "*") step(i, j, [i, j + 1], -1);
    if (x === undefined || y === undefined) continue;
    // a byte both accept: the first common one (a `*` accepts every byte but NUL)
    const xs = x === "*" ? undefined : (sets.get(x) as Uint8Array);
    const ys = y === "*" ? undefined : (sets.get(y) as Uint8Array);
    let byte = -1;
    for (let c = 1; c < 256 && byte < 0; c++) if ((xs?.[c] ?? 1) === 1 && (ys?.[c] ?? 1) === 1) byte = c;
    if (byte < 0) continue;
    step(i, j, [x === "*" ? i : i + 1, y === "*" ? j : j + 1], byte);
  }
  return undefined;
}

interface Tally {
  pairs: number;
  meeting: number;
  differences: string[];
}

/**
 * The oracle's answer against glob-intersection's for every pair: intersects and commonString
 * agree with it, and each side's witness is matched by both patterns for glibc.
 */
function compare(pairs: [string, string][]): Tally {
  const splits = new Map<string, string[]>();
  for (const pattern of pairs.flat()) {
    const elements = split(pattern);
    assert.ok(elements, `the oracle cannot split ${pattern}`);
    splits.set(pattern, elements);
  }
  const sets = elementSets([...splits.values()].flat());
  const tally: Tally = { pairs: 0, meeting: 0, differences: [] };
  const witnesses: [string, string][] = [];
  const claims: string[] = [];
  for (const [p, q] of pairs) {
    const oracle = productWitness(splits.get(p) as string[], splits.get(q) as string[], sets);
    const [gp, gq] = [parseGlob(p), parseGlob(q)];
    const ours = commonString(gp, gq);
    tally.pairs++;
    if (oracle !== undefined) tally.meeting++;
    if ((oracle !== undefined) !== (ours !== undefined) || intersects(gp, gq) !== (oracle !== undefined)) {
      tally.differences.push(`${p} ∩ ${q}: oracle ${JSON.stringify(oracle)}, ours ${JSON.stringify(ours)}`);
    }
    for (const w of [oracle, ours]) {
      if (w === undefined) continue;
      witnesses.push([p, w], [q, w]);
      claims.push(`${p} ∩ ${q} ∋ ${JSON.stringify(w)}`);
    }
  }
  glibc(witnesses).forEach((matched, k) => {
    if (!matched) tally.differences.push(`glibc: not matched: ${claims[k >> 1]}`);
  });
  return tally;
}

/** Real patterns of Debian 6.12's modules.alias whose bus is one of `buses`. */
function realPatterns(buses: RegExp): string[] {
  const file = new AliasFile(readRequiredText(modules612, "modules.alias"));
  return [...new Set(file.all().map((l) => l.pattern))].filter((p) => buses.test(p));
}

/** A real pattern with some `*` made `?`, a hex digit, a bracket of them, or nothing. */
function mutated(pattern: string, rng: Rng): string {
  return pattern.replace(/\*/g, () =>
    rng.chance(0.5) ? "*" : rng.pick(["?", "", "[0-7]", "[!0]", "??", "0", "8", "[89A-F]", "F"]),
  );
}

/** Pairs of patterns of one vendor (their first `key` bytes), and random pairs. */
function pairsOf(patterns: string[], key: number, count: number, rng: Rng): [string, string][] {
  const byVendor = new Map<string, string[]>();
  for (const p of patterns) {
    const group = byVendor.get(p.slice(0, key)) ?? [];
    group.push(p);
    byVendor.set(p.slice(0, key), group);
  }
  const groups = [...byVendor.values()].filter((g) => g.length > 1);
  const pairs: [string, string][] = [];
  for (let k = 0; k < count; k++) {
    const group = k % 2 === 0 ? rng.pick(groups) : patterns;
    pairs.push([rng.pick(group), rng.pick(group)]);
  }
  return pairs;
}

test("glob intersection agrees with an independent product automaton over glibc's fnmatch on real patterns", (t) => {
  const rng = createRng(15);
  const pci = realPatterns(/^(vfio_)?pci:/);
  const usb = realPatterns(/^usb:/);
  assert.ok(pci.length > 9000 && usb.length > 4000, `${pci.length} pci, ${usb.length} usb patterns`);
  const mutatedPci = pci.map((p) => mutated(p, rng));
  const mutatedUsb = usb.map((p) => mutated(p, rng));
  const sets: [string, [string, string][]][] = [
    ["pci", pairsOf(pci, 13, 20_000, rng)],
    ["usb", pairsOf(usb, 9, 10_000, rng)],
    ["pci mutated", pairsOf([...pci, ...mutatedPci], 13, 20_000, rng)],
    ["usb mutated", pairsOf([...usb, ...mutatedUsb], 9, 10_000, rng)],
  ];
  for (const [name, pairs] of sets) {
    const tally = compare(pairs);
    t.diagnostic(
      `${name}: ${tally.pairs} pairs, ${tally.meeting} meeting, ${tally.differences.length} differences`,
    );
    assert.deepEqual(tally.differences.slice(0, 10), [], name);
    assert.ok(
      tally.meeting > tally.pairs / 20 && tally.meeting < tally.pairs,
      `${name}: ${tally.meeting} meeting`,
    );
  }
});

test("glob intersection and inclusion agree with glibc by brute force, and with the oracle, on random patterns", (t) => {
  const rng = createRng(1515);
  // over the bytes a, b, ] and * every element tells apart (a `c` would behave as the `*` byte)
  const vocabulary = ["a", "b", "*", "?", "[ab]", "[!a]", "[a-b]", "[]a]", "[!]]", "\\a", "\\*", "]"];
  const random = (max: number) =>
    Array.from({ length: rng.int(max + 1) }, () => rng.pick(vocabulary)).join("");
  // up to 3 elements each: a common string, or one only in the inner, has at most 6 bytes
  const small: [string, string][] = Array.from({ length: 800 }, () => [random(3), random(3)]);
  const universe = [""];
  for (let n = 1, frontier = [""]; n <= 6; n++) {
    frontier = frontier.flatMap((s) => ["a", "b", "]", "*"].map((c) => s + c));
    universe.push(...frontier);
  }
  const patterns = [...new Set(small.flat())];
  const answers = glibc(patterns.flatMap((p) => universe.map((s): [string, string] => [p, s])));
  const matches = new Map(
    patterns.map((p, k) => [p, answers.slice(k * universe.length, (k + 1) * universe.length)]),
  );
  const differences: string[] = [];
  for (const [p, q] of small) {
    const [mp, mq] = [matches.get(p) as boolean[], matches.get(q) as boolean[]];
    const meet = mp.some((m, k) => m && mq[k]);
    const inside = mq.every((m, k) => !m || mp[k]);
    if (intersects(parseGlob(p), parseGlob(q)) !== meet) differences.push(`${p} ∩ ${q}: glibc says ${meet}`);
    if (contains(parseGlob(p), parseGlob(q)) !== inside)
      differences.push(`${q} ⊆ ${p}: glibc says ${inside}`);
  }
  t.diagnostic(
    `brute force: ${small.length} pairs, ${universe.length} strings each, ${differences.length} differences`,
  );
  assert.deepEqual(differences.slice(0, 10), []);
  // longer ones against the oracle alone
  const longer: [string, string][] = Array.from({ length: 5000 }, () => [random(8), random(8)]);
  const tally = compare([...small, ...longer]);
  t.diagnostic(
    `oracle: ${tally.pairs} pairs, ${tally.meeting} meeting, ${tally.differences.length} differences`,
  );
  assert.deepEqual(tally.differences.slice(0, 10), []);
});
